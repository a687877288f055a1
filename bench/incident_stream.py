"""Benchmark: listing 100,000 incidents (pages of 1,000) from the loopback emulator into typed incidents.

Run: ``python -m bench.incident_stream [--incidents 100000] [--page 1000] [--small 1000] [--repeat 5]``.

One emulator (a real loopback HTTP server in this process) holds the backlog. Each measurement runs in a fresh
client interpreter over the same pages and the same transport (httpx over loopback HTTP), and reads, per
incident, the fields a handler touches: id, title, severity, status, owner, created/modified times, labels,
number and provider.

- floor: a hand-written ``httpx.Client`` + ``json.loads`` loop over the pages (the SDK's first URL, then each
  nextLink as given), reading those fields from the decoded dicts;
- sdk: ``Connector.incidents()`` iterated to typed ``StreamedIncident``/``Incident`` objects with every
  reliability check of the stream on (filter bounds, order, dedupe, checkpoint positions), reading the same
  fields from the typed models. Defaults, so the next page is prefetched in a thread while a page is handled;
- sdk-serial: the same with ``.prefetch(False)``: pages fetched one after the other, as the floor does;
- sdk-async: the same as sdk through ``m365sentinel.aio`` (``async for``; the same flows driven by
  ``httpx.AsyncClient``).

Figures are medians of ``--repeat`` fresh interpreters per mode, interleaved, printed beside the floor measured in
the same run. Wall-clock time is the target's measure (the service's time is part of both); CPU time of the client
process is printed too. Peak RSS (``VmHWM``) is measured for ``--small`` incidents and for all of them: flat means
the difference is small. Targets: time <= 1.2x the floor (issue 17); sdk-async time <= 1.2x sdk's (issue 12);
memory growth under 30 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench._measure import child, interleaved, peak_rss_mib, verdict


class _Token:
    """A credential for the out-of-process emulator (it accepts well-formed emulator tokens when not strict)."""

    def get_token(self, *scopes: str, **kw: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("emu-management.azure.com-bench", 4_102_444_800)


class _AsyncToken:
    """``_Token`` for the async face (an ``azure.identity.aio``-shaped credential)."""

    async def get_token(self, *scopes, **kw):  # type: ignore[no-untyped-def]
        return _Token().get_token(*scopes, **kw)


def _first_state() -> Any:
    from m365sentinel._incidents._checkpoint import Checkpoint, PassState

    return PassState.begin(Checkpoint(), datetime.now(UTC), timedelta(minutes=5))


def _floor(client: Any, first: str, limit: int) -> int:
    count = 0
    link: str | None = first
    while link:
        page = json.loads(client.get(link).content)
        for inc in page["value"]:
            p = inc["properties"]
            owner = p.get("owner") or {}
            _ = (inc["name"], p["title"], p["severity"], p["status"], owner.get("assignedTo"))
            _ = (p["createdTimeUtc"], p["lastModifiedTimeUtc"], p["incidentNumber"], p["providerName"])
            _ = [label["labelName"] for label in p["labels"]]
            count += 1
            if count == limit:
                return count
        link = page.get("nextLink")
    return count


def _touch(item: Any) -> None:
    inc = item.incident
    owner = inc.owner
    _ = (item.id, inc.title, inc.severity, inc.status, owner.assigned_to if owner is not None else None)
    _ = (inc.created_time_utc, inc.last_modified_time_utc, inc.incident_number, inc.provider_name)
    _ = [label.label_name for label in inc.labels]


def _sdk(stream: Any) -> int:
    count = 0
    for item in stream:
        _touch(item)
        count += 1
    return count


async def _sdk_async(stream: Any, connector: Any) -> int:
    count = 0
    async for item in stream:
        _touch(item)
        count += 1
    await connector.close()
    return count


def _client(mode: str, url: str, workspace: str, limit: int) -> dict[str, float]:
    import httpx

    from m365sentinel import Connector, aio
    from m365sentinel._transport import Cloud

    cloud = Cloud.custom(arm=url, log_analytics=url, graph=url)
    connector: Connector | aio.Connector
    if mode == "sdk-async":
        connector = aio.Connector(workspace, credential=_AsyncToken(), cloud=cloud)
    else:
        connector = Connector(workspace, credential=_Token(), cloud=cloud)
    stream = connector.incidents().clock(lambda: datetime.now(UTC)).page(1000)
    if limit:
        stream = stream.max_items(limit)
    if mode == "sdk-serial":
        stream = stream.prefetch(False)
    first = stream.list_spec(_first_state()).url
    with httpx.Client(headers={"Authorization": "Bearer emu-management.azure.com-bench"}) as client:
        started, cpu = time.perf_counter(), time.process_time()
        if mode == "floor":
            count = _floor(client, first, limit)
        elif mode == "sdk-async":
            count = asyncio.run(_sdk_async(stream, connector))
        else:
            count = _sdk(stream)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if not isinstance(connector, aio.Connector):
        connector.close()
    return {"seconds": seconds, "cpu": cpu, "count": count, "peak_mib": peak_rss_mib()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="IncidentStream vs a plain httpx + json loop")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--client", choices=("floor", "sdk", "sdk-serial", "sdk-async"))
    parser.add_argument("--url")
    parser.add_argument("--ws")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)
    if args.client:
        print(json.dumps(_client(args.client, args.url, args.ws, args.limit)))
        return 0

    from m365sentinel.emulator import Emulator

    emu = Emulator(now=datetime(2026, 3, 2, 9, tzinfo=UTC), dataset=False, strict_tokens=False)
    t0 = time.perf_counter()
    emu.incident_control().create_incidents(args.incidents)
    print(
        f"emulator: {args.incidents:,} incidents created in {time.perf_counter() - t0:.1f} s; pages of {args.page}; "
        f"median of {args.repeat} fresh clients per mode, interleaved"
    )
    with emu.serve() as server:

        def run(mode: str) -> dict[str, float]:
            name, limit = mode.split(":")
            cmd = ["--client", name, "--url", server.url, "--ws", emu.workspace_resource_id, "--limit", limit]
            return child("bench.incident_stream", *cmd)

        modes = [f"floor:{args.small}", f"sdk:{args.small}", "floor:0", "sdk:0", "sdk-serial:0", "sdk-async:0"]
        results = interleaved(modes, args.repeat, run)
    emu.close()
    for mode, r in results.items():
        n = int(r["count"])
        print(
            f"{mode.split(':')[0]:10} {n:>7} incidents: {r['seconds']:7.2f} s (CPU {r['cpu']:6.2f} s)  "
            f"{n / r['seconds']:>9,.0f}/s  peak RSS {r['peak_mib']:6.1f} MiB"
        )
    floor, sdk = results["floor:0"], results["sdk:0"]
    ok = verdict("sdk time", sdk["seconds"], floor["seconds"], 1.2)
    ok = verdict("sdk-serial time", results["sdk-serial:0"]["seconds"], floor["seconds"], 1.2) and ok
    ok = verdict("sdk-async time beside sdk's", results["sdk-async:0"]["seconds"], sdk["seconds"], 1.2) and ok
    print(f"  (client CPU time: sdk {sdk['cpu'] / floor['cpu']:.2f}x the floor's; information)")
    grow = sdk["peak_mib"] - results[f"sdk:{args.small}"]["peak_mib"]
    grow_floor = floor["peak_mib"] - results[f"floor:{args.small}"]["peak_mib"]
    flat = grow < 30
    print(
        f"  memory growth {args.small:,} -> {args.incidents:,} incidents: sdk {grow:+.1f} MiB, floor "
        f"{grow_floor:+.1f} MiB (target < 30 MiB): {'met' if flat else 'NOT met'}"
    )
    return 0 if ok and flat else 1


if __name__ == "__main__":
    raise SystemExit(main())
