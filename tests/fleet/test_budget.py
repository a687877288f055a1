"""One request budget per principal across a fleet, end to end on the emulator, both faces."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from m365sentinel import Fleet, FleetReport, RateLimitedError, RetryPolicy, Session, aio
from m365sentinel.emulator import Emulator

NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)


def _run(face: str, emu: Emulator, operation: str, sleep: Callable[[float], None], **options: Any) -> FleetReport:
    """``operation`` over every workspace of ``emu`` on ``face``; ``options``: the Session's and the Fleet's."""
    retry, concurrency = options.get("retry"), options.get("concurrency", 1)
    ids = emu.workspace_resource_ids
    if face == "sync":
        with Session(
            credential=emu.credential(), transport=emu.transport(), clock=emu.time, sleep=sleep, retry=retry
        ) as session:
            fleet = Fleet(ids, session=session, concurrency=concurrency).incidents_and_alerts()
            return fleet.run(operation, days=1)

    async def main() -> FleetReport:
        async with aio.Session(
            credential=emu.async_credential(), transport=emu.async_transport(), clock=emu.time, sleep=sleep, retry=retry
        ) as session:
            fleet = aio.Fleet(ids, session=session, concurrency=concurrency).incidents_and_alerts()
            return await fleet.run(operation, days=1)

    return asyncio.run(main())


@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_429_on_one_workspace_pauses_the_principals_arm_requests_on_the_next(face: str) -> None:
    emu = Emulator(now=NOW, dataset=False, workspaces=2, tenants=1)
    first = emu.workspace_resource_ids[0].rsplit("/", 1)[1]
    emu.faults.add(f"GET */workspaces/{first}", 429, {"Retry-After": "7"})
    sleeps: list[float] = []
    report = _run(face, emu, "status", sleeps.append, retry=RetryPolicy(max_attempts=1))
    assert isinstance(report.results[0].error, RateLimitedError)  # not retried (one attempt), yet remembered:
    assert report.results[1].ok and sleeps == [7.0]  # the second workspace waited the advised 7 s first
    emu.close()


@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_fleet_at_concurrency_16_never_trips_the_query_limits(face: str) -> None:
    """16 workspaces (64 queries) keep the suite lean; bench/fleet_budget.py runs 40 at concurrency 32."""
    emu = Emulator(now=NOW, dataset=False, workspaces=16, tenants=4, latency=0.002)
    limits = emu.faults.query_limits()  # the service's 5 concurrent / 200 per 30 s per user, answered with 429
    report = _run(face, emu, "verify", lambda s: emu.advance(timedelta(seconds=s)), concurrency=16)
    queries = [r for r in emu.requests if r.path.endswith("/query")]
    assert (len(report.failed), len(queries)) == (0, 64)
    assert (limits.refused, limits.peak) == (0, 5)  # five at once, never six; no 429
    emu.close()
