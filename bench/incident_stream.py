"""Benchmark: listing 100,000 incidents (pages of 1,000) from the loopback emulator into typed incidents.

Run: ``python -m bench.incident_stream [--incidents 100000] [--page 1000] [--small 1000] [--repeat 5] [--tls]``;
the independent harness's shape (issue 17) is ``--incidents 20000 --tls``.

One emulator (a real loopback server in this process; with ``--tls`` HTTPS with a throwaway certificate made at run
time, which each client trusts through its own SSL settings) holds the backlog. Each measurement runs in a fresh
client interpreter over the same pages, and reads, per incident, the fields a handler touches: id, title, severity,
status, owner, created/modified times, labels, number and provider.

- floor: a hand-written ``httpx.Client`` + ``json.loads`` loop over the pages (the SDK's first URL, then each
  nextLink as given), reading those fields from the decoded dicts;
- sdk: ``Connector.incidents()`` iterated to typed ``StreamedIncident``/``Incident`` objects with every
  reliability check of the stream on (filter bounds, order, dedupe, checkpoint positions), reading the same
  fields from the typed models. Defaults, so the next page is prefetched in a thread while a page is handled;
- sdk-serial: the same with ``.prefetch(False)``: pages fetched one after the other, as the floor does;
- sdk-async: the same as sdk through ``m365sentinel.aio`` (``async for``; the same flows driven by
  ``httpx.AsyncClient``).

Timed region, alike for every client: from BEFORE its ``Connector`` / ``httpx.Client`` is created (its SSL context
included) to the last incident read, so the fixed costs of a run count on both sides: the SDK's modules loaded on
first use, converters generated on first use, its first token, any request before the listing. Outside it: the
interpreter's start, ``import httpx`` / ``import m365sentinel`` (``python -m bench.import_time`` measures those) and
creating the credential (the user's object). The floor's interpreter never loads an SDK module; its first URL comes
from the parent. m365sentinel's bytecode is written first (``compile_package``), as a pip install does.

Figures are medians of ``--repeat`` fresh interpreters per mode, interleaved, printed beside the floor measured in
the same run. Wall-clock time is the target's measure (the service's time is part of both); CPU time of the client
process is printed too. Peak RSS (``VmHWM``) is measured for ``--small`` incidents and for all of them: flat means
the difference is small; the small runs also show the fixed cost per run (sdk minus floor). Targets: time <= 1.2x
the floor (issue 17, with the default prefetch; sdk-serial is printed for information); sdk-async time <= 1.2x
sdk's (issue 12); memory growth at most 12 MiB beyond the floor's own (the record of delivered changes, ~63 B a
change, is all a pass keeps per incident: 6 MiB per 100,000).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench._measure import child, compile_package, interleaved, loopback_tls, peak_rss_mib, verdict


class _Token:
    """A credential for the out-of-process emulator (it accepts well-formed emulator tokens when not strict).

    Made before the timed region, as a user's credential is (its azure-core import included)."""

    def __init__(self) -> None:
        from azure.core.credentials import AccessToken

        self._token = AccessToken("emu-management.azure.com-bench", 4_102_444_800)

    def get_token(self, *scopes: str, **kw: Any) -> Any:
        return self._token


class _AsyncToken(_Token):
    """``_Token`` for the async face (an ``azure.identity.aio``-shaped credential)."""

    async def get_token(self, *scopes, **kw):  # type: ignore[no-untyped-def]
        return self._token


def _first_url(url: str, workspace: str, page: int, ca: str | None) -> str:
    """The stream's first listing URL (its filter and order), made in the parent: the floor never loads the SDK."""
    from m365sentinel import Connector
    from m365sentinel._incidents._checkpoint import Checkpoint, PassState
    from m365sentinel._transport import Cloud

    state = PassState.begin(Checkpoint(), datetime.now(UTC), timedelta(minutes=5))
    with Connector(workspace, credential=_Token(), cloud=Cloud.custom(arm=url, log_analytics=url, graph=url)) as c:
        first: str = _stream(c, page, 0).list_spec(state).url
    return first


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


async def _sdk_async(connector: Any, page: int) -> int:
    count = 0
    async with connector:
        async for item in _stream(connector, page, 0):
            _touch(item)
            count += 1
    return count


