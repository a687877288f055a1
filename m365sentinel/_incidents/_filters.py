"""Stream filters and their OData rendering (I/O-free).

Caller text never reaches a ``$filter`` unescaped: string literals are quoted by ``odata_string`` (OData doubles a
single quote), datetimes by ``odata_datetime`` (UTC, 7 digits).

Only conditions an incident can never leave are sent in ``$filter``: provider name and creation time (read-only),
and a lower bound on ``lastModifiedTimeUtc`` (a change only moves it later). Severity, status, owner, labels and
an upper bound on the modification time are checked client-side. The list pages by offset (``$skipToken``); an
incident that leaves a filtered list during a pass (your handler closes it, someone re-assigns it) would shift
every later page left by one and skip an incident no later poll lists again. Unfiltered, a change only moves an
incident to the front of the newest-first list: later pages shift right (a duplicate, skipped), never left.

Nothing here is trusted to the service: ``Filters.matcher`` re-checks every condition (also those sent), and the
pass drops items before its watermark (``PassState.in_window``), so a service that ignores ``$filter`` costs
bandwidth, never a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from .._errors import InvalidInputError
from .._inputs import check_text, check_texts
from ..models._time import format_datetime

if TYPE_CHECKING:
    from ..models import Incident

__all__ = ["Filters", "odata_datetime", "odata_string", "render_arm_filter", "render_graph_cursor_filter"]

_SEVERITIES = ("High", "Medium", "Low", "Informational")
_STATUSES = ("New", "Active", "Closed")


def odata_string(value: str) -> str:
    """``'it''s'`` for ``it's``: an OData string literal (single quotes doubled). Control characters are refused."""
    check_text(value, "OData string literal", empty=True)
    return "'" + value.replace("'", "''") + "'"


def odata_datetime(value: datetime) -> str:
    """An aware datetime as the OData literal both ARM and Graph accept: ``2024-01-02T03:04:05.0000000Z``."""
    return format_datetime(value)


def _aware(value: object, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value


def _window(pair: tuple[datetime | None, datetime | None], what: str) -> tuple[datetime | None, datetime | None]:
    start, end = pair
    s = _aware(start, f"{what} start") if start is not None else None
    e = _aware(end, f"{what} end") if end is not None else None
    if s is not None and e is not None and s >= e:
        raise InvalidInputError(f"{what}: start {s.isoformat()} must be before end {e.isoformat()}")
    return s, e


def _canonical(values: Iterable[str], allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    if not isinstance(values, Iterable):
        raise InvalidInputError(f"{what} {values!r} is not one of {', '.join(allowed)}")
    out: list[str] = []
    for v in values:
        match = next((a for a in allowed if isinstance(v, str) and a.casefold() == v.casefold()), None)
        if match is None:
            raise InvalidInputError(f"{what} {v!r} is not one of {', '.join(allowed)}")
        if match not in out:
            out.append(match)
    if not out:
        raise InvalidInputError(f"{what}: expected at least one of {', '.join(allowed)}")
    return tuple(out)


@attrs.frozen
class Filters:
    """What a stream selects. Empty tuples / ``None`` mean "no restriction".

    ``providers``: incident ``providerName`` values (default: the Defender names of ``_data/providers.json``);
    ``severities``/``statuses``: canonical Sentinel values; ``owners``: UPN/e-mail or Entra object id;
    ``labels``: label names (an incident matches when it has any of them); windows are ``[start, end)``.
    """

    providers: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    created: tuple[datetime | None, datetime | None] = (None, None)
    modified: tuple[datetime | None, datetime | None] = (None, None)

    # --- validated constructors used by the fluent stream ---------------------------------------------------
    @staticmethod
    def severities_of(values: Iterable[str]) -> tuple[str, ...]:
        return _canonical(values, _SEVERITIES, "severity")

    @staticmethod
    def statuses_of(values: Iterable[str]) -> tuple[str, ...]:
        return _canonical(values, _STATUSES, "status")

    @staticmethod
    def texts_of(values: Iterable[str], what: str) -> tuple[str, ...]:
        return check_texts(values, what)

    @staticmethod
    def window_of(start: datetime | None, end: datetime | None, what: str) -> tuple[datetime | None, datetime | None]:
        return _window((start, end), what)

    def matcher(self) -> Callable[[Incident], bool]:
        """The client-side check of every condition (also those in ``$filter``: an incident may change between
        request and delivery), with the value sets prepared once (the stream calls it for every incident)."""
        providers = {p.casefold() for p in self.providers}
        severities, statuses = set(self.severities), set(self.statuses)
        owners = {x.casefold() for x in self.owners}
        labels = set(self.labels)
        created, modified = self.created, self.modified
        any_window = created != (None, None) or modified != (None, None)

        def check(incident: Incident) -> bool:
            if providers and (incident.provider_name or "").casefold() not in providers:
                return False
            if severities and str(incident.severity) not in severities:
                return False
            if statuses and str(incident.status) not in statuses:
                return False
            if owners:
                o = incident.owner
                have = {(x or "").casefold() for x in ((o.user_principal_name, o.email, o.object_id) if o else ())}
                if not have & owners:
                    return False
            if labels and not {lb.label_name for lb in incident.labels} & labels:
                return False
            return not any_window or (
                _in(incident.created_time_utc, created) and _in(incident.last_modified_time_utc, modified)
            )

        return check


def _in(value: datetime | None, window: tuple[datetime | None, datetime | None]) -> bool:
    start, end = window
    if start is None and end is None:
        return True
    if value is None:
        return False
    return (start is None or value >= start) and (end is None or value < end)


def render_arm_filter(filters: Filters, *, modified_from: datetime | None = None) -> str | None:
    """The incidents list ``$filter`` for the conditions an incident cannot leave (module docstring), joined by
    ``and``, or ``None`` when nothing restricts the list.

    ``providerName`` (any of ``filters.providers``), ``createdTimeUtc`` in ``filters.created``, and
    ``lastModifiedTimeUtc ge`` the later of ``filters.modified``'s start and ``modified_from`` (the watermark).
    """
    clauses: list[str] = []
    if filters.providers:
        parts = [f"properties/providerName eq {odata_string(v)}" for v in filters.providers]
        clauses.append(parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")")
    c_start, c_end = filters.created
    if c_start is not None:
        clauses.append(f"properties/createdTimeUtc ge {odata_datetime(c_start)}")
    if c_end is not None:
        clauses.append(f"properties/createdTimeUtc lt {odata_datetime(c_end)}")
    lower = max((t for t in (filters.modified[0], modified_from) if t is not None), default=None)
    if lower is not None:
        clauses.append(f"properties/lastModifiedTimeUtc ge {odata_datetime(lower)}")
    return " and ".join(clauses) if clauses else None


def render_graph_cursor_filter(
    cursor: datetime | None, *, until: datetime | None = None, created_from: datetime | None = None
) -> str | None:
    """Graph ``$filter`` for ``lastUpdateDateTime`` in ``[cursor, until)`` (the cursor inclusive: ties are
    de-duplicated client-side)."""
    clauses = []
    if cursor is not None:
        clauses.append(f"lastUpdateDateTime ge {odata_datetime(cursor)}")
    if until is not None:
        clauses.append(f"lastUpdateDateTime lt {odata_datetime(until)}")
    if created_from is not None:
        clauses.append(f"createdDateTime ge {odata_datetime(created_from)}")
    return " and ".join(clauses) if clauses else None
