"""A fleet's plan(): the three parts over 200 emulated workspaces in 10 tenants, 20 ms per request, sync and async.

Each run is a fresh interpreter (its own peak RSS); every figure is the median of three runs, the modes interleaved
round by round. Printed beside each: the ideal, max(total requests x latency / concurrency, the longest chain of
dependent requests of one workspace x latency); target at most 1.5x the ideal, and peak RSS under 400 MB. The
workspaces hold no sample rows (``dataset=False``). Measured on the in-process transport (the target) and over the
served loopback emulator (``Emulator.serve()``, the same process: its HTTP server's threads share the interpreter);
the three parts (one Log Analytics query per workspace) beside incidents and alerts alone (ARM reads only), which
shows the SDK's own fan-out. ``python -m bench.fleet --quick``: one run per mode.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ._measure import child, interleaved, peak_rss_mib

WORKSPACES, TENANTS, LATENCY, CONCURRENCY = 200, 10, 0.020, 16
RATIO_TARGET, RSS_TARGET_MB = 1.5, 400.0
NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)
MODES = tuple(
    f"{face}/{parts}/{where}"
    for where in ("inproc", "served")
    for parts in ("three", "arm")
    for face in ("sync", "async")
)


def _emulator(workspaces: int, *, served: bool = False) -> Any:
    from m365sentinel.emulator import Emulator

    return Emulator(
        now=NOW,
        dataset=False,
        workspaces=workspaces,
        tenants=min(TENANTS, workspaces),
        latency=LATENCY,
        strict_tokens=not served,  # served: the custom endpoints' audiences, as `emulator serve` does
    )


def _desired(fleet: Any, parts: str) -> Any:
    """``three``: the three parts (one Log Analytics query per workspace); ``arm``: incidents and alerts only (ARM
    reads only: the SDK's fan-out without the emulator's query engine)."""
    fleet = fleet.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True)
    if parts == "arm":
        return fleet
    return fleet.entities().events("DeviceEvents", "DeviceProcessEvents", retention_days=180)


@contextmanager
def _session_args(emu: Any, face: str, where: str) -> Iterator[dict[str, Any]]:
    """Session arguments for the in-process transport, or for the emulator served on a loopback port."""
    credential = emu.credential() if face == "sync" else emu.async_credential()
    if where == "inproc":
        transport = emu.transport() if face == "sync" else emu.async_transport()
        yield {"credential": credential, "transport": transport, "clock": emu.time}
        return
    from m365sentinel import Cloud

    with emu.serve() as server:
        server.start()
        cloud = Cloud.custom(arm=server.url, log_analytics=server.url, graph=server.url)
        yield {"credential": credential, "cloud": cloud, "clock": emu.time}


def run(mode: str) -> dict[str, float]:
    """One plan() over the fleet in ``mode`` (face/parts/where): seconds, requests, one workspace's chain, RSS."""
    from m365sentinel import Fleet, Session, aio

    face, parts, where = mode.split("/")
    emu = _emulator(WORKSPACES, served=where == "served")
    ids = emu.workspace_resource_ids
    with _session_args(emu, face, where) as args:
        started = time.perf_counter()
        if face == "sync":
            with Session(**args) as s:
                report = _desired(Fleet(ids, session=s, concurrency=CONCURRENCY), parts).plan()
        else:

            async def main() -> Any:
                async with aio.Session(**args) as s:
                    return await _desired(aio.Fleet(ids, session=s, concurrency=CONCURRENCY), parts).plan()

            report = asyncio.run(main())
        seconds = time.perf_counter() - started
    assert report.exit_code == 3 and not report.failed, report
    total = len(emu.requests)
    one = _emulator(2)  # the chain: one workspace's requests, all dependent (each flow sends one at a time)
    with Session(credential=one.credential(), transport=one.transport(), clock=one.time) as s:
        _desired(Fleet(one.workspace_resource_ids[1:], session=s), parts).plan()
    chain = len(one.requests)
    return {"seconds": seconds, "requests": total, "chain": chain, "rss_mb": peak_rss_mib()}


def main(repeat: int) -> None:
    figures = interleaved(MODES, repeat, lambda mode: child("bench.fleet", mode))
    for mode, r in figures.items():
        ideal = max(r["requests"] * LATENCY / CONCURRENCY, r["chain"] * LATENCY)
        ratio = r["seconds"] / ideal
        ok = ratio <= RATIO_TARGET and r["rss_mb"] < RSS_TARGET_MB
        print(
            f"[{mode:>18}] plan() over {WORKSPACES} workspaces / {TENANTS} tenants, {LATENCY * 1000:.0f} ms a "
            f"request, concurrency {CONCURRENCY}: {r['seconds']:.2f} s (median of {repeat}); ideal {ideal:.2f} s "
            f"({r['requests']:.0f} requests, chain {r['chain']:.0f}) -> {ratio:.2f}x (target <= {RATIO_TARGET}x); "
            f"peak RSS {r['rss_mb']:.0f} MB (target < {RSS_TARGET_MB:.0f}) {'PASS' if ok else 'FAIL'}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] != "--quick":
        print(json.dumps(run(sys.argv[1])))
    else:
        main(1 if sys.argv[1:] == ["--quick"] else 3)
