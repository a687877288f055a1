"""Fault injection: throttling, server errors, dropped connections, consent, token expiry, partial results;
completeness faults (a result cut at the size limit, a nextLink cycle, a failing ``$expand``, expanded collections
with a nextLink); and a service that misbehaves on purpose (lists ignoring ``$orderby`` or ``$filter``, deletions
during a pass, ``Date`` headers missing or skewed)."""

from __future__ import annotations

import fnmatch
import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from m365sentinel._errors import InvalidInputError
from m365sentinel._inputs import check_int
from m365sentinel.emulator._auth import TokenStore
from m365sentinel.emulator._http import RequestRecord
from m365sentinel.emulator._limits import QueryLimits

__all__ = ["FAULT_KINDS", "Faults"]

Matcher = Callable[[RequestRecord], bool]

_DEFAULT_BODIES: dict[int, dict[str, Any]] = {
    429: {"error": {"code": "TooManyRequests", "message": "Too many requests. Please retry after some time."}},
    500: {"error": {"code": "InternalServerError", "message": "An internal server error occurred."}},
    502: {"error": {"code": "BadGateway", "message": "The gateway did not receive a response in time."}},
    503: {"error": {"code": "ServiceUnavailable", "message": "The service is temporarily unavailable."}},
    504: {"error": {"code": "GatewayTimeout", "message": "The gateway did not receive a response in time."}},
}


@dataclass
class _Rule:
    match: Matcher
    status: int | None  # None = drop the connection
    headers: dict[str, str]
    body: Any
    remaining: int


