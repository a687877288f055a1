"""Benchmark: streaming 100,000 incidents (pages of 1,000) from the loopback emulator into typed incidents.

Run: ``python -m bench.incident_stream [--incidents 100000] [--page 1000] [--small 1000] [--repeat 2]``.

One emulator (a real loopback HTTP server in this process) holds the backlog. Each measurement runs in a fresh
client interpreter (``ru_maxrss`` is per process) over the same pages:

- floor: a plain ``httpx.Client`` + ``json.loads`` loop over the pages (same first URL, each nextLink as given);
- sdk: ``Connector.incidents()`` iterated to typed ``StreamedIncident``/``Incident`` objects (checkpointing on);
- sdk-async: the same through ``m365sentinel.aio`` (``async for``; the same flows driven by ``httpx.AsyncClient``).

Memory (peak RSS, VmHWM) is measured twice per mode, for ``--small`` incidents and for all of them: flat means
the difference is small (target under 30 MB). Time targets: sdk at most 1.5x the floor (best runs); sdk-async
at most 1.2x sdk (medians of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime


class _Token:
    """A credential for the out-of-process emulator (it accepts well-formed emulator tokens when not strict)."""

    def get_token(self, *scopes, **kw):  # type: ignore[no-untyped-def]
        from azure.core.credentials import AccessToken

        return AccessToken("emu-management.azure.com-bench", 4_102_444_800)


class _AsyncToken:
    """``_Token`` for the async face (an ``azure.identity.aio``-shaped credential)."""

    async def get_token(self, *scopes, **kw):  # type: ignore[no-untyped-def]
        return _Token().get_token(*scopes, **kw)


def _client(mode: str, url: str, workspace: str, limit: int) -> dict[str, float]:
    import httpx

    from m365sentinel import Connector, aio
    from m365sentinel._transport import Cloud

    cloud = Cloud.custom(arm=url, log_analytics=url, graph=url)
    if mode == "sdk-async":
        connector: Connector | aio.Connector = aio.Connector(workspace, credential=_AsyncToken(), cloud=cloud)
    else:
        connector = Connector(workspace, credential=_Token(), cloud=cloud)
    stream = connector.incidents().clock(lambda: datetime.now(UTC)).page(1000)
    if limit:
        stream = stream.max_items(limit)
    first = stream.list_spec(_first_state()).url
    started = time.perf_counter()
    count = 0
    if mode == "floor":
        with httpx.Client(headers={"Authorization": "Bearer emu-management.azure.com-bench"}) as client:
            link: str | None = first
            while link:
                page = json.loads(client.get(link).content)
                for _item in page["value"]:
                    count += 1
                    if limit and count >= limit:
                        break
                link = page.get("nextLink") if not (limit and count >= limit) else None
    elif mode == "sdk-async":

        async def consume() -> int:
            n = 0
            async for item in stream:  # type: ignore[union-attr]
                n += 1 if item.incident.name else 0
            await connector.close()  # type: ignore[misc]
            return n

        count = asyncio.run(consume())
    else:
        for item in stream:  # type: ignore[union-attr]
            count += 1 if item.incident.name else 0
    seconds = time.perf_counter() - started
    if mode != "sdk-async":
        connector.close()
    return {"seconds": seconds, "count": count, "maxrss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    # VmHWM is reset by exec (a new address space); ru_maxrss is not on Linux, so a child forked from the big
    # emulator process would report the parent's peak.
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _first_state():  # type: ignore[no-untyped-def]
    from m365sentinel._incidents._checkpoint import Checkpoint, PassState

    return PassState.begin(Checkpoint(), datetime.now(UTC), __import__("datetime").timedelta(minutes=5))


def _measure(mode: str, url: str, workspace: str, limit: int) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.incident_stream",
            "--client",
            mode,
            "--url",
            url,
            "--ws",
            workspace,
            "--limit",
            str(limit),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="IncidentStream vs a plain httpx + json loop")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--client", choices=("floor", "sdk", "sdk-async"))
    parser.add_argument("--url")
    parser.add_argument("--ws")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)
    if args.client:
        print(json.dumps(_client(args.client, args.url, args.ws, args.limit)))
        return

    from m365sentinel.emulator import Emulator

    emu = Emulator(now=datetime(2026, 3, 2, 9, tzinfo=UTC), dataset=False, strict_tokens=False)
    t0 = time.perf_counter()
    emu.incident_control().create_incidents(args.incidents)
    print(f"emulator: {args.incidents} incidents created in {time.perf_counter() - t0:.1f} s; pages of {args.page}")
    results: dict[tuple[str, int], dict[str, float]] = {}
    with emu.serve() as server:
        for limit in (args.small, 0):
            modes = ("floor", "sdk", "sdk-async")
            # Interleaved (floor, sdk, sdk-async, floor, ...): a load change on the machine hits every mode alike.
            rounds = [
                [_measure(m, server.url, emu.workspace_resource_id, limit) for m in modes] for _ in range(args.repeat)
            ]
            for i, mode in enumerate(modes):
                runs = [r[i] for r in rounds]
                best = min(runs, key=lambda r: r["seconds"])
                best["maxrss_mb"] = max(r["maxrss_mb"] for r in runs)
                best["median"] = statistics.median(r["seconds"] for r in runs)
                results[(mode, limit)] = best
                n = int(best["count"])
                print(
                    f"{mode:9} {n:>7} incidents: {best['seconds']:7.2f} s (median {best['median']:.2f} s)  "
                    f"{n / best['seconds']:>9,.0f}/s  peak RSS {best['maxrss_mb']:6.1f} MB"
                )
    emu.close()
    floor, sdk = results[("floor", 0)], results[("sdk", 0)]
    ratio = sdk["seconds"] / floor["seconds"]
    flat = sdk["maxrss_mb"] - results[("sdk", args.small)]["maxrss_mb"]
    flat_floor = floor["maxrss_mb"] - results[("floor", args.small)]["maxrss_mb"]
    print(f"time ratio sdk/floor: {ratio:.2f}x (target <= 1.5x)")
    face_ratio = results[("sdk-async", 0)]["median"] / sdk["median"]
    print(f"time ratio sdk-async/sdk (medians of {args.repeat}): {face_ratio:.2f}x (target <= 1.2x)")
    print(
        f"memory growth {args.small} -> {args.incidents} incidents: sdk {flat:+.1f} MB, floor {flat_floor:+.1f} MB "
        "(target < 30 MB)"
    )


if __name__ == "__main__":
    main()
