"""m365sentinel.kql: an immutable, injection-safe KQL builder (no I/O).

Build, render and run are separate steps: build a ``Query`` fluently (each call returns a new object),
render it with ``str(q)`` / ``q.to_kql()``, run it with ``Connector.query(q, timespan=...)``::

    from m365sentinel import kql
    from m365sentinel.kql import fn

    q = (kql.table("SecurityIncident")
         .where(kql.col("ProviderName").in_(["Microsoft 365 Defender", "Microsoft XDR"]))
         .summarize(fn.arg_max("TimeGenerated", "*"), by="IncidentNumber"))
    print(q)

Every Python value becomes exactly one KQL literal token (``_literals``); raw text enters only through
``raw_unsafe`` / ``Query.pipe_raw_unsafe``. Columns of known tables (``m365sentinel/_data/tables.json``) are
typed: a misspelled column or a literal of the wrong kind raises ``InvalidInputError`` at build time.
``check_portability(query)`` reports what in a Defender advanced hunting query does not carry over to Sentinel;
``to_sentinel(text)`` / ``to_defender(text)`` rewrite what is mechanical and list the rest (``.unresolved``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from m365sentinel._errors import InvalidInputError
from m365sentinel._inputs import check_text
from m365sentinel.kql import fn
from m365sentinel.kql._expr import (
    Column,
    Expr,
    JoinSide,
    Literal,
    Null,
    RawExpr,
    SortKey,
    StepRef,
    SubqueryScalar,
    Var,
    to_expr,
)
from m365sentinel.kql._literals import parse_timespan, quote_identifier, render_literal
from m365sentinel.kql._ops import DatatableSource, LetFunction, PrintSource, RawSource, Union, UnionSource, check_type
from m365sentinel.kql._portability import STREAMED_TABLES, PortabilityFinding, PortabilityReport, check_portability
from m365sentinel.kql._query import (
    NestedLevel,
    Query,
    ScanStep,
    _items,
    materialize,
    nested,
    scan_step,
    table,
    toscalar,
)
from m365sentinel.kql._schemas import TableSchema, schema_for, schema_registry
from m365sentinel.kql._templates import (
    TIMECHART_COLUMNS,
    alert_timechart,
    alerts_by_product,
    billable_volume,
    daily_volume,
    incident_timechart,
    incidents_by_provider,
    last_data_received,
    range_,
    table_timechart,
    timechart,
)
from m365sentinel.kql._translate import Change, Translation, Unresolved, to_defender, to_sentinel

__all__ = [
    "STREAMED_TABLES",
    "TIMECHART_COLUMNS",
    "Change",
    "Expr",
    "NestedLevel",
    "PortabilityFinding",
    "PortabilityReport",
    "Query",
    "ScanStep",
    "SortKey",
    "StepRef",
    "SubqueryScalar",
    "TableSchema",
    "Translation",
    "Unresolved",
    "alert_timechart",
    "alerts_by_product",
    "billable_volume",
    "check_portability",
    "col",
    "daily_volume",
    "datatable",
    "fn",
    "function",
    "incident_timechart",
    "incidents_by_provider",
    "last_data_received",
    "left",
    "lit",
    "literal",
    "materialize",
    "nested",
    "null",
    "parse_timespan",
    "print_",
    "quote_identifier",
    "range_",
    "raw_unsafe",
    "raw_query_unsafe",
    "right",
    "scan_step",
    "schema_for",
    "schema_registry",
    "table",
    "step_ref",
    "table_timechart",
    "timechart",
    "toscalar",
    "to_defender",
    "to_sentinel",
    "union",
    "var",
]


def col(name: str) -> Column:
    """A column by name (checked against the query's known columns when used)."""
    return Column(name)


def var(name: str) -> Var:
    """A name bound by ``let`` (``Query.let``), e.g. ``var("Now")``."""
    return Var(name)


def lit(value: object) -> Literal:
    """A Python value as a KQL literal (str, int, float, bool, Decimal, aware datetime, timedelta, UUID, dict/list)."""
    return Literal(value)


def literal(value: object) -> str:
    """The KQL text of one literal: ``literal("St. John's")`` → ``"St. John's"``."""
    return render_literal(value)


def null(kind: str) -> Null:
    """A typed null, e.g. ``null("long")`` → ``long(null)``."""
    return Null(check_type(kind))


def left(name: str) -> JoinSide:
    """``$left.name`` for join/lookup ``on`` clauses."""
    return JoinSide("left", name)


def right(name: str) -> JoinSide:
    """``$right.name`` for join/lookup ``on`` clauses."""
    return JoinSide("right", name)


def step_ref(step: str, name: str) -> StepRef:
    """``step.Name`` in a ``scan`` condition: column ``name`` as of the last row step ``step`` matched."""
    return StepRef(step, name)


def raw_unsafe(text: str) -> RawExpr:
    """Unchecked KQL expression text. DO NOT PASS UNTRUSTED INPUT: nothing is escaped or validated."""
    if not isinstance(text, str):
        raise InvalidInputError(f"raw_unsafe expects KQL text (str), got {text!r}")
    return RawExpr(check_text(text, "raw_unsafe text", expected="KQL text", multiline=True))


def raw_query_unsafe(text: str) -> Query:
    """A whole query (or head) as unchecked text. DO NOT PASS UNTRUSTED INPUT."""
    if not isinstance(text, str):
        raise InvalidInputError(f"raw_query_unsafe expects KQL text (str), got {text!r}")
    check_text(text, "raw_query_unsafe text", expected="KQL text", multiline=True)
    return Query(RawSource(text), source_name="raw")


def union(
    *queries: Query | str, isfuzzy: bool = False, withsource: str | None = None, kind: str | None = None
) -> Query:
    """``union [kind=..] [withsource=Name] [isfuzzy=true] T1, (q2), ...`` as the head of a query."""
    from m365sentinel.kql._query import _query

    qs = tuple(table(q) if isinstance(q, str) else _query(q, "union") for q in queries)
    if len(qs) < 1:
        raise InvalidInputError("union() needs at least one query or table")
    if kind not in (None, "inner", "outer"):
        raise InvalidInputError(f"union kind must be inner or outer, got {kind!r}")
    from m365sentinel.kql._query import _hoist, _strip

    lets = _hoist(Query(RawSource("")), *qs).lets
    return Query(
        UnionSource(Union(tuple(_strip(q) for q in qs), isfuzzy, withsource, kind)), lets=lets, source_name="union"
    )


def datatable(columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]) -> Query:
    """``datatable(A: string, B: long) ["x", 1, ...]``; rows are rendered as literals."""
    cols = _pairs(columns, "datatable columns")
    body = tuple(tuple(_items(r, "datatable row")) for r in _items(rows, "datatable rows"))
    for row in body:
        if len(row) != len(cols):
            raise InvalidInputError(f"datatable row {row!r} has {len(row)} values; expected {len(cols)}")
        for value in row:
            render_literal(value)  # validate now, not at render time
    return Query(DatatableSource(cols, body), columns=tuple((n, t) for n, t in cols), source_name="datatable")


def print_(*items: object, **named: object) -> Query:
    """``print a, Name = expr``."""
    from m365sentinel.kql._query import _named

    return Query(PrintSource(_named(items, named)), source_name="print")


def _pairs(value: object, what: str) -> tuple[tuple[str, str], ...]:
    """``(name, kql type)`` pairs, each name a non-empty str and each type a KQL scalar type."""
    out = []
    for pair in _items(value, what):
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and all(isinstance(x, str) and x for x in pair)):
            raise InvalidInputError(f"{what} are (name, kql type) pairs of str, got {pair!r}")
        out.append((pair[0], pair[1] if pair[1] == "(*)" else check_type(pair[1])))
    return tuple(out)


def function(parameters: Sequence[tuple[str, str]], body: Query | Expr) -> LetFunction:
    """A user function for ``Query.let(name, function([("x", "string")], body))``; a parameter typed ``"(*)"``
    is a table of any shape (for ``Query.invoke``)."""
    params = _pairs(parameters, "function parameters")
    return LetFunction("_", params, body if isinstance(body, Query) else to_expr(body))