def _client(mode: str, url: str, workspace: str, first: str, page: int, limit: int, ca: str | None) -> dict[str, float]:
    import ssl

    import httpx

    if mode == "floor":
        started, cpu = time.perf_counter(), time.process_time()
        verify: Any = True if ca is None else ssl.create_default_context(cafile=ca)
        with httpx.Client(verify=verify, headers={"Authorization": "Bearer emu-management.azure.com-bench"}) as client:
            count = _floor(client, first, limit)
        return _figures(started, cpu, count)

    from m365sentinel import Cloud, Connector

    cloud = Cloud.custom(arm=url, log_analytics=url, graph=url)
    if mode == "sdk-async":
        from m365sentinel import aio  # the async face's import (it loads the incidents modules): outside, as others

        credential: Any = _AsyncToken()
        started, cpu = time.perf_counter(), time.process_time()
        transport: Any = None if ca is None else httpx.AsyncHTTPTransport(verify=ssl.create_default_context(cafile=ca))
        connector = aio.Connector(workspace, credential=credential, cloud=cloud, transport=transport)
        count = asyncio.run(_sdk_async(connector, page))
        return _figures(started, cpu, count)
    credential = _Token()
    started, cpu = time.perf_counter(), time.process_time()
    transport = None if ca is None else httpx.HTTPTransport(verify=ssl.create_default_context(cafile=ca))
    with Connector(workspace, credential=credential, cloud=cloud, transport=transport) as connector:
        count = _sdk(_stream(connector, page, limit, prefetch=mode != "sdk-serial"))
    return _figures(started, cpu, count)


def _stream(connector: Any, page: int, limit: int, *, prefetch: bool = True) -> Any:
    stream = connector.incidents().clock(lambda: datetime.now(UTC)).page(page)
    if limit:
        stream = stream.max_items(limit)
    return stream if prefetch else stream.prefetch(False)


def _figures(started: float, cpu: float, count: int) -> dict[str, float]:
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "count": count, "peak_mib": peak_rss_mib()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="IncidentStream vs a plain httpx + json loop")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tls", action="store_true", help="serve over loopback HTTPS (a throwaway certificate)")
    parser.add_argument("--client", choices=("floor", "sdk", "sdk-serial", "sdk-async"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--ws", help=argparse.SUPPRESS)
    parser.add_argument("--first", help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        result = _client(args.client, args.url, args.ws, args.first, args.page, args.limit, args.ca)
        print(json.dumps(result))
        return 0

    from m365sentinel.emulator import Emulator

    compile_package()
    emu = Emulator(now=datetime(2026, 3, 2, 9, tzinfo=UTC), dataset=False, strict_tokens=False)
    t0 = time.perf_counter()
    emu.incident_control().create_incidents(args.incidents)
    scheme = "HTTPS (a throwaway certificate)" if args.tls else "HTTP"
    print(
        f"emulator: {args.incidents:,} incidents created in {time.perf_counter() - t0:.1f} s; pages of {args.page}; "
        f"loopback {scheme}; median of {args.repeat} fresh clients per mode, interleaved\n"
        "timed: from before the client (Connector / httpx.Client, its SSL context included) is created to the last "
        "incident read; imports and the credential are outside"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tls, ca = loopback_tls(tmp) if args.tls else (None, None)
        with emu.serve(tls=tls) as server:
            first = _first_url(server.url, emu.workspace_resource_id, args.page, ca)

            def run(mode: str) -> dict[str, float]:
                name, limit = mode.split(":")
                cmd = ["--client", name, "--url", server.url, "--ws", emu.workspace_resource_id, "--first", first]
                cmd += ["--page", str(args.page), "--limit", limit, *(["--ca", ca] if ca else [])]
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
    serial = results["sdk-serial:0"]["seconds"] / floor["seconds"]
    print(f"  (sdk-serial time: {serial:.2f}x the floor's; information: without prefetch the service's time and the")
    print("   client's add up: the floor's plus the client's typed parsing and checks)")
    ok = verdict("sdk-async time beside sdk's", results["sdk-async:0"]["seconds"], sdk["seconds"], 1.2) and ok
    print(f"  (client CPU time: sdk {sdk['cpu'] / floor['cpu']:.2f}x the floor's; information)")
    small_sdk, small_floor = results[f"sdk:{args.small}"]["seconds"], results[f"floor:{args.small}"]["seconds"]
    fixed = small_sdk - small_floor
    print(f"  (fixed cost per run, from the {args.small:,}-incident runs: sdk {fixed:+.3f} s beside the floor)")
    grow = sdk["peak_mib"] - results[f"sdk:{args.small}"]["peak_mib"]
    grow_floor = floor["peak_mib"] - results[f"floor:{args.small}"]["peak_mib"]
    # Flat: beyond what the floor's own loop grows, only the pass's record of delivered changes (~63 B a change).
    flat = grow - grow_floor <= 12
    print(
        f"  memory growth {args.small:,} -> {args.incidents:,} incidents: sdk {grow:+.1f} MiB, floor "
        f"{grow_floor:+.1f} MiB: {grow - grow_floor:+.1f} MiB beside the floor (target <= 12 MiB): "
        f"{'met' if flat else 'NOT met'}"
    )
    return 0 if ok and flat else 1


if __name__ == "__main__":
    raise SystemExit(main())
