"""Tabular nodes (immutable): query heads (sources), pipe operators and let statements.

Like expressions, every node renders itself when built: ``lines`` holds its KQL lines (pipe operators with
their ``| `` prefix; a join or union with its indented sub-query), so rendering a query only concatenates.
Plain ``__slots__`` classes; assigning or deleting an attribute raises ``FrozenInstanceError``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from attrs.exceptions import FrozenInstanceError

from m365sentinel._errors import InvalidInputError
from m365sentinel.kql._expr import Expr, SortKey, _setter
from m365sentinel.kql._literals import quote_identifier, render_literal

if TYPE_CHECKING:
    from m365sentinel.kql._query import Query

__all__ = [
    "ApplySource",
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
    "MaterializeSource",
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


# Layout ---------------------------------------------------------------------------------------------
INDENT: Final = "    "
Lines = tuple[str, ...]


def indent(lines: Sequence[str]) -> list[str]:
    return [INDENT + line if line else line for line in lines]


def attach(prefix: str, block: Sequence[str], suffix: str = "") -> Lines:
    """``prefix`` + first line of ``block`` ... last line + ``suffix``."""
    if len(block) == 1:
        return (prefix + block[0] + suffix,)
    return (prefix + block[0], *block[1:-1], block[-1] + suffix)


def subquery(query: Query) -> Lines:
    """A sub-query operand: a bare table name, or a parenthesized, indented pipeline."""
    head = query.head
    if not query.lets and not query.ops and type(head) is TableRef:
        return head.lines
    return ("(", *indent(query.pipeline_lines()), ")")


def _join_blocks(keyword: str, blocks: Sequence[Lines]) -> Lines:
    """``keyword a, (\n ... \n), b``: operands separated by commas on the closing line of the previous one."""
    lines = list(attach(keyword + " ", blocks[0]))
    for block in blocks[1:]:
        lines[-1] += ", " + block[0]
        lines.extend(block[1:])
    return tuple(lines)


def _list(items: Sequence[Expr]) -> str:
    return ", ".join([i.text for i in items])


def _sort_key(key: SortKey) -> str:
    text = f"{key.expr.text} {key.order}"
    return f"{text} nulls {key.nulls}" if key.nulls else text


def _render_value(value: Any) -> str:
    return value.text if isinstance(value, Expr) else render_literal(value)


class _Node:
    """An immutable tabular node; ``lines`` is its KQL."""

    __slots__ = ("lines",)

    lines: Lines

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError()

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({chr(10).join(self.lines)!r})"


_set_lines = _setter(_Node, "lines")


def _fields(cls: type, *names: str) -> Callable[..., None]:
    """A filler for ``cls``'s slots ``names`` (in order), bypassing the frozen ``__setattr__``."""
    setters = tuple(_setter(cls, n) for n in names)
    # Unrolled for the common arities (a zip loop costs more than the stores): fills run on every operator.
    if len(setters) == 1:
        return setters[0]
    if len(setters) == 2:
        set_a, set_b = setters

        def fill2(node: object, a: object, b: object) -> None:
            set_a(node, a)
            set_b(node, b)

        return fill2
    if len(setters) == 3:
        set_1, set_2, set_3 = setters

        def fill3(node: object, a: object, b: object, c: object) -> None:
            set_1(node, a)
            set_2(node, b)
            set_3(node, c)

        return fill3

    def fill(node: object, *values: object) -> None:
        for set_, value in zip(setters, values, strict=True):
            set_(node, value)

    return fill


# Sources (what a pipeline starts with) ----------------------------------------------------------------
class Source(_Node):
    __slots__ = ()


class TableRef(Source):
    __slots__ = ("name",)

    name: str

    def __init__(self, name: str) -> None:
        _set_lines(self, (quote_identifier(name),))
        _set_table_name(self, name)


_set_table_name = _setter(TableRef, "name")


class RangeSource(Source):
    __slots__ = ("column", "start", "step", "stop")

    column: str
    start: Expr
    stop: Expr
    step: Expr

    def __init__(self, column: str, start: Expr, stop: Expr, step: Expr) -> None:
        _set_lines(self, (f"range {quote_identifier(column)} from {start.text} to {stop.text} step {step.text}",))
        _set_range_column(self, column)
        _set_range_start(self, start)
        _set_range_stop(self, stop)
        _set_range_step(self, step)


_set_range_column = _setter(RangeSource, "column")
_set_range_start = _setter(RangeSource, "start")
_set_range_stop = _setter(RangeSource, "stop")
_set_range_step = _setter(RangeSource, "step")


