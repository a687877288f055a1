"""The Log Analytics query limits per principal, enforced when switched on (``emu.faults.query_limits()``).

The service allows a user 5 concurrent queries and 200 queries per 30 s (learn.microsoft.com, "Log Analytics API:
query limits"); beyond them it answers 429. Off by default, so tests that do not ask for it see no 429. The principal
is read from the request's token (``TokenStore.principal_of``: the credential's user and the tenant it asked for).
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from m365sentinel.emulator._http import EmuRequest, EmuResponse, json_response

__all__ = ["QueryLimits"]


def _is_query(req: EmuRequest) -> bool:
    low = req.path.lower().rstrip("/")
    return low.startswith("/v1/workspaces/") and low.endswith("/query")


class QueryLimits:
    """``concurrency`` queries in flight and ``per_window`` started within ``window`` seconds (emulator time) per
    principal; ``refused`` counts the 429s answered, ``peak`` the most queries one principal had in flight."""

    def __init__(self, principal_of: Callable[[str | None], str | None], now: Callable[[], datetime]) -> None:
        self._principal_of = principal_of
        self._now = now
        self._lock = threading.Lock()
        self.configure(enabled=False)

    def configure(self, *, enabled: bool, concurrency: int = 5, per_window: int = 200, window: float = 30.0) -> None:
        """Set the limits (``Faults.query_limits`` checks them) and start counting afresh."""
        with self._lock:
            self.enabled: bool = enabled
            self.concurrency: int = concurrency
            self.per_window: int = per_window
            self.window: float = window  # seconds of emulator time
            self.refused: int = 0
            self.peak: int = 0
            self._running: dict[str, int] = defaultdict(int)
            self._started: dict[str, deque[float]] = defaultdict(deque)

    @contextmanager
    def admit(self, req: EmuRequest) -> Iterator[EmuResponse | None]:
        """Around one request (its latency included): yields the 429 to answer instead, or None to handle it."""
        principal = _is_query(req) and self.enabled and self._principal_of(req.headers.get("authorization"))
        if not principal:
            yield None
            return
        refused = self._enter(principal)
        try:
            yield refused
        finally:
            if refused is None:
                with self._lock:
                    self._running[principal] -= 1

    def _enter(self, principal: str) -> EmuResponse | None:
        now = self._now().timestamp()
        with self._lock:
            started = self._started[principal]
            while started and started[0] <= now - self.window:
                started.popleft()
            if self._running[principal] >= self.concurrency:
                wait, why = 1, f"more than {self.concurrency} concurrent queries"
            elif len(started) >= self.per_window:
                wait = max(1, int(started[0] + self.window - now + 0.999))
                why = f"more than {self.per_window} queries per {self.window:g} s"
            else:
                started.append(now)
                self._running[principal] += 1
                self.peak = max(self.peak, self._running[principal])
                return None
            self.refused += 1
        body = {"error": {"code": "ThrottledError", "message": f"Too many requests: {why} for this user."}}
        return json_response(429, body, {"Retry-After": str(wait)})
