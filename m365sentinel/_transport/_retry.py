"""Retry decisions (pure; both clients use them through ``_flow.request_flow``) and the retry policy value.

What is retried: 429, 500, 502, 503, 504, connection errors and timeouts; for GET/PUT/DELETE/PATCH/HEAD
always, for POST only when the request is a read (``retry_post``). Never other 4xx (400, 401, 403, 404,
409, 412...): the single token refresh on 401 is the auth layer's job (case B6), not this policy's.
A ``Retry-After`` beyond the policy's ceiling is not waited for: the caller gets RateLimitedError carrying
the advised wait (case F1).
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._errors import InvalidInputError

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "RetryDecision",
    "RetryPolicy",
    "decide_retry",
    "retry_after_seconds",
    "should_retry",
    "should_retry_transport",
]

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "PATCH"})
# Millisecond headers first (more precise), then the standard one (seconds or HTTP-date).
_MS_HEADERS = ("retry-after-ms", "x-ms-retry-after-ms")


def _bounded(name: str, minimum: float, maximum: float, *, integer: bool = False) -> Callable[..., None]:
    """A finite number in ``[minimum, maximum]`` (an int when ``integer``): an infinite or huge value would retry
    or wait forever, a NaN compares false with everything."""

    def check(_inst: Any, _attr: attrs.Attribute[Any], value: Any) -> None:
        kinds = int if integer else int | float
        if (
            isinstance(value, bool)
            or not isinstance(value, kinds)
            or not math.isfinite(value)
            or not minimum <= value <= maximum
        ):
            kind = "an integer" if integer else "a finite number"
            raise InvalidInputError(f"RetryPolicy.{name} must be {kind} from {minimum:g} to {maximum:g}, got {value!r}")

    return check


@attrs.frozen
class RetryPolicy:
    """How hard to retry.

    - ``max_attempts``: total attempts per logical request, first one included (1 = no retries).
    - ``max_retry_after``: longest advised ``Retry-After`` (seconds) the client will wait; longer raises
      RateLimitedError(retry_after=advised) at once.
    - ``backoff_initial``, ``backoff_max``, ``jitter``: exponential backoff in seconds when the service
      advises no wait: ``min(backoff_max, backoff_initial * 2**(n-1) + uniform(0, jitter))``.

    Bounds (InvalidInputError otherwise, at construction): ``max_attempts`` an integer 1..100;
    ``max_retry_after`` and ``backoff_max`` 0..3600 s; ``backoff_initial`` and ``jitter`` 0..600 s; all finite.
    """

    max_attempts: int = attrs.field(default=4, validator=_bounded("max_attempts", 1, 100, integer=True))
    max_retry_after: float = attrs.field(default=60.0, validator=_bounded("max_retry_after", 0, 3600))
    backoff_initial: float = attrs.field(default=0.5, validator=_bounded("backoff_initial", 0, 600))
    backoff_max: float = attrs.field(default=8.0, validator=_bounded("backoff_max", 0, 3600))
    jitter: float = attrs.field(default=0.5, validator=_bounded("jitter", 0, 600))

    def backoff(self, attempt: int, rand: float) -> float:
        """Seconds to wait after failed ``attempt`` (1-based) when the service advised no wait; ``rand`` is a
        uniform draw in [0, 1) (the caller's, so this stays pure). Computed here rather than by tenacity, whose
        ``wait_exponential_jitter`` renamed its base argument across releases."""
        try:
            delay = self.backoff_initial * 2.0 ** (attempt - 1) + rand * self.jitter
        except OverflowError:
            return self.backoff_max
        return min(self.backoff_max, delay)


def _method_may_retry(method: str, retry_post: bool) -> bool:
    method = method.upper()
    return method in IDEMPOTENT_METHODS or (method == "POST" and retry_post)


def should_retry(status: int, headers: Mapping[str, str], method: str, retry_post: bool) -> bool:
    """Whether a response with ``status`` may be retried (ignoring attempt counts and Retry-After ceilings).

    True only for 429/500/502/503/504 on an idempotent method or a POST marked as a read. ``headers`` are
    part of the shared signature; the decision itself depends on status and method only (an Azure 4xx with
    Retry-After is still not retried, by design).
    """
    del headers
    return status in RETRYABLE_STATUSES and _method_may_retry(method, retry_post)


def should_retry_transport(method: str, retry_post: bool, *, request_sent: bool) -> bool:
    """Whether a request that got no response may be retried.

    A request that never left (connect error, connect/pool timeout) is always safe to retry; one that may
    have reached the service (read error, read timeout) only when idempotent or a read.
    """
    return not request_sent or _method_may_retry(method, retry_post)


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """The wait the service advised, in seconds (>= 0), or ``None`` if it advised none (or unparsable).

    Reads ``retry-after-ms`` / ``x-ms-retry-after-ms`` (milliseconds), then ``Retry-After`` as seconds or an
    HTTP-date. An HTTP-date is measured against the response's own ``Date`` header (the service's clock, so a
    client clock that is off changes nothing), or against ``now`` (POSIX seconds, the local clock) when the
    response has no valid ``Date``. A date in the past means 0, never a negative or day-long wait.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in _MS_HEADERS:
        millis = _number(lowered.get(name))
        if millis is not None:
            return max(0.0, millis / 1000.0)
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    seconds = _number(raw)
    if seconds is not None:
        return max(0.0, seconds)
    when = _http_date(raw)
    if when is None:
        return None
    sent = _http_date(lowered.get("date"))
    return max(0.0, when - (sent if sent is not None else now))


def _http_date(raw: str | None) -> float | None:
    """An HTTP-date (RFC 9110: GMT by definition) as POSIX seconds; None when absent or not one."""
    if raw is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.timestamp() if when.tzinfo is not None else None


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@attrs.frozen
class RetryDecision:
    """Outcome of ``decide_retry`` for one error response.

    - ``retry``: send again (after ``wait`` seconds, or the policy's backoff when ``wait`` is None).
    - ``advised``: the service's Retry-After in seconds, if any (also set when it exceeded the ceiling).
    - ``over_ceiling``: the advised wait exceeds ``policy.max_retry_after``: give up now with RateLimitedError.
    """

    retry: bool
    wait: float | None
    advised: float | None
    over_ceiling: bool = False


def decide_retry(
    status: int, headers: Mapping[str, str], method: str, retry_post: bool, now: float, policy: RetryPolicy
) -> RetryDecision:
    """Combine ``should_retry`` and ``retry_after_seconds`` with the policy's ceiling (attempt counting is
    the caller's: ``_flow.request_flow``)."""
    advised = retry_after_seconds(headers, now)
    if not should_retry(status, headers, method, retry_post):
        return RetryDecision(retry=False, wait=None, advised=advised)
    if advised is not None and advised > policy.max_retry_after:
        return RetryDecision(retry=False, wait=None, advised=advised, over_ceiling=True)
    return RetryDecision(retry=True, wait=advised, advised=advised)
