"""One principal's request budget (pure: no clock, no lock, no sleeping; the shells in ``_gates`` drive it).

A principal is a credential and the tenant its tokens are asked for. Every workspace of a fleet and every connector
of a session that sign as the same principal draw from one budget:

* Log Analytics queries: at most ``query_concurrency`` (5) in flight and ``queries_per_window`` (200) per ``window``
  (30 s) per user, the documented limits (learn.microsoft.com, "Log Analytics API: query limits"). A query counts
  in the window from its *completion*, not its start: the service sees it somewhere in between, so counting from
  the later end keeps any 30 s of arrivals at the service within the limit, whatever the transit time.
* Throttling: a 429 with ``Retry-After`` pauses the principal's requests of that audience (ARM throttles per
  principal and subscription, not per request) until the advised time; an ARM response whose
  ``x-ms-ratelimit-remaining-*`` header says 0 pauses ARM for ``empty_bucket_pause`` (ARM's token buckets refill
  10-25 requests a second, so one second is enough for the next ones).

``acquire`` says go (``0.0``), wait that many seconds and ask again, or ``None``: every query slot is taken, ask
again after a ``release``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import attrs

from ._clouds import Audience
from ._retry import retry_after_seconds

__all__ = ["Budget", "BudgetLimits"]

_REMAINING = "x-ms-ratelimit-remaining-"


@attrs.frozen
class BudgetLimits:
    """The limits one principal's ``Budget`` keeps (defaults: the documented Log Analytics limits)."""

    query_concurrency: int = 5
    queries_per_window: int = 200
    window: float = 30.0  # seconds
    empty_bucket_pause: float = 1.0  # seconds


DEFAULT_LIMITS = BudgetLimits()


class Budget:
    """One principal's budget: ``acquire(audience, now)`` before each HTTP exchange, ``release`` after it (with
    the response, if one came). ``now``: POSIX seconds of the caller's clock."""

    def __init__(self, limits: BudgetLimits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._running = 0  # queries in flight
        self._finished: deque[float] = deque()  # completion times of the queries still inside the window
        self._paused_until: dict[Audience, float] = {}

    @property
    def running(self) -> int:
        """Queries in flight."""
        return self._running

    def acquire(self, audience: Audience, now: float) -> float | None:
        """``0.0``: go (a query took a slot: ``release`` it); seconds > 0: wait, then ask again; ``None``: every
        query slot is taken, ask again after a ``release``."""
        until = self._paused_until.get(audience)
        if until is not None:
            if until > now:
                return until - now
            del self._paused_until[audience]  # waited out (also under an injected clock that stands still)
        if audience is not Audience.LOG_ANALYTICS:
            return 0.0
        limits = self._limits
        while self._finished and self._finished[0] <= now - limits.window:
            self._finished.popleft()
        if self._running >= limits.query_concurrency:
            return None
        if self._running + len(self._finished) >= limits.queries_per_window:
            return self._finished[0] + limits.window - now if self._finished else None
        self._running += 1
        return 0.0

    def release(
        self, audience: Audience, now: float, status: int | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        """After an exchange ``acquire`` let go (``status``/``headers``: its response; None when none came)."""
        if audience is Audience.LOG_ANALYTICS:
            self._running -= 1
            self._finished.append(now)
        if headers is None:
            return
        pause = retry_after_seconds(headers, now) if status == 429 else None
        if pause is None and audience is Audience.ARM and _bucket_empty(headers):
            pause = self._limits.empty_bucket_pause
        if pause:
            self._paused_until[audience] = max(self._paused_until.get(audience, 0.0), now + pause)


def _bucket_empty(headers: Mapping[str, str]) -> bool:
    for name, value in headers.items():
        if name.lower().startswith(_REMAINING):
            try:
                if float(value) <= 0:
                    return True
            except ValueError:
                continue
    return False
