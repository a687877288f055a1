"""A fleet incident pass: 40 emulated workspaces in 8 tenants, 60 incidents each in pages of 20, 20 ms per request,
sync and async, each item committed to its workspace's store (and without commits). Printed beside each: the
latency ideal, max(total requests x latency / concurrency, the longest chain of one workspace's requests x
latency), and the same workspaces read one stream after another (what a caller looping over connectors gets).
Target: the merged pass at most 1/4 of the sequential one. The rest above the ideal is CPU: the emulator building
and the SDK parsing each incident, and a commit per item (checkpoint built and stored, as on one stream), on a
shared 2-core machine. ``python -m bench.fleet_incidents``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

WORKSPACES, TENANTS, INCIDENTS, PAGE, LATENCY, CONCURRENCY = 40, 8, 60, 20, 0.020, 16
SPEED_UP_TARGET = 4.0
NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)


def _emulator() -> Any:
    from m365sentinel.emulator import Emulator

    emu = Emulator(now=NOW, dataset=False, workspaces=WORKSPACES, tenants=TENANTS, latency=LATENCY)
    for ws in emu.workspace_resource_ids:
        emu.workspace_state(ws).page_size = PAGE
        emu.workspace_incident_control(ws).create_incidents(INCIDENTS)
    return emu


def run(face: str, commit: bool = True) -> dict[str, float]:
    from m365sentinel import Fleet, MemoryCheckpointStore, Session, aio

    emu = _emulator()
    ids = emu.workspace_resource_ids
    stores = {ws: MemoryCheckpointStore() for ws in ids}
    before = len(emu.requests)
    started = time.perf_counter()
    if face == "sync":
        with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time) as s:
            stream = Fleet(ids, session=s, concurrency=CONCURRENCY).incidents().since(stores).page(PAGE)
            with stream.run() as run:
                for item in run:
                    if commit:
                        item.commit()
                delivered = sum(run.delivered.values())
    else:

        async def main() -> int:
            async with aio.Session(
                credential=emu.async_credential(), transport=emu.async_transport(), clock=emu.time
            ) as s:
                stream = aio.Fleet(ids, session=s, concurrency=CONCURRENCY).incidents().since(stores).page(PAGE)
                run = stream.run()
                async for item in run:
                    if commit:
                        item.commit()
                return sum(run.delivered.values())

        delivered = asyncio.run(main())
    seconds = time.perf_counter() - started
    requests = len(emu.requests) - before
    emu.close()
    assert delivered == WORKSPACES * INCIDENTS, delivered
    chain = requests / WORKSPACES  # each workspace's requests depend on the one before (nextLink)
    ideal = max(requests * LATENCY / CONCURRENCY, chain * LATENCY)
    return {"seconds": seconds, "requests": requests, "ideal": ideal, "items": delivered}


def sequential() -> float:
    """The same workspaces' streams one after another (sync, no commits)."""
    from m365sentinel import Session

    emu = _emulator()
    started = time.perf_counter()
    with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time) as s:
        n = sum(1 for ws in emu.workspace_resource_ids for _ in s.connector(ws).incidents().page(PAGE))
    seconds = time.perf_counter() - started
    emu.close()
    assert n == WORKSPACES * INCIDENTS, n
    return seconds


def main() -> None:
    base = sequential()
    print(f"one stream after another (sync, no commits): {base:.2f} s")
    for face in ("sync", "async"):
        for commit in (False, True):
            r = run(face, commit)
            speed_up = base / r["seconds"]
            print(
                f"fleet incidents {face:5} {'commit per item' if commit else 'no commits     '}: {r['items']:.0f} "
                f"items, {r['requests']:.0f} requests in {r['seconds']:.2f} s; latency ideal {r['ideal']:.2f} s; "
                f"{speed_up:.1f}x faster than one after another"
                + (
                    ""
                    if commit
                    else f" (target >= {SPEED_UP_TARGET:.0f}x: {'OK' if speed_up >= SPEED_UP_TARGET else 'MISSED'})"
                )
            )


if __name__ == "__main__":
    main()
