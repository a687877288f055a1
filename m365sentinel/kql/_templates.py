"""Query templates for the source document and for operations (text shapes fixed by golden tests).

The source document's time chart, fixed: the source rows are limited to ``[Now - days, Now)`` before
binning, so the result has exactly ``days`` daily points, the k-th covering ``[Now - k*step, Now - (k-1)*step)``;
an append-only table (SecurityIncident, SecurityAlert) is first reduced to one row per incident/alert.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Final

from m365sentinel._errors import InvalidInputError
from m365sentinel._inputs import check_texts
from m365sentinel.kql import _ops as o
from m365sentinel.kql import fn
from m365sentinel.kql._expr import Alias, Binary, Call, Column, Expr, Literal, SortKey, Var
from m365sentinel.kql._literals import parse_timespan
from m365sentinel.kql._query import Query, _make, table

__all__ = [
    "alert_timechart",
    "alerts_by_product",
    "billable_volume",
    "daily_volume",
    "incident_timechart",
    "incidents_by_provider",
    "last_data_received",
    "range_",
    "table_timechart",
    "timechart",
]

TIMECHART_COLUMNS = (("Value", "long"), ("Time", "datetime"), ("Legend", "string"))

# Immutable fragments of the time chart that depend on no argument, built once and shared by every chart
# (sharing is safe: nodes cannot change after construction).
_MAX_DAYS: Final = 4383
_NOW: Final = Var("Now")
_TG: Final = Column("TimeGenerated")
_COUNT: Final = Column("Count")
_ZERO: Final = Literal(0)
_COUNT_AGGS: Final = (Alias("Count", Call("count")),)
_MAX_COUNT_AGGS: Final = (Alias("Count", Call("max", (_COUNT,))),)
_EXTEND_ZERO_COUNT: Final = o.Extend((Alias("Count", _ZERO),))
_SORT_TIME_ASC: Final = o.Sort((SortKey(_TG, "asc"),))
_VALUE: Final = Alias("Value", Call("iff", (Call("isnull", (_COUNT,)), _ZERO, _COUNT)))
_TIME: Final = Alias("Time", _TG)
_RENDER_TIMECHART: Final = (o.Render("timechart"),)
_LET_NOW: Final = o.LetScalar("Now", Call("now"))
_LETS_NOW: Final = (_LET_NOW,)


def range_(column: str, start: object, stop: object, step: object) -> Query:
    """``range column from start to stop step step`` (both ends inclusive)."""

    def arg(v: object) -> Expr:
        if isinstance(v, Expr):
            return v
        if isinstance(v, str):
            return Literal(parse_timespan(v))
        return Literal(v)

    start_e, stop_e, step_e = arg(start), arg(stop), arg(step)
    return Query(o.RangeSource(column, start_e, stop_e, step_e), columns=((column, None),), source_name="range")


def _names(values: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise InvalidInputError(f"expected a non-empty sequence of {what} (str), got {values!r}")
    return check_texts(values, what)


def _days(days: object) -> int:
    """A window in whole days: 1 to 4383 (12 years, the longest total retention of a Log Analytics table)."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= _MAX_DAYS:
        raise InvalidInputError(f"days must be a positive int (1 to {_MAX_DAYS}), got {days!r}")
    return days


def incidents_by_provider(provider_names: Sequence[str]) -> Query:
    """Latest row of every incident whose ``ProviderName`` is one of ``provider_names`` (case E3, E4).

    Renders ``SecurityIncident | where ProviderName in (...) | summarize arg_max(TimeGenerated, *) by
    IncidentNumber``: SecurityIncident is append-only (one row per update), so each incident appears once,
    in its latest state. Output: SecurityIncident's columns."""
    names = _names(provider_names, "provider names")
    q = table("SecurityIncident")
    return q.where(q.c.ProviderName.in_(names)).summarize(fn.arg_max("TimeGenerated", "*"), by="IncidentNumber")


def alerts_by_product(product_names: Sequence[str]) -> Query:
    """Latest row of every alert whose ``ProductName`` is one of ``product_names`` (legacy and current)."""
    names = _names(product_names, "product names")
    q = table("SecurityAlert")
    return q.where(q.c.ProductName.in_(names)).summarize(fn.arg_max("TimeGenerated", "*"), by="SystemAlertId")