class DatatableSource(Source):
    __slots__ = ("columns", "rows")

    columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple[Any, ...], ...]

    def __init__(self, columns: tuple[tuple[str, str], ...], rows: tuple[tuple[Any, ...], ...]) -> None:
        cols = ", ".join(f"{quote_identifier(n)}: {t}" for n, t in columns)
        values = ", ".join(render_literal(v) for row in rows for v in row)
        _set_lines(self, (f"datatable({cols}) [{values}]",))
        _fields(DatatableSource, "columns", "rows")(self, columns, rows)


class PrintSource(Source):
    __slots__ = ("items",)

    items: tuple[Expr, ...]

    def __init__(self, items: tuple[Expr, ...]) -> None:
        _set_lines(self, ("print " + _list(items),))
        _fields(PrintSource, "items")(self, items)


class ParenSource(Source):
    """``( <query> )`` at the head of a pipeline."""

    __slots__ = ("query",)

    query: Query

    def __init__(self, query: Query) -> None:
        _set_lines(self, attach("(", query.pipeline_lines(), ")"))
        _set_paren_query(self, query)


_set_paren_query = _setter(ParenSource, "query")


class MaterializeSource(Source):
    """``materialize( <query> )``: a tabular expression whose result is computed once and cached."""

    __slots__ = ("query",)

    query: Query

    def __init__(self, query: Query) -> None:
        _set_lines(self, ("materialize(", *indent(query.pipeline_lines()), ")"))
        _fields(MaterializeSource, "query")(self, query)


class ApplySource(Source):
    """The implicit input of an ``mv-apply`` sub-query (renders nothing: the sub-query starts with an operator)."""

    __slots__ = ()

    def __init__(self) -> None:
        _set_lines(self, ())


class UnionSource(Source):
    __slots__ = ("union",)

    union: Union

    def __init__(self, union: Union) -> None:
        _set_lines(self, union.body)
        _fields(UnionSource, "union")(self, union)


class RawSource(Source):
    __slots__ = ("text",)

    text: str

    def __init__(self, text: str) -> None:
        _set_lines(self, (text,))
        _fields(RawSource, "text")(self, text)


# Pipe operators ------------------------------------------------------------------------------------
class Op(_Node):
    __slots__ = ()


class Where(Op):
    __slots__ = ("predicate",)

    predicate: Expr

    def __init__(self, predicate: Expr) -> None:
        _set_lines(self, ("| where " + predicate.text,))
        _set_where_predicate(self, predicate)


_set_where_predicate = _setter(Where, "predicate")


class Extend(Op):
    __slots__ = ("items",)

    items: tuple[Expr, ...]

    def __init__(self, items: tuple[Expr, ...]) -> None:
        _set_lines(self, ("| extend " + ", ".join([i.text for i in items]),))
        _set_extend_items(self, items)


_set_extend_items = _setter(Extend, "items")


class Project(Op):
    __slots__ = ("items",)

    items: tuple[Expr, ...]

    def __init__(self, items: tuple[Expr, ...]) -> None:
        _set_lines(self, ("| project " + ", ".join([i.text for i in items]),))
        _set_project_items(self, items)


_set_project_items = _setter(Project, "items")


class ProjectAway(Op):
    __slots__ = ("names",)

    names: tuple[str, ...]

    def __init__(self, names: tuple[str, ...]) -> None:
        _set_lines(self, ("| project-away " + ", ".join(quote_identifier(n) for n in names),))
        _fields(ProjectAway, "names")(self, names)


class ProjectRename(Op):
    __slots__ = ("pairs",)

    pairs: tuple[tuple[str, str], ...]  # (new, old)

    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        text = ", ".join(f"{quote_identifier(n)} = {quote_identifier(old)}" for n, old in pairs)
        _set_lines(self, ("| project-rename " + text,))
        _fields(ProjectRename, "pairs")(self, pairs)


class Summarize(Op):
    __slots__ = ("aggregations", "by")

    aggregations: tuple[Expr, ...]
    by: tuple[Expr, ...]

    def __init__(self, aggregations: tuple[Expr, ...], by: tuple[Expr, ...]) -> None:
        if len(aggregations) == 1:  # the common shapes (one aggregation, one key) without a join
            text = "| summarize " + aggregations[0].text
        else:
            text = "| summarize " + ", ".join([a.text for a in aggregations]) if aggregations else "| summarize"
        if by:
            text += " by " + (by[0].text if len(by) == 1 else ", ".join([b.text for b in by]))
        _set_lines(self, (text,))
        _set_summarize_aggregations(self, aggregations)
        _set_summarize_by(self, by)


