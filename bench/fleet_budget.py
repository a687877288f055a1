"""The request budget per principal: verify() over 40 emulated workspaces at concurrency 32 with the emulator
enforcing the Log Analytics limits (5 concurrent / 200 per 30 s per user), sync and async. Target: no 429 (refused
0) and the 5 slots used (peak 5). The session sleeps on the emulator's clock, so a window wait costs no real time."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

WORKSPACES, CONCURRENCY, LATENCY = 40, 32, 0.002
NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)


def run(face: str) -> tuple[float, int, int, int]:
    """Seconds, queries sent, 429s answered, peak queries in flight."""
    from m365sentinel import Fleet, Session, aio
    from m365sentinel.emulator import Emulator

    emu = Emulator(now=NOW, dataset=False, workspaces=WORKSPACES, tenants=4, latency=LATENCY)
    limits = emu.faults.query_limits()
    ids = emu.workspace_resource_ids

    def sleep(seconds: float) -> None:
        emu.advance(timedelta(seconds=seconds))

    started = time.perf_counter()
    if face == "sync":
        with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time, sleep=sleep) as s:
            report = Fleet(ids, session=s, concurrency=CONCURRENCY).incidents_and_alerts().verify(days=1)
    else:

        async def main() -> object:
            async with aio.Session(
                credential=emu.async_credential(), transport=emu.async_transport(), clock=emu.time, sleep=sleep
            ) as s:
                return await aio.Fleet(ids, session=s, concurrency=CONCURRENCY).incidents_and_alerts().verify(days=1)

        report = asyncio.run(main())
    seconds = time.perf_counter() - started
    assert not report.failed, report  # type: ignore[attr-defined]
    queries = sum(1 for r in emu.requests if r.path.endswith("/query"))
    emu.close()
    return seconds, queries, limits.refused, limits.peak


def main() -> None:
    for face in ("sync", "async"):
        seconds, queries, refused, peak = run(face)
        ok = refused == 0 and peak == 5
        print(
            f"[{face:>5}] verify() over {WORKSPACES} workspaces at concurrency {CONCURRENCY}: {queries} queries in "
            f"{seconds:.2f} s; 429s {refused} (target 0), peak in flight {peak} (target 5) {'PASS' if ok else 'FAIL'}"
        )


if __name__ == "__main__":
    main()
