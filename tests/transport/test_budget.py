"""The request budget per principal (``_budget``, pure) and its two shells (``_gates``), with injected clocks."""

from __future__ import annotations

import asyncio

import httpx

from m365sentinel._transport import Audience
from m365sentinel._transport._budget import Budget, BudgetLimits
from m365sentinel._transport._gates import AsyncGate, Gate

LA, ARM = Audience.LOG_ANALYTICS, Audience.ARM


def test_five_queries_in_flight_then_a_release_lets_the_sixth_go() -> None:
    b = Budget()
    assert [b.acquire(LA, 0.0) for _ in range(6)] == [0.0] * 5 + [None]
    assert b.acquire(ARM, 0.0) == 0.0  # ARM is not held back by queries
    b.release(LA, 1.0)
    assert (b.acquire(LA, 1.0), b.running) == (0.0, 5)


def test_200_queries_per_30_s_counted_from_their_completion() -> None:
    b = Budget()
    for _ in range(200):
        assert b.acquire(LA, 0.0) == 0.0
        b.release(LA, 10.0)
    assert b.acquire(LA, 20.0) == 20.0  # the first completion (at 10 s) leaves the window at 40 s
    assert b.acquire(LA, 39.5) == 0.5
    assert b.acquire(LA, 40.0) == 0.0


def test_a_429_with_retry_after_pauses_that_audience_until_waited_out() -> None:
    b = Budget()
    b.release(ARM, 100.0, 429, {"Retry-After": "7"})
    assert (b.acquire(ARM, 101.0), b.acquire(LA, 101.0)) == (6.0, 0.0)
    assert b.acquire(ARM, 107.0) == 0.0
    assert b.acquire(ARM, 101.0) == 0.0  # waited out once: the pause is over (a clock that stands still too)


def test_an_empty_arm_bucket_pauses_arm_for_a_second() -> None:
    b = Budget(BudgetLimits(empty_bucket_pause=1.0))
    b.release(ARM, 5.0, 200, {"x-ms-ratelimit-remaining-subscription-reads": "0"})
    assert b.acquire(ARM, 5.25) == 0.75
    b2 = Budget()
    b2.release(ARM, 5.0, 200, {"x-ms-ratelimit-remaining-subscription-reads": "11999", "x-ms-ratelimit-x": "n/a"})
    assert b2.acquire(ARM, 5.0) == 0.0


def _throttled() -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": "7"})


def test_gate_pauses_the_throttled_principal_only() -> None:
    sleeps: list[float] = []
    gate = Gate(lambda: 1000.0, sleeps.append)
    gate.enter("p1", ARM)
    gate.leave("p1", ARM, _throttled())
    gate.enter("p2", ARM)  # another principal: not paused
    gate.leave("p2", ARM, None)
    assert sleeps == []
    gate.enter("p1", ARM)
    gate.leave("p1", ARM, httpx.Response(200))
    assert sleeps == [7.0]


def test_async_gate_pauses_the_throttled_principal_and_wakes_slot_waiters() -> None:
    sleeps: list[float] = []

    async def main() -> list[str]:
        gate = AsyncGate(lambda: 1000.0, sleeps.append)
        await gate.enter("p1", ARM)
        gate.leave("p1", ARM, _throttled())
        await gate.enter("p2", ARM)
        await gate.enter("p1", ARM)
        order: list[str] = []
        for _ in range(5):
            await gate.enter("p1", LA)

        async def sixth() -> None:
            await gate.enter("p1", LA)
            order.append("sixth")

        task = asyncio.create_task(sixth())
        await asyncio.sleep(0)
        order.append("release")
        gate.leave("p1", LA, httpx.Response(200))
        await task
        return order

    assert asyncio.run(main()) == ["release", "sixth"]
    assert sleeps == [7.0]