@dataclass
class Fired:
    """What the handler core must do for one request (a status response or a dropped connection)."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


def _matcher(route: str | Matcher) -> Matcher:
    if callable(route):
        return route
    if not isinstance(route, str) or not route:
        raise InvalidInputError(f"route={route!r}: expected a glob such as '*/incidents*' or 'PUT */dataConnectors/*'")
    method, _, pattern = route.partition(" ") if " " in route else ("", "", route)
    method = method.upper()

    def match(record: RequestRecord) -> bool:
        if method and record.method != method:
            return False
        return fnmatch.fnmatchcase(record.path.lower(), pattern.lower())

    return match


# The switches a test turns on by name (the pytest plugin's ``sentinel_faults`` marker); the other public methods
# of ``Faults`` are the handler core's hooks and ``clear``, not faults.
FAULT_KINDS = (
    "add",
    "server_error",
    "drop_connection",
    "require_consent",
    "expire_tokens",
    "partial_query_result",
    "query_size_limit",
    "next_link_cycle",
    "expand_error",
    "expanded_page_size",
    "unordered_lists",
    "ignore_filter",
    "delete_during_pass",
    "omit_date_header",
    "skew_date",
)


def _consume(rules: list[_Rule], record: RequestRecord) -> _Rule | None:
    """The first rule in ``rules`` matching ``record``, one use consumed (removed once used up); None if none.
    The caller holds the lock."""
    for rule in rules:
        if rule.remaining > 0 and rule.match(record):
            rule.remaining -= 1
            if rule.remaining == 0:
                rules.remove(rule)
            return rule
    return None


class Faults:
    """Injected failures, consumed in the order they were added. Thread-safe.

    Route globs match the request path case-insensitively (``*`` spans slashes); prefix a method to restrict it:
    ``"PUT */dataConnectors/*"``. A predicate receives the :class:`RequestRecord`.
    """

    def __init__(self, tokens: TokenStore) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self.consent_required: bool = False
        self._partial = 0
        self.query_rows_limit: int | None = None
        self.expanded_alerts_page: int | None = None
        self._cycles: list[_Rule] = []
        self._misbehave_defaults()
        self.limits = QueryLimits(tokens.principal_of, tokens.clock.now)

    def _misbehave_defaults(self) -> None:
        self.shuffle_seed: int | None = None  # unordered_lists
        self.filter_ignored: bool = False
        self._delete_count = 0
        self._delete_after = 1
        self.date_omitted: bool = False
        self.date_skew: float = 0.0
        self.cross_limit: int = 100  # cross_workspace_limit
        self.failing_workspaces: set[str] = set()  # fail_workspace_queries

    def add(
        self,
        route: str | Matcher = "*",
        status: int = 429,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        body: Any = None,
    ) -> None:
        """Answer the next *times* matching requests with *status* (default 429 + ``Retry-After: 7``) and *body*: a
        JSON value, or ``bytes`` of JSON sent as they are (e.g. a large canned query answer, encoded once)."""
        check_int(times, "times", 1, 10**9)
        check_int(status, "status", 100, 599)
        if headers is None:
            headers = {"Retry-After": "7"} if status == 429 else {}
        if body is None:
            body = _DEFAULT_BODIES.get(status, {"error": {"code": "Injected", "message": f"Injected HTTP {status}."}})
        with self._lock:
            self._rules.append(_Rule(_matcher(route), status, dict(headers), body, times))

    def server_error(self, times: int = 1, status: int = 503, route: str | Matcher = "*") -> None:
        """Answer the next *times* matching requests with a 5xx (no Retry-After)."""
        self.add(route, status=status, headers={}, times=times)

    def drop_connection(self, times: int = 1, route: str | Matcher = "*") -> None:
        """Cut the next *times* matching requests without a response (httpx.RemoteProtocolError / closed socket)."""
        check_int(times, "times", 1, 10**9)
        with self._lock:
            self._rules.append(_Rule(_matcher(route), None, {}, None, times))

    def require_consent(self, required: bool = True) -> None:
        """MicrosoftThreatProtection connector PUTs answer 403 InvalidLicense "Missing consent" (case A2)."""
        self.consent_required = required

    def expire_tokens(self) -> None:
        """Revoke every token issued so far: the next request with one answers 401 invalid_token."""
        self._tokens.revoke_all()

    def partial_query_result(self, times: int = 1) -> None:
        """The next *times* Log Analytics queries answer 200 with their tables plus a PartialError (case E5)."""
        with self._lock:
            self._partial += times

    def query_size_limit(self, rows: int | None) -> None:
        """Log Analytics queries whose result has more than *rows* rows answer 200 with the rows cut to *rows* plus a
        ``PartialError`` whose inner error says ``E_QUERY_RESULT_SET_TOO_LARGE``, in the shape the service sends
        (the limit is in ``details[0].innererror``). ``None`` switches it off. Until ``clear()``."""
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 0):
            raise InvalidInputError(f"rows={rows!r}: expected a non-negative integer or None")
        self.query_rows_limit = rows

    def cross_workspace_limit(self, workspaces: int) -> None:
        """Log Analytics queries over more than *workspaces* workspaces (the queried one, the ``workspaces`` body
        parameter and ``workspace("<id>")`` references) answer 400 ``BadArgumentError`` with the inner error
        ``TooManyResourcesError`` (default 100, Microsoft's documented maximum). Until ``clear()``."""
        self.cross_limit = check_int(workspaces, "workspaces", 1, 10**6)

    def fail_workspace_queries(self, *customer_ids: str) -> None:
        """Cross-workspace queries cannot access these workspaces (by customer id): a fuzzy union answers the
        others plus a ``PartialError`` whose ``details[]`` entry names each failed one (``InsufficientAccessError``,
        ``target``/``resources`` the reference); a query that is not fuzzy answers 400. Until ``clear()``."""
        self.failing_workspaces = {str(c).lower() for c in customer_ids}

    def next_link_cycle(self, times: int = 1, route: str | Matcher = "*") -> None:
        """The next *times* matching list pages that carry a ``nextLink`` / ``@odata.nextLink`` get a link back to
        the very page requested (a service that serves the same page forever)."""
        if times < 1:
            raise InvalidInputError(f"times={times!r}: expected a positive integer")
        with self._lock:
            self._cycles.append(_Rule(_matcher(route), 200, {}, None, times))

    def expand_error(self, status: int = 500, times: int = 1) -> None:
        """The next *times* Graph requests with ``$expand`` answer *status* (each retry counts as one)."""
        self.add(lambda record: "$expand" in record.query, status=status, headers={}, times=times)

    def expanded_page_size(self, n: int | None) -> None:
        """Expanded ``alerts`` collections of Graph incidents carry at most *n* alerts plus ``alerts@odata.nextLink``
        to the rest (served by the emulator, *n* per page). ``None`` switches it off. Until ``clear()``."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise InvalidInputError(f"n={n!r}: expected a positive integer or None")
        self.expanded_alerts_page = n

    def unordered_lists(self, enabled: bool = True, *, seed: int = 0) -> None:
        """The ARM incidents list and the Graph ``incidents``/``alerts_v2`` lists ignore ``$orderby``: they serve
        the matching items in a shuffled order (seeded; the same order for every page until the list changes)."""
        _flag(enabled, "enabled")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise InvalidInputError(f"seed={seed!r}: expected an integer")
        self.shuffle_seed = seed if enabled else None

    def ignore_filter(self, enabled: bool = True) -> None:
        """The list routes (ARM incidents, Graph incidents and alerts_v2) ignore ``$filter`` entirely."""
        self.filter_ignored = _flag(enabled, "enabled")

    def delete_during_pass(self, count: int = 1, *, after_pages: int = 1) -> None:
        """Once a listing of ARM incidents has served ``after_pages`` pages, delete ``count`` incidents it already
        served before answering its next page (an offset page then starts ``count`` items too far)."""
        for name, value in (("count", count), ("after_pages", after_pages)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"{name}={value!r}: expected a positive integer")
        with self._lock:
            self._delete_count, self._delete_after = count, after_pages

    def omit_date_header(self, enabled: bool = True) -> None:
        """Responses carry no ``Date`` header."""
        self.date_omitted = _flag(enabled, "enabled")

    def skew_date(self, seconds: float) -> None:
        """The ``Date`` header runs ``seconds`` away from the emulator's clock (negative: behind it)."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
            raise InvalidInputError(f"seconds={seconds!r}: expected a finite number")
        self.date_skew = float(seconds)

    def query_limits(
        self, enabled: bool = True, *, concurrency: int = 5, per_window: int = 200, window: float = 30.0
    ) -> QueryLimits:
        """Enforce the Log Analytics query limits per principal (default the documented 5 concurrent and 200 per
        30 s): a query beyond them answers 429 with ``Retry-After``. Returns the limits (``refused``, ``peak``)."""
        check_int(concurrency, "concurrency", 1, 10**6)
        check_int(per_window, "per_window", 1, 10**9)
        if isinstance(window, bool) or not isinstance(window, int | float) or not 0 < window <= 86400:
            raise InvalidInputError(f"window={window!r}: expected seconds, more than 0 and at most 86400")
        self.limits.configure(
            enabled=_flag(enabled, "enabled"), concurrency=concurrency, per_window=per_window, window=float(window)
        )
        return self.limits

    def clear(self) -> None:
        """Remove every pending fault and misbehaviour, and switch consent back on."""
        with self._lock:
            self._rules.clear()
            self._cycles.clear()
            self._partial = 0
            self._misbehave_defaults()
        self.consent_required = False
        self.query_rows_limit = None
        self.expanded_alerts_page = None
        self.limits.configure(enabled=False)

    @property
    def pending(self) -> int:
        """How many injected responses are still to be served."""
        with self._lock:
            return sum(rule.remaining for rule in (*self._rules, *self._cycles)) + self._partial

    @property
    def cycles_pending(self) -> bool:
        return bool(self._cycles)

    def take_cycle(self, record: RequestRecord) -> bool:
        """Whether this list page's next link must point back to itself (consumes one ``next_link_cycle``)."""
        with self._lock:
            return _consume(self._cycles, record) is not None

    # -- used by the handler core -------------------------------------------------------------------

    def fire(self, record: RequestRecord) -> Fired | None:
        with self._lock:
            rule = _consume(self._rules, record)
        return None if rule is None else Fired(rule.status, dict(rule.headers), rule.body)

    def arrange(self, items: list[Any]) -> list[Any]:
        """A list route's items as served: shuffled under ``unordered_lists`` (a copy), else as given."""
        if self.shuffle_seed is None:
            return items
        shuffled = list(items)
        random.Random(self.shuffle_seed).shuffle(shuffled)
        return shuffled

    def deletions_due(self, pages_served: int) -> int:
        """How many served incidents to delete before the page after ``pages_served`` pages (consumed)."""
        with self._lock:
            if self._delete_count and pages_served >= self._delete_after:
                count, self._delete_count = self._delete_count, 0
                return count
        return 0

    def take_partial(self) -> bool:
        with self._lock:
            if self._partial > 0:
                self._partial -= 1
                return True
        return False


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name}={value!r}: expected True or False")
    return value