_set_summarize_aggregations = _setter(Summarize, "aggregations")
_set_summarize_by = _setter(Summarize, "by")


class Sort(Op):
    __slots__ = ("keys", "keyword")

    keys: tuple[SortKey, ...]
    keyword: str

    def __init__(self, keys: tuple[SortKey, ...], keyword: str = "sort") -> None:
        _set_lines(self, (f"| {keyword} by " + ", ".join([_sort_key(k) for k in keys]),))
        _fill_sort(self, keys, keyword)


_fill_sort = _fields(Sort, "keys", "keyword")


class Top(Op):
    __slots__ = ("count", "key")

    count: int
    key: SortKey

    def __init__(self, count: int, key: SortKey) -> None:
        _set_lines(self, (f"| top {count} by {_sort_key(key)}",))
        _fields(Top, "count", "key")(self, count, key)


class Take(Op):
    __slots__ = ("count", "keyword")

    count: int
    keyword: str

    def __init__(self, count: int, keyword: str = "take") -> None:
        _set_lines(self, (f"| {keyword} {count}",))
        _fields(Take, "count", "keyword")(self, count, keyword)


class Distinct(Op):
    __slots__ = ("items",)

    items: tuple[Expr, ...]

    def __init__(self, items: tuple[Expr, ...]) -> None:
        _set_lines(self, ("| distinct " + _list(items),))
        _fields(Distinct, "items")(self, items)


class Count(Op):
    __slots__ = ()

    def __init__(self) -> None:
        _set_lines(self, ("| count",))


class _JoinLike(Op):
    __slots__ = ("kind", "on", "right")

    keyword = "join"
    right: Query
    on: tuple[Expr, ...]
    kind: str | None

    def __init__(self, right: Query, on: tuple[Expr, ...], kind: str | None = None) -> None:
        keyword = f"{self.keyword} kind={kind}" if kind else self.keyword
        _set_lines(self, attach(f"| {keyword} ", subquery(right), " on " + _list(on)))
        _fields(_JoinLike, "right", "on", "kind")(self, right, on, kind)


class Join(_JoinLike):
    __slots__ = ()


class Lookup(_JoinLike):
    __slots__ = ()

    keyword = "lookup"


class Union(Op):
    """``union`` with its operands; ``body`` is its text without the pipe (also a query head: UnionSource)."""

    __slots__ = ("body", "isfuzzy", "kind", "sources", "withsource")

    sources: tuple[Query, ...]
    isfuzzy: bool
    withsource: str | None
    kind: str | None  # inner | outer
    body: Lines

    def __init__(
        self, sources: tuple[Query, ...], isfuzzy: bool = False, withsource: str | None = None, kind: str | None = None
    ) -> None:
        keyword = "union"
        if kind:
            keyword += f" kind={kind}"
        if withsource:
            keyword += f" withsource={quote_identifier(withsource)}"
        if isfuzzy:
            keyword += " isfuzzy=true"
        if len(sources) > 1:
            body = _join_blocks(keyword, [subquery(s) for s in sources])
        else:
            # One operand (the time chart's case), laid out directly: ``union ... (`` + indented pipeline + ``)``.
            only = sources[0]
            if not only.lets and not only.ops and type(only.head) is TableRef:
                body = (f"{keyword} {only.head.lines[0]}",)
            else:
                body = (f"{keyword} (", *[INDENT + line if line else line for line in only.pipeline_lines()], ")")
        _set_lines(self, ("| " + body[0], *body[1:]))
        _set_union_sources(self, sources)
        _set_union_isfuzzy(self, isfuzzy)
        _set_union_withsource(self, withsource)
        _set_union_kind(self, kind)
        _set_union_body(self, body)


_set_union_sources = _setter(Union, "sources")
_set_union_isfuzzy = _setter(Union, "isfuzzy")
_set_union_withsource = _setter(Union, "withsource")
_set_union_kind = _setter(Union, "kind")
_set_union_body = _setter(Union, "body")


class MvExpand(Op):
    __slots__ = ("items", "limit")

    items: tuple[Expr, ...]
    limit: int | None

    def __init__(self, items: tuple[Expr, ...], limit: int | None = None, types: tuple[str | None, ...] = ()) -> None:
        text = "| mv-expand " + typed_items(items, types)
        _set_lines(self, (text if limit is None else f"{text} limit {limit}",))
        _fields(MvExpand, "items", "limit")(self, items, limit)


def typed_items(items: Sequence[Expr], types: Sequence[str | None]) -> str:
    """``A, B to typeof(string)``: each item with its ``to typeof()`` when ``types`` (aligned) gives one."""
    if not types:
        return _list(items)
    return ", ".join(f"{i.text} to typeof({t})" if t else i.text for i, t in zip(items, types, strict=True))


