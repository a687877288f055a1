"""The thin shells that wait on ``_budget.Budget``: ``Gate`` for threads, ``AsyncGate`` for asyncio tasks.

A client holds one gate, shared by its credential twins (``with_credential``), so every workspace of a fleet and
every connector of a session draw from their principal's one budget. A principal is ``(id(credential), tenant)``:
the client keeps its credentials alive, so an id is not reused while it matters.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING

import httpx

from ._budget import Budget, BudgetLimits
from ._clouds import Audience

if TYPE_CHECKING:
    import asyncio

__all__ = ["AsyncGate", "Gate"]


def _response_fields(response: httpx.Response | None) -> tuple[int | None, httpx.Headers | None]:
    return (None, None) if response is None else (response.status_code, response.headers)


class Gate:
    """Threads wait here for their principal's budget (``clock``/``sleep``: the client's, injectable)."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._clock, self._sleep = clock, sleep
        self._changed = threading.Condition()
        self._budgets: dict[Hashable, Budget] = {}
        self.limits = BudgetLimits()

    def enter(self, principal: Hashable, audience: Audience, earliest: float = 0.0) -> None:
        """Return once ``principal``'s budget lets an exchange of ``audience`` go (then ``leave`` it).
        ``earliest``: POSIX seconds the caller has already waited until (its retry's sleep), so that a wait ends
        even under an injected sleep that does not move the clock."""
        while True:
            with self._changed:
                budget = self._budgets.setdefault(principal, Budget(self.limits))
                now = max(self._clock(), earliest)
                wait = budget.acquire(audience, now)
                if wait is None:  # every query slot taken: a release wakes us
                    self._changed.wait()
                    continue
                if wait <= 0:
                    return
                earliest = now + wait
            self._sleep(wait)

    def leave(self, principal: Hashable, audience: Audience, response: httpx.Response | None) -> None:
        """After the exchange ``enter`` let go; ``response`` None when none came."""
        with self._changed:
            self._budgets[principal].release(audience, self._clock(), *_response_fields(response))
            self._changed.notify_all()


class AsyncGate:
    """``Gate`` for asyncio tasks of one event loop (``sleep`` may return an awaitable)."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None] | None]) -> None:
        self._clock, self._sleep = clock, sleep
        self._released: asyncio.Future[None] | None = None  # what tasks waiting for a query slot await
        self._budgets: dict[Hashable, Budget] = {}
        self.limits = BudgetLimits()

    async def enter(self, principal: Hashable, audience: Audience, earliest: float = 0.0) -> None:
        """``Gate.enter``, awaited."""
        while True:
            budget = self._budgets.setdefault(principal, Budget(self.limits))
            now = max(self._clock(), earliest)
            wait = budget.acquire(audience, now)
            if wait is None:  # every query slot taken: a release wakes us (one loop: no wake-up can be missed)
                import asyncio  # here, not at the top: the sync face never needs it (~9 ms of `import m365sentinel`)

                if self._released is None:
                    self._released = asyncio.get_running_loop().create_future()
                await asyncio.shield(self._released)
                continue
            if wait <= 0:
                return
            earliest = now + wait
            waited = self._sleep(wait)
            if inspect.isawaitable(waited):
                await waited

    def leave(self, principal: Hashable, audience: Audience, response: httpx.Response | None) -> None:
        """``Gate.leave`` (nothing to await: one event loop)."""
        self._budgets[principal].release(audience, self._clock(), *_response_fields(response))
        released, self._released = self._released, None
        if released is not None:
            released.set_result(None)
