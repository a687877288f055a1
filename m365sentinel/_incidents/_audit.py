"""The completeness audit of a pass (I/O-free): which incidents the list should have served and did not.

Offset paging trusts the list not to shift left between page requests; an incident deleted during a pass (or, on
a service that ignores ``$orderby``, any change) breaks that, and one incident is then never served. The audit
asks an independent source, Log Analytics ``SecurityIncident`` (one append-only row per change), for the newest
change of every incident modified in the audited window ``[watermark, next watermark)``, and compares it with
what the pass served. The window ends ``lag`` before the service's clock, which is also how the audit waits out
the ingestion delay of Log Analytics: the rows of a change are expected within ``lag`` (run-time check: every
change the list served inside the window must have its row; otherwise the audit is unproven and the watermark
does not advance).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from ..models._time import format_datetime
from ._filters import Filters

__all__ = ["AuditResult", "audit_kql", "reconcile_audit"]

# Log Analytics stores 100 ns ticks, ARM writes 7 digits: equal instants compare equal. The tolerance covers a
# source that rounds to milliseconds.
_TOLERANCE_US = 1000


def audit_kql(lower: datetime | None, upper: datetime) -> str:
    """KQL: the newest change of each incident with ``LastModifiedTime`` in ``[lower, upper)``."""
    where = f"LastModifiedTime < datetime({format_datetime(upper)})"
    if lower is not None:
        where = f"LastModifiedTime >= datetime({format_datetime(lower)}) and " + where
    return (
        "SecurityIncident\n"
        f"| where {where}\n"
        "| summarize arg_max(LastModifiedTime, ProviderName, CreatedTime) by IncidentName\n"
        "| project IncidentName, LastModifiedTime, ProviderName, CreatedTime"
    )


@attrs.frozen
class AuditResult:
    """``missing``: incident names whose newest change in the window the list did not serve (fetch them);
    ``unproven``: changes the list served inside the window that the audit source does not have yet."""

    missing: tuple[str, ...]
    unproven: int


def _behind(have: datetime | None, want: datetime) -> bool:
    if have is None:
        return True
    delta = want - have
    return delta.days > 0 or (delta.days == 0 and delta.seconds * 1_000_000 + delta.microseconds > _TOLERANCE_US)


def reconcile_audit(
    rows: Iterable[Mapping[str, Any]],
    served: Mapping[str, datetime],
    filters: Filters,
    lower: datetime | None,
    upper: datetime,
) -> AuditResult:
    """Compare the audit rows with ``served`` (lower-cased id -> newest lastModified the list served). Every bound
    is checked here again (the window, providers, created window), whatever the query asked for."""
    providers = {p.casefold() for p in filters.providers}
    c_start, c_end = filters.created
    newest: dict[str, datetime] = {}
    missing: list[str] = []
    for row in rows:
        name, modified = row.get("IncidentName"), row.get("LastModifiedTime")
        if not isinstance(name, str) or not name or not isinstance(modified, datetime):
            continue
        if (lower is not None and modified < lower) or modified >= upper:
            continue
        key = name.lower()
        if key not in newest or newest[key] < modified:
            newest[key] = modified
        if providers and str(row.get("ProviderName") or "").casefold() not in providers:
            continue
        created = row.get("CreatedTime")
        if isinstance(created, datetime) and (
            (c_start is not None and created < c_start) or (c_end is not None and created >= c_end)
        ):
            continue
        if _behind(served.get(key), modified):
            missing.append(name)
    unproven = sum(
        1
        for key, modified in served.items()
        if (lower is None or modified >= lower) and modified < upper and _behind(newest.get(key), modified)
    )
    return AuditResult(tuple(dict.fromkeys(missing)), unproven)
