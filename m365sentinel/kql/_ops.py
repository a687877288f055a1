"""Tabular nodes (immutable): query heads (sources), pipe operators and let statements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs

from m365sentinel._errors import InvalidInputError
from m365sentinel.kql._expr import Expr, SortKey

if TYPE_CHECKING:
    from m365sentinel.kql._query import Query

__all__ = [
    "JOIN_KINDS",
    "VISUALIZATIONS",
    "Count",
    "DatatableSource",
    "Distinct",
    "Extend",
    "Join",
    "LetFunction",
    "LetScalar",
    "LetTabular",
    "Lookup",
    "MvExpand",
    "Op",
    "ParenSource",
    "Parse",
    "PrintSource",
    "Project",
    "ProjectAway",
    "ProjectRename",
    "RangeSource",
    "RawOp",
    "RawSource",
    "Render",
    "Sort",
    "Source",
    "Summarize",
    "TableRef",
    "Take",
    "Top",
    "Union",
    "UnionSource",
    "Where",
]

JOIN_KINDS: Final = (
    "inner",
    "innerunique",
    "leftouter",
    "rightouter",
    "fullouter",
    "leftanti",
    "rightanti",
    "leftsemi",
    "rightsemi",
    "leftantisemi",
    "rightantisemi",
)
LOOKUP_KINDS: Final = ("leftouter", "inner")
VISUALIZATIONS: Final = (
    "anomalychart",
    "areachart",
    "barchart",
    "card",
    "columnchart",
    "ladderchart",
    "linechart",
    "piechart",
    "pivotchart",
    "scatterchart",
    "stackedareachart",
    "table",
    "timechart",
    "timepivot",
    "treemap",
)
RENDER_PROPERTIES: Final = (
    "accumulate",
    "kind",
    "legend",
    "series",
    "title",
    "xaxis",
    "xcolumn",
    "xtitle",
    "xmin",
    "xmax",
    "yaxis",
    "ycolumns",
    "ymin",
    "ymax",
    "ysplit",
    "ytitle",
    "anomalycolumns",
)
KQL_TYPES: Final = ("bool", "int", "long", "real", "decimal", "string", "datetime", "timespan", "guid", "dynamic")


def check_type(kind: str) -> str:
    if kind not in KQL_TYPES:
        raise InvalidInputError(f"unknown KQL type {kind!r}; expected one of {', '.join(KQL_TYPES)}")
    return kind


# Sources (what a pipeline starts with) ----------------------------------------------------------------
class Source:
    __slots__ = ()


@attrs.frozen(eq=False)
class TableRef(Source):
    name: str


@attrs.frozen(eq=False)
class RangeSource(Source):
    column: str
    start: Expr
    stop: Expr
    step: Expr


@attrs.frozen(eq=False)
class DatatableSource(Source):
    columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple[Any, ...], ...]


@attrs.frozen(eq=False)
class PrintSource(Source):
    items: tuple[Expr, ...]


@attrs.frozen(eq=False)
class ParenSource(Source):
    """``( <query> )`` at the head of a pipeline."""

    query: Query


@attrs.frozen(eq=False)
class UnionSource(Source):
    union: Union


@attrs.frozen(eq=False)
class RawSource(Source):
    text: str


# Pipe operators ------------------------------------------------------------------------------------
class Op:
    __slots__ = ()


@attrs.frozen(eq=False)
class Where(Op):
    predicate: Expr


@attrs.frozen(eq=False)
class Extend(Op):
    items: tuple[Expr, ...]


@attrs.frozen(eq=False)
class Project(Op):
    items: tuple[Expr, ...]


@attrs.frozen(eq=False)
class ProjectAway(Op):
    names: tuple[str, ...]


@attrs.frozen(eq=False)
class ProjectRename(Op):
    pairs: tuple[tuple[str, str], ...]  # (new, old)


@attrs.frozen(eq=False)
class Summarize(Op):
    aggregations: tuple[Expr, ...]
    by: tuple[Expr, ...]


@attrs.frozen(eq=False)
class Sort(Op):
    keys: tuple[SortKey, ...]
    keyword: str = "sort"


@attrs.frozen(eq=False)
class Top(Op):
    count: int
    key: SortKey


@attrs.frozen(eq=False)
class Take(Op):
    count: int
    keyword: str = "take"


@attrs.frozen(eq=False)
class Distinct(Op):
    items: tuple[Expr, ...]


@attrs.frozen(eq=False)
class Count(Op):
    pass


@attrs.frozen(eq=False)
class Join(Op):
    right: Query
    on: tuple[Expr, ...]
    kind: str | None = None


@attrs.frozen(eq=False)
class Lookup(Op):
    right: Query
    on: tuple[Expr, ...]
    kind: str | None = None


@attrs.frozen(eq=False)
class Union(Op):
    sources: tuple[Query, ...]
    isfuzzy: bool = False
    withsource: str | None = None
    kind: str | None = None  # inner | outer


@attrs.frozen(eq=False)
class MvExpand(Op):
    items: tuple[Expr, ...]
    limit: int | None = None


@attrs.frozen(eq=False)
class Parse(Op):
    source: Expr
    pattern: tuple[Any, ...]  # str (literal text), (name, type) column captures, or "*" wildcard
    kind: str | None = None  # simple | regex | relaxed


@attrs.frozen(eq=False)
class Render(Op):
    visualization: str
    properties: tuple[tuple[str, Any], ...] = ()


@attrs.frozen(eq=False)
class RawOp(Op):
    text: str


# Let statements ------------------------------------------------------------------------------------
@attrs.frozen(eq=False)
class LetScalar:
    name: str
    value: Expr


@attrs.frozen(eq=False)
class LetTabular:
    name: str
    query: Query


@attrs.frozen(eq=False)
class LetFunction:
    name: str
    parameters: tuple[tuple[str, str], ...]
    body: Query | Expr


Let = LetScalar | LetTabular | LetFunction
