"""A fleet's plan(): the three parts over 200 emulated workspaces in 10 tenants, 20 ms per request, sync and async.

Each face runs in a fresh interpreter (its own peak RSS). Printed beside each: the ideal, max(total requests x
latency / concurrency, the longest chain of dependent requests of one workspace x latency); target at most 1.5x
the ideal, and peak RSS under 400 MB. The workspaces hold no sample rows (``dataset=False``). The emulator's one
query engine runs one query at a time (~30-50 ms of CPU each), so the three parts (one query per workspace) are
also measured beside incidents and alerts alone (ARM reads only), which shows the SDK's own fan-out.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime

from ._measure import child, peak_rss_mib

WORKSPACES, TENANTS, LATENCY, CONCURRENCY = 200, 10, 0.020, 16
RATIO_TARGET, RSS_TARGET_MB = 1.5, 400.0
NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)


def _emulator(workspaces: int) -> object:
    from m365sentinel.emulator import Emulator

    return Emulator(now=NOW, dataset=False, workspaces=workspaces, tenants=min(TENANTS, workspaces), latency=LATENCY)


def _desired(fleet: object, parts: str) -> object:
    """``three``: the three parts (one Log Analytics query per workspace); ``arm``: incidents and alerts only (ARM
    reads only: the SDK's fan-out without the emulator's query engine, which runs one query at a time)."""
    fleet = fleet.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True)  # type: ignore[attr-defined]
    if parts == "arm":
        return fleet
    return fleet.entities().events("DeviceEvents", "DeviceProcessEvents", retention_days=180)  # type: ignore[attr-defined]


def run(face: str, parts: str) -> dict[str, float]:
    """One plan() over the fleet on ``face``: seconds, requests, the chain of one workspace, peak RSS."""
    from m365sentinel import Fleet, Session, aio

    emu = _emulator(WORKSPACES)
    ids = emu.workspace_resource_ids  # type: ignore[attr-defined]
    started = time.perf_counter()
    if face == "sync":
        with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time) as s:  # type: ignore[attr-defined]
            report = _desired(Fleet(ids, session=s, concurrency=CONCURRENCY), parts).plan()  # type: ignore[attr-defined]
    else:

        async def main() -> object:
            async with aio.Session(
                credential=emu.async_credential(), transport=emu.async_transport(), clock=emu.time  # type: ignore[attr-defined]
            ) as s:
                return await _desired(aio.Fleet(ids, session=s, concurrency=CONCURRENCY), parts).plan()  # type: ignore[attr-defined]

        report = asyncio.run(main())
    seconds = time.perf_counter() - started
    assert report.exit_code == 3 and not report.failed, report  # type: ignore[attr-defined]
    total = len(emu.requests)  # type: ignore[attr-defined]
    one = _emulator(2)  # the chain: one workspace's requests, all dependent (each flow sends one at a time)
    with Session(credential=one.credential(), transport=one.transport(), clock=one.time) as s:  # type: ignore[attr-defined]
        _desired(Fleet(one.workspace_resource_ids[1:], session=s), parts).plan()  # type: ignore[attr-defined]
    chain = len(one.requests)  # type: ignore[attr-defined]
    return {"seconds": seconds, "requests": total, "chain": chain, "rss_mb": peak_rss_mib()}


def main() -> None:
    for parts, face in (("three", "sync"), ("three", "async"), ("arm", "sync"), ("arm", "async")):
        r = child("bench.fleet", face, parts)
        ideal = max(r["requests"] * LATENCY / CONCURRENCY, r["chain"] * LATENCY)
        ratio = r["seconds"] / ideal
        ok = ratio <= RATIO_TARGET and r["rss_mb"] < RSS_TARGET_MB
        print(
            f"[{face:>5}, {parts:>5}] plan() over {WORKSPACES} workspaces / {TENANTS} tenants, "
            f"{LATENCY * 1000:.0f} ms a request, "
            f"concurrency {CONCURRENCY}: {r['seconds']:.2f} s; ideal {ideal:.2f} s ({r['requests']:.0f} requests, "
            f"chain {r['chain']:.0f}) -> {ratio:.2f}x (target <= {RATIO_TARGET}x); peak RSS {r['rss_mb']:.0f} MB "
            f"(target < {RSS_TARGET_MB:.0f}) {'PASS' if ok else 'FAIL'}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(json.dumps(run(sys.argv[1], sys.argv[2])))
    else:
        main()