def timechart(
    source: Query | str,
    *,
    days: int = 14,
    step: _dt.timedelta | str = "1d",
    legend: str = "Events",
    per_incident: bool = False,
    time_column: str | None = None,
) -> Query:
    """The source document's zero-filled daily time chart of ``source``, with exactly ``days`` bins.

    Output columns ``Value:long, Time:datetime, Legend:string``; ``| render timechart``. ``source`` is a
    Query or a table name. ``per_incident=True`` reduces SecurityIncident-shaped sources to their latest row
    per ``IncidentNumber`` and bins on ``CreatedTime`` (each incident once, on its creation day).
    ``time_column`` defaults to TimeGenerated (CreatedTime with per_incident). The query carries its window
    (``q.timespan`` = ``days`` steps): ``Connector.query`` uses it and refuses a shorter timespan.
    Raises InvalidInputError for days < 1, a step that is not positive, or a bad legend."""
    _days(days)
    step_td = parse_timespan(step)
    if step_td <= _dt.timedelta(0):
        raise InvalidInputError(f"step must be a positive timespan, got {step!r}")
    if step_td > _dt.timedelta(days=_MAX_DAYS) / days:
        raise InvalidInputError(f"days x step must be at most {_MAX_DAYS} days, got {days} x {step!r}")
    if not isinstance(legend, str):
        raise InvalidInputError(f"legend must be a str, got {legend!r}")
    src = table(source) if isinstance(source, str) else source
    if not isinstance(src, Query):
        raise InvalidInputError(f"source must be a kql.Query or a table name (str), got {source!r}")
    if per_incident:
        src = src.summarize(fn.arg_max("TimeGenerated", "*"), by="IncidentNumber")
    tcol = time_column or ("CreatedTime" if per_incident else "TimeGenerated")
    if src.lets and any(stmt.name == "Now" for stmt in src.lets):
        raise InvalidInputError("let 'Now' is already defined in this query")
    # The nodes and pipe operators are built directly (one Query per pipeline, not one per pipe). The
    # build-time checks the fluent calls would make all come down to ``src.col(tcol)``: the source-side
    # predicates and keys reference no other column and compare it with no literal, and after the union the
    # shape is unknown, so nothing further is checked. Fragments that depend on no argument are the shared
    # immutable nodes above; only the step-, window-, source- and legend-dependent ones are built here.
    t = src.col(tcol)
    span = Literal(step_td)
    start = Binary("-", _NOW, Literal(step_td * days))
    binned = Call("bin_at", (t, span, _NOW))
    counted = _make(
        src.head,
        (
            *src.ops,
            o.Where(Binary("and", Binary(">=", t, start), Binary("<", t, _NOW))),
            o.Summarize(_COUNT_AGGS, (binned if tcol == "TimeGenerated" else Alias("TimeGenerated", binned),)),
        ),
        (),  # KQL has no let inside parentheses: the source's lets move to the chart (below)
        None,
        src.source_name,
        None,
        None,
    )
    chart = _make(
        o.RangeSource("TimeGenerated", start, Binary("-", _NOW, span), span),
        (
            _EXTEND_ZERO_COUNT,
            o.Union((counted,), isfuzzy=True),
            o.Summarize(_MAX_COUNT_AGGS, (binned if tcol == "TimeGenerated" else Call("bin_at", (_TG, span, _NOW)),)),
            _SORT_TIME_ASC,
            o.Project((_VALUE, _TIME, Alias("Legend", Literal(legend)))),
        ),
        (),
        None,
        "range",
        None,
        None,
    )
    return _make(
        o.ParenSource(chart),
        _RENDER_TIMECHART,
        (_LET_NOW, *src.lets) if src.lets else _LETS_NOW,
        TIMECHART_COLUMNS,
        "range",
        step_td * days,
        None,
    )


def attr_columns(q: Query, columns: tuple[tuple[str, str], ...]) -> Query:
    """``q`` declaring its result columns (checked against the parser's inference in the tests)."""
    return q.with_columns(columns)


def incident_timechart(provider_names: Sequence[str], *, days: int = 14, legend: str = "Incidents") -> Query:
    """Daily count of Defender incidents, each counted once on the day it was created (cases E3, E4)."""
    return timechart(incidents_by_provider(provider_names), days=days, legend=legend, time_column="CreatedTime")


def alert_timechart(product_names: Sequence[str], *, days: int = 14, legend: str = "Alerts") -> Query:
    """Daily count of Defender alerts, each counted once on the day it first appeared."""
    names = _names(product_names, "product names")
    q = table("SecurityAlert")
    first_seen = q.where(q.c.ProductName.in_(names)).summarize(
        TimeGenerated=fn.min("TimeGenerated"), by="SystemAlertId"
    )
    return timechart(first_seen, days=days, legend=legend)


def table_timechart(table_name: str, *, days: int = 14, legend: str = "Events") -> Query:
    """The source document's chart for one hunting table (e.g. DeviceEvents)."""
    return timechart(table(table_name), days=days, legend=legend)


def last_data_received(table_names: Sequence[str]) -> Query:
    """``union withsource=TableName isfuzzy=true T1, T2, ... | summarize LastReceived = max(TimeGenerated) by
    TableName``: one row per table that has data (``TableName:string, LastReceived:datetime``)."""
    names = _names(table_names, "table names")
    first, rest = table(names[0]), names[1:]
    head = Query(
        o.UnionSource(o.Union((first, *(table(n) for n in rest)), isfuzzy=True, withsource="TableName")),
        source_name="union",
    )
    return head.summarize(LastReceived=fn.max("TimeGenerated"), by="TableName")


def daily_volume(table_names: Sequence[str], *, days: int = 14) -> Query:
    """Rows per table per day over the last ``days`` days (``TableName, Day, Rows``)."""
    names = _names(table_names, "table names")
    _days(days)
    head = Query(
        o.UnionSource(o.Union(tuple(table(n) for n in names), isfuzzy=True, withsource="TableName")),
        source_name="union",
    )
    tg = Column("TimeGenerated")
    return (
        head.where(tg > fn.ago(_dt.timedelta(days=days)))
        .summarize(Rows=fn.count(), by=[Column("TableName"), fn.bin(tg, "1d").as_("Day")])
        .sort_by(Column("TableName").asc(), Column("Day").asc())
    )


def billable_volume(table_names: Sequence[str] | None = None, *, days: int = 30) -> Query:
    """Billable ingestion per table from ``Usage`` in GB (``DataType, BillableGB``), largest first.

    Usage.Quantity is in MB; ``IsBillable == true`` rows only."""
    _days(days)
    q = table("Usage")
    preds: list[Expr] = [q.c.TimeGenerated > fn.ago(_dt.timedelta(days=days)), q.c.IsBillable == True]  # noqa: E712
    if table_names is not None:
        preds.append(q.c.DataType.in_(_names(table_names, "table names")))
    return (
        q.where(*preds)
        .summarize(BillableGB=fn.sum("Quantity") / 1000.0, by="DataType")
        .sort_by(Column("BillableGB").desc())
    )
