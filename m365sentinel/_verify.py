"""Verification: the source document's "Verify data ingestion" checks as a typed report.

``verify(run, ...)`` runs three time charts (incidents, alerts, events summed across the declared tables; the
source document's query shape, 14 daily bins ending now) and one cheap ``Usage`` query for every table
(last received, daily and billable volume, no table scans). Each line gets a verdict:

- INGESTING: data arrived in the window;
- SILENT: no data (for a declared hunting table: "declared but silent");
- NOT_YET_POPULATED: a UEBA table that holds no data yet (case A6: a status, not an error);
- INCONCLUSIVE: the query answered with a partial result (case E5), so no verdict is claimed.

I/O is the caller's ``run(query, timespan) -> QueryResult`` (``Connector.query``); everything else is pure.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from ._entities import UEBA_TABLES
from ._errors import InvalidInputError
from ._hunting import HuntingTable, TableIngestion, ingestion_from_usage, usage_by_table_query

if TYPE_CHECKING:
    from .kql import Query
    from .models import QueryResult, TimeSeries

__all__ = ["Verdict", "VerificationLine", "VerificationReport", "verify", "verify_flow"]

Runner = Callable[["Query", timedelta], "QueryResult"]
# Alerts count on the day they first appeared: look back further than the window so an alert raised earlier and
# updated inside it is not counted again on its update day.
ALERT_LOOKBACK_FACTOR = 2


class Verdict(enum.Enum):
    INGESTING = "ingesting"
    SILENT = "silent"
    NOT_YET_POPULATED = "not yet populated"
    INCONCLUSIVE = "inconclusive"


@attrs.frozen
class VerificationLine:
    """One check: ``name`` (Incidents, Alerts, Events or a table), ``verdict``, the ``kql`` it ran, its daily
    ``series`` (counts for incidents/alerts/events, MB from Usage for a table) and a readable ``detail``.
    ``category``: "incidents" | "alerts" | "events" | "table" | "ueba". ``declared``: for tables, whether the caller
    declared it (False = flowing but undeclared); None for the other lines."""

    name: str
    verdict: Verdict
    kql: str
    series: TimeSeries
    detail: str
    category: str = "table"
    declared: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "verdict": self.verdict.value,
            "declared": self.declared,
            "detail": self.detail,
            "kql": self.kql,
            "series": {
                "legend": self.series.legend,
                "points": [[t.isoformat(), v] for t, v in self.series.points],
            },
        }


@attrs.frozen
class VerificationReport:
    """Every line, in order: Incidents, Alerts, Events, the declared tables, flowing-but-undeclared tables, then the
    UEBA tables when requested. ``days``: the window. ``ingestion``: the per-table Usage facts."""

    days: int
    lines: tuple[VerificationLine, ...]
    ingestion: tuple[TableIngestion, ...] = ()

    def line(self, name: str) -> VerificationLine:
        """The line called ``name``; InvalidInputError when there is none."""
        for item in self.lines:
            if item.name == name:
                return item
        raise InvalidInputError(f"no verification line {name!r}; lines: {[x.name for x in self.lines]}")

    @property
    def incidents(self) -> VerificationLine:
        return self.line("Incidents")

    @property
    def alerts(self) -> VerificationLine:
        return self.line("Alerts")

    @property
    def events(self) -> VerificationLine:
        return self.line("Events")

    @property
    def table_lines(self) -> tuple[VerificationLine, ...]:
        return tuple(x for x in self.lines if x.category == "table")

    @property
    def declared_but_silent(self) -> tuple[str, ...]:
        return tuple(x.name for x in self.table_lines if x.declared and x.verdict is Verdict.SILENT)

    @property
    def flowing_but_undeclared(self) -> tuple[str, ...]:
        return tuple(x.name for x in self.table_lines if x.declared is False)

    @property
    def all_ingesting(self) -> bool:
        """Every line is INGESTING (the "Done" state of a fully connected workspace)."""
        return all(x.verdict is Verdict.INGESTING for x in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "allIngesting": self.all_ingesting,
            "declaredButSilent": list(self.declared_but_silent),
            "flowingButUndeclared": list(self.flowing_but_undeclared),
            "lines": [x.to_dict() for x in self.lines],
        }

    def __str__(self) -> str:
        width = max((len(x.name) for x in self.lines), default=10)
        out = [f"Data ingestion over the last {self.days} days"]
        for x in self.lines:
            out.append(f"  {x.verdict.value.upper():<18} {x.name:<{width}}  {x.detail}")
        if self.declared_but_silent:
            out.append(f"  declared but silent: {', '.join(self.declared_but_silent)}")
        if self.flowing_but_undeclared:
            out.append(f"  flowing but not declared: {', '.join(self.flowing_but_undeclared)}")
        return "\n".join(out)


def _count_line(name: str, category: str, q: Query, result: QueryResult, what: str, days: int) -> VerificationLine:
    from .models import TimeSeries

    series = TimeSeries.from_table(result.primary) if result.tables else TimeSeries(legend=name, points=())
    series = TimeSeries(legend=name, points=series.points)
    total = series.total
    if result.is_partial:
        err = result.error
        code = err.inner_code if err is not None else None
        verdict = Verdict.INCONCLUSIVE
        detail = f"partial result ({code}): {total} {what} counted so far; no verdict"
    elif total > 0:
        verdict = Verdict.INGESTING
        detail = f"{total} {what} in {days} days"
    else:
        verdict = Verdict.SILENT
        detail = f"no {what} in {days} days"
    return VerificationLine(name, verdict, q.to_kql(), series, detail, category)


def _snap(series: TimeSeries, reference: Sequence[datetime]) -> TimeSeries:
    """``series`` on the reference bins (zero-filled). Bins of separate queries start at each query's ``now()``,
    which differ by the time between the queries: a point goes to the nearest reference bin within an hour."""
    from .models import TimeSeries

    if not reference:
        return series
    values: dict[datetime, float] = dict.fromkeys(reference, 0.0)
    for t, v in series.points:
        nearest = min(reference, key=lambda r: abs((r - t).total_seconds()))
        if abs((nearest - t).total_seconds()) <= 3600:
            values[nearest] += float(v)
    return TimeSeries(legend=series.legend, points=tuple(values.items()))


def _mb(value: float) -> str:
    return f"{value:.3f} MB" if value < 1000 else f"{value / 1000:.2f} GB"


def _table_detail(i: TableIngestion | None) -> str:
    if i is None or not i.flowing:
        return "no data in Usage"
    last = i.last_received.strftime("%Y-%m-%d %H:%M UTC") if i.last_received else "unknown"
    return f"last received {last}; {_mb(i.volume_mb)} ingested, {_mb(i.billable_mb)} billable"


def verify(
    run: Runner,
    *,
    incident_providers: Sequence[str],
    alert_products: Sequence[str],
    tables: Sequence[HuntingTable | str],
    ueba: bool = False,
    days: int = 14,
) -> VerificationReport:
    """Run the verification queries through ``run(query, timespan)`` and build the report (``verify_flow``,
    each query it asks for answered by ``run``). Raises InvalidInputError for bad arguments (before any query) and
    whatever ``run`` raises."""
    flow = verify_flow(
        incident_providers=incident_providers,
        alert_products=alert_products,
        tables=tables,
        ueba=ueba,
        days=days,
    )
    outcome: Any = None
    failure: BaseException | None = None
    while True:
        try:
            query, span = flow.send(outcome) if failure is None else flow.throw(failure)
        except StopIteration as done:
            report: VerificationReport = done.value
            return report
        outcome, failure = None, None
        try:
            outcome = run(query, span)
        except Exception as exc:
            failure = exc


def verify_flow(
    *,
    incident_providers: Sequence[str],
    alert_products: Sequence[str],
    tables: Sequence[HuntingTable | str],
    ueba: bool = False,
    days: int = 14,
) -> Generator[tuple[Query, timedelta], QueryResult, VerificationReport]:
    """The verification as a generator: yields each ``(query, timespan)`` to run, receives its ``QueryResult``,
    returns the report (the sync and async connectors answer the queries; ``verify`` with a callable).

    ``incident_providers`` / ``alert_products``: the Defender names (legacy and current, case E3; see
    ``m365sentinel.provider_names()``). ``tables``: the declared hunting tables (the events line sums them).
    ``ueba``: add lines for BehaviorAnalytics and IdentityInfo. ``days``: the window (14 in the source document).

    Queries (Log Analytics query API): incident and alert time charts, the events time chart (``union
    isfuzzy=true`` of the declared tables) and one Usage query over every catalogue table. Raises
    InvalidInputError for bad arguments (before any query) and whatever ``run`` raises.
    """
    from . import kql

    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 4383:
        raise InvalidInputError(f"days must be a positive int (1 to 4383, 12 years), got {days!r}")
    if isinstance(tables, str):
        raise InvalidInputError(f"tables must be a sequence of hunting tables, got the string {tables!r}")
    declared = tuple(dict.fromkeys(HuntingTable.from_name(t) for t in tables))
    window = timedelta(days=days)

    q_inc = kql.incident_timechart(incident_providers, days=days, legend="Incidents")
    incidents = _count_line("Incidents", "incidents", q_inc, (yield q_inc, window), "incidents created", days)
    q_al = kql.alert_timechart(alert_products, days=days, legend="Alerts")
    alerts = _count_line("Alerts", "alerts", q_al, (yield q_al, window * ALERT_LOOKBACK_FACTOR), "new alerts", days)
    lines = [incidents, alerts]
    if declared:
        source = kql.union(*(t.value for t in declared), isfuzzy=True)
        q_ev = kql.timechart(source, days=days, legend="Events")
        lines.append(_count_line("Events", "events", q_ev, (yield q_ev, window), "events", days))
    else:
        from .models import TimeSeries

        lines.append(
            VerificationLine(
                "Events",
                Verdict.SILENT,
                "",
                TimeSeries(legend="Events", points=tuple((t, 0) for t, _ in incidents.series.points)),
                "no hunting tables are declared",
                "events",
            )
        )
    reference = [t for t, _ in lines[-1].series.points] or [t for t, _ in incidents.series.points]

    usage_tables = [t.value for t in HuntingTable] + (list(UEBA_TABLES) if ueba else [])
    q_use = usage_by_table_query(usage_tables, days=days)
    usage = yield q_use, window
    ingestion = ingestion_from_usage(usage, usage_tables)
    use_kql = q_use.to_kql()
    for t in declared:
        i = ingestion[t.value]
        if i.flowing:
            verdict = Verdict.INGESTING
        elif i.inconclusive:
            verdict = Verdict.INCONCLUSIVE
        else:
            verdict = Verdict.SILENT
        detail = _table_detail(i) + ("; partial Usage result" if i.inconclusive else "")
        if verdict is Verdict.SILENT:
            detail = "declared but silent: " + detail
        lines.append(VerificationLine(t.value, verdict, use_kql, _snap(i.daily_mb, reference), detail, "table", True))
    for t in HuntingTable:
        if t in declared:
            continue
        i = ingestion[t.value]
        if i.flowing:
            lines.append(
                VerificationLine(
                    t.value,
                    Verdict.INGESTING,
                    use_kql,
                    _snap(i.daily_mb, reference),
                    "flowing but not declared: " + _table_detail(i),
                    "table",
                    False,
                )
            )
    if ueba:
        for name in UEBA_TABLES:
            i = ingestion[name]
            if i.flowing:
                verdict, detail = Verdict.INGESTING, _table_detail(i)
            elif i.inconclusive:
                verdict, detail = Verdict.INCONCLUSIVE, "partial Usage result; no verdict"
            else:
                verdict, detail = Verdict.NOT_YET_POPULATED, "not yet populated: UEBA has not written this table yet"
            lines.append(VerificationLine(name, verdict, use_kql, _snap(i.daily_mb, reference), detail, "ueba"))
    return VerificationReport(days, tuple(lines), tuple(ingestion.values()))