class Parse(Op):
    __slots__ = ("kind", "pattern", "source")

    source: Expr
    pattern: tuple[Any, ...]  # str (literal text), (name, type) column captures, or "*" wildcard
    kind: str | None  # simple | regex | relaxed

    def __init__(
        self, source: Expr, pattern: tuple[Any, ...], kind: str | None = None, flags: str | None = None
    ) -> None:
        parts: list[str] = []
        for item in pattern:
            if item == "*":
                parts.append("*")
            elif isinstance(item, str):
                parts.append(render_literal(item))
            else:
                parts.append(f"{quote_identifier(item[0])}: {item[1]}")
        kind_text = f" kind={kind}" if kind else ""
        kind_text += f" flags={flags}" if flags else ""
        _set_lines(self, (f"| parse{kind_text} {source.text} with " + " ".join(parts),))
        _fields(Parse, "source", "pattern", "kind")(self, source, pattern, kind)


class Render(Op):
    __slots__ = ("properties", "visualization")

    visualization: str
    properties: tuple[tuple[str, Any], ...]

    def __init__(self, visualization: str, properties: tuple[tuple[str, Any], ...] = ()) -> None:
        text = "| render " + visualization
        if properties:
            text += " with (" + ", ".join(f"{k}={_render_value(v)}" for k, v in properties) + ")"
        _set_lines(self, (text,))
        _fill_render(self, visualization, properties)


_fill_render = _fields(Render, "visualization", "properties")


class Composed(Op):
    """An operator whose text the builder composed from checked parts (rendered expressions, quoted names,
    validated keywords), e.g. ``make-series``, ``evaluate``; never caller text."""

    __slots__ = ("text",)

    text: str

    def __init__(self, text: str) -> None:
        _set_lines(self, ("| " + text,))
        _fields(Composed, "text")(self, text)


class ComposedBlock(Op):
    """A multi-line ``Composed`` operator (``mv-apply ... on (``, ``scan ... with (``): first line, then the rest."""

    __slots__ = ()

    def __init__(self, first: str, rest: Sequence[str]) -> None:
        _set_lines(self, ("| " + first, *rest))


class RawOp(Op):
    __slots__ = ("text",)

    text: str

    def __init__(self, text: str) -> None:
        _set_lines(self, ("| " + text,))
        _fields(RawOp, "text")(self, text)


# Let statements ------------------------------------------------------------------------------------
class LetScalar(_Node):
    __slots__ = ("name", "value")

    name: str
    value: Expr

    def __init__(self, name: str, value: Expr) -> None:
        _set_lines(self, (f"let {quote_identifier(name)} = {value.text};",))
        _fill_let_scalar(self, name, value)


_fill_let_scalar = _fields(LetScalar, "name", "value")


class LetTabular(_Node):
    __slots__ = ("name", "query")

    name: str
    query: Query

    def __init__(self, name: str, query: Query) -> None:
        if not query.ops and type(query.head) is MaterializeSource and not query.lets:
            _set_lines(self, attach(f"let {quote_identifier(name)} = ", query.head.lines, ";"))
        elif query.lets:  # a parenthesized body holds no statements: keep the sub-query's lets in its own scope
            body = indent([*_let_lines(query.lets), *query.pipeline_lines()])
            _set_lines(self, (f"let {quote_identifier(name)} = () {{", *body, "};"))
        else:
            _set_lines(self, (f"let {quote_identifier(name)} = (", *indent(query.pipeline_lines()), ");"))
        _fields(LetTabular, "name", "query")(self, name, query)


class LetFunction(_Node):
    __slots__ = ("body", "name", "parameters")

    name: str
    parameters: tuple[tuple[str, str], ...]
    body: Query | Expr

    def __init__(self, name: str, parameters: tuple[tuple[str, str], ...], body: Query | Expr) -> None:
        head = f"let {quote_identifier(name)} = ({', '.join(f'{quote_identifier(p)}: {t}' for p, t in parameters)})"
        if isinstance(body, Expr):
            _set_lines(self, (f"{head} {{ {body.text} }};",))
        else:
            _set_lines(self, (head + " {", *indent([*_let_lines(body.lets), *body.pipeline_lines()]), "};"))
        _fields(LetFunction, "name", "parameters", "body")(self, name, parameters, body)


Let = LetScalar | LetTabular | LetFunction


def _let_lines(lets: Sequence[Let]) -> list[str]:
    out: list[str] = []
    for let in lets:
        out += let.lines
    return out
