"""The fluent, immutable ``Query``: every method returns a new Query; ``str(q)`` renders it.

A Query knows its output columns while it can (from a table schema, through where/extend/project/
summarize/...), and checks every column a method references, and every literal compared with a typed
column, at build time. When the shape becomes unknown (join, union, ``*`` aggregations, raw text) checks stop.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs
from attrs.exceptions import FrozenInstanceError

from m365sentinel._errors import InvalidInputError
from m365sentinel._inputs import check_text
from m365sentinel.kql import _ops as o
from m365sentinel.kql._expr import (
    Alias,
    Binary,
    Call,
    Column,
    Expr,
    JoinSide,
    Literal,
    Pending,
    SortKey,
    Star,
    SubqueryScalar,
    _setter,
    to_expr,
)
from m365sentinel.kql._letgraph import order_lets
from m365sentinel.kql._literals import is_plain_identifier, quote_identifier
from m365sentinel.kql._render import render_query
from m365sentinel.kql._schemas import schema_for, unknown_column

__all__ = ["Columns", "Query"]

Columns = tuple[tuple[str, str | None], ...]
_NUMERIC: Final = frozenset({"int", "long", "real", "decimal"})
_NAME_FROM_FIRST_ARG: Final = frozenset({"bin", "bin_at", "floor", "startofday", "startofweek", "startofmonth"})
_AGG_DEFAULT_NAMES: Final = {"count": "count_"}
_LONG_AGGREGATIONS: Final = frozenset({"count", "countif", "dcount", "dcountif"})
_EVALUATE_PLUGINS: Final = frozenset({"bag_unpack", "pivot", "narrow"})


def _compatible(column_kind: str, literal_kind: str) -> bool:
    if column_kind == "dynamic" or literal_kind == "dynamic":
        return True
    if column_kind in _NUMERIC:
        return literal_kind in _NUMERIC
    return column_kind == literal_kind


def _check_literal_kinds(pending: tuple[Pending, ...], kinds: Mapping[str, str | None]) -> None:
    """Raise when a literal of the wrong kind is compared with a column (a string against a datetime)."""
    for col, lit, string_op in pending:
        kind = col.kind or kinds.get(col.name)
        if kind is None:
            continue
        want = "string" if string_op else kind
        if not _compatible(want, lit.kind):
            raise InvalidInputError(
                f"column {col.name!r} is {kind}; cannot compare it with {lit.kind} literal {lit.value!r} "
                f"(pass a {want} value)"
            )


def _output_name(expr: Expr) -> str | None:
    """The column name KQL gives an unnamed expression, when it is easy to know."""
    cls = type(expr)
    if cls is Alias or cls is Column:  # exact types first: this runs for every summarized/projected item
        return expr.name  # type: ignore[attr-defined, no-any-return]
    if cls is Call:
        name, args = expr.name, expr.args  # type: ignore[attr-defined]
        if name in _NAME_FROM_FIRST_ARG:
            return args[0].name if args and isinstance(args[0], Column) else None
        return _AGG_DEFAULT_NAMES[name] if not args and name in _AGG_DEFAULT_NAMES else None
    if isinstance(expr, Alias):
        return expr.name
    if isinstance(expr, Column):
        return expr.name
    if isinstance(expr, Call):
        if expr.name in _NAME_FROM_FIRST_ARG and expr.args and isinstance(expr.args[0], Column):
            return expr.args[0].name
        if expr.name in _AGG_DEFAULT_NAMES and not expr.args:
            return _AGG_DEFAULT_NAMES[expr.name]
    return None


def _as_expr(item: object) -> Expr:
    """Column names given as str become columns; everything else is coerced as a value."""
    return Column(item) if isinstance(item, str) else to_expr(item)


def _named(items: tuple[object, ...], named: Mapping[str, object]) -> tuple[Expr, ...]:
    if not named:
        for item in items:
            if not isinstance(item, Expr):
                break
        else:
            return items  # type: ignore[return-value]  # all expressions already (the common case)
    exprs = [i if isinstance(i, Expr) else _as_expr(i) for i in items]
    for name, value in named.items():
        exprs.append(Alias(name, value if isinstance(value, Expr) else Literal(value)))
    return tuple(exprs)


def _sort_key(key: object, default: str | None, nulls: str | None) -> SortKey:
    if isinstance(key, SortKey):
        return key
    return SortKey(_as_expr(key), default or "desc", nulls)  # KQL sorts descending by default


class Query:
    """An immutable KQL query: ``lets`` (let statements), a ``head`` source and pipe ``ops``.

    Build with ``kql.table(name)``, ``kql.range_(...)``, ``kql.datatable(...)``, ``kql.print_(...)``,
    ``kql.union(...)``; render with ``str(q)`` or ``q.to_kql()``. ``columns`` is the known output shape
    (``None`` when unknown); ``timespan`` the time window the query needs. Assigning an attribute raises
    ``FrozenInstanceError``. A plain ``__slots__`` class: every fluent call builds one, so its construction
    is kept to a handful of slot stores.
    """

    __slots__ = ("_kinds", "_text", "columns", "head", "lets", "ops", "source_name", "timespan")

    head: o.Source
    ops: tuple[o.Op, ...]
    lets: tuple[o.LetScalar | o.LetTabular | o.LetFunction, ...]
    columns: Columns | None
    source_name: str
    # The time window the query needs from the service's ``timespan`` (a 14-day chart needs 14 days); the
    # Connector passes it when the caller gives none and refuses a shorter one. Kept through further pipes.
    timespan: _dt.timedelta | None
    # {column: kind} of ``columns``, built once per shape and handed on while the shape stays the same.
    _kinds: Mapping[str, str | None] | None
    # The rendered text, computed on first use: the query is immutable, so it never goes stale.
    _text: str | None

    def __init__(
        self,
        head: o.Source,
        ops: tuple[o.Op, ...] = (),
        lets: tuple[o.LetScalar | o.LetTabular | o.LetFunction, ...] = (),
        columns: Columns | None = None,
        source_name: str = "query",
        timespan: _dt.timedelta | None = None,
    ) -> None:
        _fill(self, head, ops, lets, columns, source_name, timespan, None)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError()

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError()

    def __repr__(self) -> str:
        return f"Query({self.to_kql()!r})"

    # rendering ---------------------------------------------------------------------------------------
    def to_kql(self) -> str:
        """The KQL text of this query."""
        text = self._text
        if text is None:
            text = render_query(self)
            _set_text(self, text)
        return text

    def __str__(self) -> str:
        return self.to_kql()

    def pipeline_lines(self) -> list[str]:
        """The pipeline's KQL lines (head and pipe operators, without the let statements)."""
        lines = list(self.head.lines)
        for op in self.ops:
            lines += op.lines
        return lines

    def __eq__(self, other: object) -> bool:
        """Queries are equal when they render the same text (expressions overload ``==`` themselves)."""
        return isinstance(other, Query) and self.to_kql() == other.to_kql()

    def __hash__(self) -> int:
        return hash(self.to_kql())

    def with_timespan(self, timespan: _dt.timedelta | None) -> Query:
        """This query declaring the time window it needs (``Connector.query`` uses it as the default timespan
        and refuses a shorter one). Raises InvalidInputError for a non-positive or non-timedelta value."""
        if timespan is not None and (not isinstance(timespan, _dt.timedelta) or timespan <= _dt.timedelta(0)):
            raise InvalidInputError(f"timespan must be a positive datetime.timedelta or None, got {timespan!r}")
        return _make(self.head, self.ops, self.lets, self.columns, self.source_name, timespan, self._kinds)

    # columns -----------------------------------------------------------------------------------------
    def _kind_map(self) -> Mapping[str, str | None] | None:
        kinds = self._kinds
        if kinds is None and self.columns is not None:
            kinds = dict(self.columns)
            _set_kinds(self, kinds)
        return kinds

    def col(self, name: str) -> Column:
        """The typed column ``name`` of this query's output; InvalidInputError when the schema lacks it."""
        kinds = self._kinds if self._kinds is not None else self._kind_map()
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"expected a non-empty str as a column name, got {name!r}")
        if kinds is None:
            return Column(name)
        if name in kinds:
            kind = kinds[name]
            column = _COLUMNS.get((name, kind))
            if column is None:
                column = Column(name, kind)
                if len(_COLUMNS) < 4096:  # bounded; a Column is immutable, so one node is shared
                    _COLUMNS[(name, kind)] = column
            return column
        raise unknown_column(name, list(kinds), self.source_name)

    @property
    def c(self) -> _ColumnAccessor:
        """Attribute access to typed columns: ``q.c.ProviderName``."""
        acc = _TABLE_ACCESSORS.get(self.source_name)
        # ``kql.table(name)`` is one shared query: so is its accessor.
        if acc is not None and _get_accessor_query(acc, _ColumnAccessor) is self:
            return acc
        acc = _new_accessor(_ColumnAccessor)
        _set_accessor_query(acc, self)
        return acc

    def _kind(self, name: str) -> str | None:
        kinds = self._kind_map()
        return None if kinds is None else kinds.get(name)

    def _check(self, exprs: Iterable[Expr]) -> bool:
        """Raise for unknown columns and mismatched literals; True when a ``*`` occurs (shape unknown after).

        Each node carries the column names it references and its column/literal comparisons (collected when
        it was built), so this is a few set lookups, not a tree walk."""
        kinds = self._kinds if self._kinds is not None else self._kind_map()
        if kinds is None:
            return False
        star = False
        for expr in exprs:
            refs, pend = expr.deps
            for name in refs:
                if name is None:
                    star = True
                elif name not in kinds:
                    raise unknown_column(name, list(kinds), self.source_name)
            if pend:
                _check_literal_kinds(pend, kinds)
        return star

    def _with(self, op: o.Op, columns: Columns | str | None = "same") -> Query:
        if columns == "same":
            return _make(
                self.head, (*self.ops, op), self.lets, self.columns, self.source_name, self.timespan, self._kinds
            )
        assert not isinstance(columns, str)
        return _make(self.head, (*self.ops, op), self.lets, columns, self.source_name, self.timespan, None)

    def _outputs(self, exprs: Iterable[Expr]) -> Columns | None:
        out: dict[str, str | None] = {}
        kinds = None
        for e in exprs:
            if type(e) is Column:
                if kinds is None:
                    kinds = self._kind_map() or {}
                name: str | None = e.name
                kind = kinds.get(e.name)
            else:
                name, kind = _output_name(e), None
                if name is None:
                    return None
            out.pop(name, None)  # type: ignore[arg-type]  # a later column of the same name replaces it, at the end
            out[name] = kind  # type: ignore[index]
        return tuple(out.items())

    # filtering and shaping ---------------------------------------------------------------------------
    def where(self, *predicates: Expr) -> Query:
        """``| where p1 and p2 ...``."""
        if not predicates:
            raise InvalidInputError("where() needs at least one predicate")
        for p in predicates:
            if not isinstance(p, Expr):
                raise InvalidInputError(f"where() takes expressions such as kql.col('A') == 1, got {p!r}")
        self._check(predicates)
        pred = predicates[0]
        if len(predicates) > 1:
            for p in predicates[1:]:
                pred = Binary("and", pred, p)
        return _make(
            self.head, (*self.ops, o.Where(pred)), self.lets, self.columns, self.source_name, self.timespan, self._kinds
        )

    def extend(self, *items: Expr, **named: object) -> Query:
        """``| extend Name = expr, ...`` (keywords, or ``expr.as_("Name")``)."""
        exprs = _named(items, named)
        self._check(exprs)
        cols: Columns | None = None
        if self.columns is not None:
            added = self._outputs(exprs)
            if added is not None:
                keep = [c for c in self.columns if c[0] not in {n for n, _ in added}]
                cols = (*keep, *added)
        return self._with(o.Extend(exprs), cols)

    def project(self, *items: object, **named: object) -> Query:
        """``| project A, B, Name = expr``; strings name columns."""
        exprs = _named(items, named)
        self._check(exprs)
        return self._with(o.Project(exprs), self._outputs(exprs) if self.columns is not None else None)

    def project_away(self, *names: str) -> Query:
        self._check([Column(n) for n in names])
        cols = None if self.columns is None else tuple(c for c in self.columns if c[0] not in names)
        return self._with(o.ProjectAway(tuple(names)), cols)

    def project_rename(self, pairs: Mapping[str, str] | None = None, **renames: str) -> Query:
        """``| project-rename New = Old``; pass ``{"New": "Old"}`` or ``New="Old"``."""
        if pairs is not None and not isinstance(pairs, Mapping):
            raise InvalidInputError(f"project_rename() takes a mapping {{'New': 'Old'}}, got {pairs!r}")
        items = {**(pairs or {}), **renames}
        self._check([Column(old) for old in items.values()])
        cols = None
        if self.columns is not None:
            back = {old: new for new, old in items.items()}
            cols = tuple((back.get(n, n), k) for n, k in self.columns)
        return self._with(o.ProjectRename(tuple(items.items())), cols)

    def summarize(self, *aggregations: Expr, by: object | Iterable[object] = (), **named: Expr) -> Query:
        """``| summarize Name = agg(...), ... by key, ...``."""
        aggs = _named(aggregations, named)
        if isinstance(by, Expr):
            by_exprs: tuple[Expr, ...] = (by,)
        elif isinstance(by, str):
            by_exprs = (Column(by),)
        else:
            by_exprs = tuple(_as_expr(k) for k in _items(by, "summarize(by=)"))
        items = (*by_exprs, *aggs)  # output order; the check reports the first unknown column in this order
        star = self._check(items)
        cols = None if star or self.columns is None else self._outputs(items)
        return _make(
            self.head, (*self.ops, o.Summarize(aggs, by_exprs)), self.lets, cols, self.source_name, self.timespan, None
        )

    def sort_by(self, *keys: object, order: str | None = None, nulls: str | None = None) -> Query:
        """``| sort by k1 [asc|desc] [nulls first|last], ...``; plain keys use ``order`` (default desc, as KQL)."""
        sk = tuple(_sort_key(k, order, nulls) for k in keys)
        self._check([k.expr for k in sk])
        return self._with(o.Sort(sk))

    def order_by(self, *keys: object, order: str | None = None, nulls: str | None = None) -> Query:
        sk = tuple(_sort_key(k, order, nulls) for k in keys)
        self._check([k.expr for k in sk])
        return self._with(o.Sort(sk, keyword="order"))

    def top(self, n: int, by: object, *, order: str | None = None, nulls: str | None = None) -> Query:
        key = _sort_key(by, order, nulls)
        self._check([key.expr])
        return self._with(o.Top(_count(n), key))

    def take(self, n: int) -> Query:
        return self._with(o.Take(_count(n)))

    def limit(self, n: int) -> Query:
        return self._with(o.Take(_count(n), keyword="limit"))

    def distinct(self, *items: object) -> Query:
        exprs = tuple(_as_expr(i) for i in items) or (Star(),)
        self._check(exprs)
        cols = self.columns if isinstance(exprs[0], Star) else self._outputs(exprs)
        return self._with(o.Distinct(exprs), cols)

    def count(self) -> Query:
        return self._with(o.Count(), (("Count", "long"),))

    def mv_expand(
        self, *items: object, limit: int | None = None, types: Mapping[str, str] | None = None, **named: object
    ) -> Query:
        """``| mv-expand [limit N] Col [to typeof(T)], Name = Col2 [to typeof(T)]``; str values name columns here.

        ``types``: ``{output name: KQL type}`` for ``to typeof()``; the others stay dynamic."""
        exprs = _named(items, {k: _as_expr(v) for k, v in named.items()})
        if not exprs:
            raise InvalidInputError("mv_expand() needs at least one column")
        self._check(exprs)
        kinds = _expand_types(exprs, types)
        if limit is not None:
            _count(limit)
        return self._with(o.MvExpand(exprs, limit, kinds), self._expanded(exprs, kinds))

    def _expanded(self, exprs: tuple[Expr, ...], kinds: tuple[str | None, ...]) -> Columns | None:
        """The columns after expanding ``exprs``: a column keeps its place, a named one is added at the end."""
        if self.columns is None:
            return None
        out = dict(self.columns)
        for expr, kind in zip(exprs, kinds or (None,) * len(exprs), strict=True):
            name = _output_name(expr)
            if name is None:
                return None
            if not isinstance(expr, Column):
                out.pop(name, None)
            out[name] = kind or "dynamic"
        return tuple(out.items())

    def mv_apply(
        self, *items: object, on: Callable[[Query], Query], types: Mapping[str, str] | None = None, **named: object
    ) -> Query:
        """``| mv-apply Col [to typeof(T)], Name = Col2 ... on (sub-query)``.

        ``on`` receives the per-row input (the expanded columns typed by ``types``, the others as they are) and
        returns it with operators appended: ``on=lambda t: t.where(...).take(1)``. Raises InvalidInputError
        when it returns anything else, or a query with let statements."""
        exprs = _named(items, {k: _as_expr(v) for k, v in named.items()})
        if not exprs:
            raise InvalidInputError("mv_apply() needs at least one column")
        self._check(exprs)
        kinds = _expand_types(exprs, types)
        start = _make(o.ApplySource(), (), (), self._expanded(exprs, kinds), self.source_name, None, None)
        inner = on(start)
        if not isinstance(inner, Query) or inner.head is not start.head or not inner.ops or inner.lets:
            raise InvalidInputError(
                f"mv_apply(on=...) must return the query it is given with operators appended (no lets), got {inner!r}"
            )
        lines = inner.pipeline_lines()
        lines[0] = lines[0][2:]  # the sub-query starts with its first operator, without a pipe
        first = "mv-apply " + o.typed_items(exprs, kinds) + " on ("
        cols: Columns | None = None
        if self.columns is not None and inner.columns is not None:
            applied = {_output_name(e) for e in exprs}
            out = {n: k for n, k in self.columns if n not in applied}
            out.update(inner.columns)
            cols = tuple(out.items())
        return self._with(o.ComposedBlock(first, (*o.indent(lines), ")")), cols)

    def invoke(self, function: str, *args: object) -> Query:
        """``| invoke function(args)``: a tabular function (a ``let`` of this query) applied to this input; its
        output shape is unknown to the builder. Arguments are values (a str is a string literal)."""
        if not (isinstance(function, str) and is_plain_identifier(function)):
            raise InvalidInputError(f"invoke() takes a function name (a plain identifier), got {function!r}")
        exprs = tuple(to_expr(a) for a in args)
        self._check(exprs)
        return self._with(o.Composed(f"invoke {function}(" + ", ".join(e.text for e in exprs) + ")"), None)

    def top_nested(self, *levels: NestedLevel) -> Query:
        """``| top-nested N of Col [with others = V] by Agg [asc|desc], ...`` (levels from ``kql.nested``).

        Output: per level its ``of`` column and its aggregation (named ``aggregated_<of>`` when unnamed)."""
        if not levels or not all(isinstance(level, NestedLevel) for level in levels):
            raise InvalidInputError(f"top_nested() takes kql.nested(...) levels, got {levels!r}")
        self._check([e for level in levels for e in (level.of, level.by)])
        parts: list[str] = []
        outs: list[tuple[str, str | None]] | None = [] if self.columns is not None else None
        for level in levels:
            text = f"top-nested {level.count} of {level.of.text}"
            text += f" with others = {level.others.text}" if level.others is not None else ""
            parts.append(text + f" by {level.by.text}" + (f" {level.order}" if level.order else ""))
            of_name = _output_name(level.of)
            if outs is not None and of_name is not None:
                agg = level.by.expr if isinstance(level.by, Alias) else level.by
                agg_kind = "long" if isinstance(agg, Call) and agg.name in _LONG_AGGREGATIONS else None
                of_kind = self._kind(level.of.name) if isinstance(level.of, Column) else None
                agg_name = level.by.name if isinstance(level.by, Alias) else f"aggregated_{of_name}"
                outs += [(of_name, of_kind), (agg_name, agg_kind)]
            else:
                outs = None
        return self._with(o.Composed(", ".join(parts)), None if outs is None else tuple(outs))

    def scan(self, *steps: ScanStep, declare: Mapping[str, str] | None = None, match_id: str | None = None) -> Query:
        """``| scan [with_match_id=Id] [declare (Name: type, ...)] with (step s1 [output=...]: cond [=> A = e];
        ...)``; steps from ``kql.scan_step``, earlier steps' values as ``kql.step_ref("s1", "Col")``.

        Adds the declared columns and the match id (``match_id`` unless named; long). Raises
        InvalidInputError for unknown columns, an assignment to an undeclared column or a step named twice."""
        if not steps or not all(isinstance(s, ScanStep) for s in steps):
            raise InvalidInputError(f"scan() takes kql.scan_step(...) steps, got {steps!r}")
        declared = {str(n): o.check_type(str(t)) for n, t in (declare or {}).items()}
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"scan step names must differ, got {names}")
        for step in steps:
            for target, _ in step.assign:
                if target not in declared:
                    raise InvalidInputError(f"scan step {step.name!r} assigns {target!r}, which is not declared")
        cols = None if self.columns is None else (*self.columns, *declared.items())
        scope = _make(self.head, self.ops, (), cols, self.source_name, None, None)
        scope._check([e for s in steps for e in (s.condition, *(v for _, v in s.assign))])
        head = "scan"
        head += f" with_match_id={quote_identifier(match_id)}" if match_id is not None else ""
        if declared:
            head += " declare (" + ", ".join(f"{quote_identifier(n)}: {t}" for n, t in declared.items()) + ")"
        body = []
        for s in steps:
            line = f"step {s.name}" + (f" output={s.output}" if s.output else "") + f": {s.condition.text}"
            if s.assign:
                line += " => " + ", ".join(f"{quote_identifier(n)} = {v.text}" for n, v in s.assign)
            body.append(o.INDENT + line + ";")
        out = None if cols is None else (*cols, (match_id or "match_id", "long"))
        return self._with(o.ComposedBlock(head + " with (", (*body, ")")), out)

    def parse(self, source: object, *pattern: object, kind: str | None = None, flags: str | None = None) -> Query:
        """``| parse [kind=...] [flags=...] source with "lit" Name:type "lit" ... *``.

        Pattern items: str (literal text), ``(name, kql_type)`` captures, and ``"*"`` (any text). ``flags``
        (regex kind only): letters of ``imsU`` (case-insensitive, multi-line, dot matches newline, ungreedy)."""
        if flags is not None and (kind != "regex" or not flags or any(f not in "imsU" for f in flags)):
            raise InvalidInputError(f"parse flags must be letters of 'imsU' with kind='regex', got {flags!r}")
        src = _as_expr(source)
        self._check([src])
        items: list[Any] = []
        added: list[tuple[str, str | None]] = []
        for item in pattern:
            if isinstance(item, tuple) and len(item) == 2:
                items.append((str(item[0]), o.check_type(str(item[1]))))
                added.append((str(item[0]), str(item[1])))
            elif isinstance(item, str):
                items.append(item)
            else:
                raise InvalidInputError(f"parse pattern items are str or (name, type), got {item!r}")
        if kind not in (None, "simple", "regex", "relaxed"):
            raise InvalidInputError(f"parse kind must be simple, regex or relaxed, got {kind!r}")
        cols = None if self.columns is None else (*self.columns, *added)
        return self._with(o.Parse(src, tuple(items), kind, flags), cols)

    def project_reorder(self, *names: str) -> Query:
        """``| project-reorder A, B`` (named columns first, in this order; the others keep theirs)."""
        if not names or not all(isinstance(n, str) and n for n in names):
            raise InvalidInputError(f"project_reorder() needs column names (str), got {names!r}")
        self._check([Column(n) for n in names])
        cols = None
        if self.columns is not None:
            first = [c for n in names for c in self.columns if c[0] == n]
            cols = (*first, *(c for c in self.columns if c[0] not in names))
        return self._with(o.Composed("project-reorder " + ", ".join(quote_identifier(n) for n in names)), cols)

    def serialize(self, **named: object) -> Query:
        """``| serialize [Name = expr, ...]`` (marks the row order as fixed, e.g. for ``row_number()``)."""
        exprs = _named((), named)
        self._check(exprs)
        cols = None if self.columns is None else (*self.columns, *((n, None) for n in named))
        text = "serialize " + ", ".join(e.text for e in exprs) if exprs else "serialize"
        return self._with(o.Composed(text), cols)

    def sample(self, n: int) -> Query:
        """``| sample N`` (N arbitrary rows)."""
        return self._with(o.Composed(f"sample {_count(n)}"))

    def make_series(
        self,
        on: object,
        step: object,
        *aggregations: Expr,
        from_: object | None = None,
        to: object | None = None,
        by: object | Iterable[object] = (),
        default: object | None = None,
        **named: Expr,
    ) -> Query:
        """``| make-series Name = agg [default = v], ... on Axis [from X] [to Y] step S [by keys]``.

        The aggregations and the axis become dynamic arrays (one element per step); ``by`` keys keep their
        type. Raises InvalidInputError without an aggregation."""
        aggs = _named(aggregations, named)
        if not aggs:
            raise InvalidInputError("make_series() needs at least one aggregation")
        axis = _as_expr(on)
        keys = (by,) if isinstance(by, str | Expr) else tuple(by)  # type: ignore[arg-type]
        by_exprs = tuple(_as_expr(k) for k in keys)
        self._check((*aggs, axis, *by_exprs))
        dflt = "" if default is None else f" default = {to_expr(default).text}"
        text = "make-series " + ", ".join(a.text for a in aggs) + dflt + f" on {axis.text}"
        text += f" from {to_expr(from_).text}" if from_ is not None else ""
        text += f" to {to_expr(to).text}" if to is not None else ""
        text += f" step {to_expr(step).text}"
        text += " by " + ", ".join(b.text for b in by_exprs) if by_exprs else ""
        cols: Columns | None = None
        outs = self._outputs((*by_exprs, *aggs, axis)) if self.columns is not None else None
        if outs is not None:
            series = {n for n, _ in self._outputs(aggs) or ()} | {_output_name(axis)}
            cols = tuple((n, "dynamic" if n in series else k) for n, k in outs)
        return self._with(o.Composed(text), cols)

    def evaluate(self, plugin: str, *args: object) -> Query:
        """``| evaluate plugin(args)`` for the plugins whose output the builder cannot know (``bag_unpack``,
        ``pivot``): column checks stop after it. Strings name columns; other values are literals."""
        if not isinstance(plugin, str) or plugin not in _EVALUATE_PLUGINS:
            raise InvalidInputError(f"evaluate plugin must be one of {sorted(_EVALUATE_PLUGINS)}, got {plugin!r}")
        exprs = tuple(_as_expr(a) for a in args)
        self._check(exprs)
        return self._with(o.Composed(f"evaluate {plugin}(" + ", ".join(e.text for e in exprs) + ")"), None)

    # combining ---------------------------------------------------------------------------------------
    def join(self, right: Query, on: object | Iterable[object], *, kind: str | None = "inner") -> Query:
        """``| join kind=K (right) on A, $left.B == $right.C``.

        ``on``: column names (same on both sides), ``(left, right)`` name pairs, or expressions."""
        if kind is not None and kind not in o.JOIN_KINDS:
            raise InvalidInputError(f"join kind must be one of {', '.join(o.JOIN_KINDS)}, got {kind!r}")
        merged = _hoist(self, _query(right, "join"))
        return merged._with(o.Join(_strip(right), _on(on), kind), None)

    def lookup(self, right: Query, on: object | Iterable[object], *, kind: str | None = None) -> Query:
        if kind is not None and kind not in o.LOOKUP_KINDS:
            raise InvalidInputError(f"lookup kind must be one of {', '.join(o.LOOKUP_KINDS)}, got {kind!r}")
        merged = _hoist(self, _query(right, "lookup"))
        return merged._with(o.Lookup(_strip(right), _on(on), kind), None)

    def union(
        self, *others: Query | str, isfuzzy: bool = False, withsource: str | None = None, kind: str | None = None
    ) -> Query:
        """``| union [kind=..] [withsource=Name] [isfuzzy=true] T2, (sub-query), ...``."""
        queries = tuple(table(q) if isinstance(q, str) else _query(q, "union") for q in others)
        if not queries:
            raise InvalidInputError("union() needs at least one other query or table")
        if kind not in (None, "inner", "outer"):
            raise InvalidInputError(f"union kind must be inner or outer, got {kind!r}")
        merged = _hoist(self, *queries)
        return merged._with(o.Union(tuple(_strip(q) for q in queries), isfuzzy, withsource, kind), None)

    def paren(self) -> Query:
        """This pipeline in parentheses, as the head of a new one: ``(...)`` (let statements stay outside)."""
        return _make(
            o.ParenSource(_strip(self)), (), self.lets, self.columns, self.source_name, self.timespan, self._kinds
        )

    def let(self, name: str, value: object) -> Query:
        """Add a ``let name = value;`` statement (scalar expr/value, tabular Query, or ``kql.function``).

        Statements render in the order they were added, except that one referring to another (``var(name)``,
        a table name) moves after it; a tabular value's own ``let`` statements stay in its scope (those of a
        ``kql.materialize`` value move beside this one, with no name clashes). Raises
        InvalidInputError for a name defined twice or statements that refer to each other in a cycle."""
        outer = self
        if isinstance(value, Query) and value.lets and type(value.head) is o.MaterializeSource and not value.ops:
            # A function body cannot hold materialize(): its statements move out, beside this one.
            outer, value = _hoist(self, value), _strip(value)
        stmt = make_let(name, value)
        if any(existing.name == name for existing in outer.lets):
            raise InvalidInputError(f"let {name!r} is already defined in this query")
        return outer._replace_lets(order_lets((*outer.lets, stmt)))

    def _replace_lets(self, lets: tuple[o.LetScalar | o.LetTabular | o.LetFunction, ...]) -> Query:
        return _make(self.head, self.ops, lets, self.columns, self.source_name, self.timespan, self._kinds)

    def with_columns(self, columns: Iterable[tuple[str, str | None]]) -> Query:
        """This query declaring its output columns ``((name, kql_type), ...)`` (used by the templates)."""
        cols = _items(columns, "with_columns()")
        for c in cols:
            if not (isinstance(c, tuple) and len(c) == 2 and isinstance(c[0], str) and isinstance(c[1], str | None)):
                raise InvalidInputError(f"with_columns() takes (name, kql type or None) pairs, got {c!r}")
        return _make(self.head, self.ops, self.lets, cols, self.source_name, self.timespan, None)

    def render(self, visualization: str = "timechart", **properties: object) -> Query:
        """``| render timechart [with (title="...", ...)]``; property values are rendered as literals."""
        if visualization not in o.VISUALIZATIONS:
            raise InvalidInputError(f"unknown visualization {visualization!r}; expected one of {o.VISUALIZATIONS}")
        for key in properties:
            if key not in o.RENDER_PROPERTIES:
                raise InvalidInputError(f"unknown render property {key!r}; expected one of {o.RENDER_PROPERTIES}")
        props = tuple((k, v if isinstance(v, Expr) else to_expr(v)) for k, v in properties.items())
        return self._with(o.Render(visualization, props))

    def pipe_raw_unsafe(self, text: str) -> Query:
        """Append ``| <text>`` verbatim. DO NOT PASS UNTRUSTED INPUT: nothing is escaped (only lone surrogates and
        control characters other than tab/newline are refused, as for any text sent)."""
        check_text(text, "pipe_raw_unsafe text", expected="KQL text", multiline=True)
        return self._with(o.RawOp(text), None)


@attrs.frozen
class NestedLevel:
    """One ``top-nested`` level (built by ``kql.nested``)."""

    count: int
    of: Expr
    by: Expr
    order: str | None
    others: Expr | None


def nested(count: int, of: object, by: Expr, *, order: str | None = None, others: object | None = None) -> NestedLevel:
    """A ``top-nested`` level: the ``count`` values of ``of`` (a column name or expression) with the highest
    (``order="asc"``: lowest) aggregation ``by``; ``others``: a value that gathers the remaining rows."""
    if order not in (None, "asc", "desc"):
        raise InvalidInputError(f"top-nested order must be 'asc', 'desc' or None, got {order!r}")
    if not isinstance(by, Expr):
        raise InvalidInputError(f"top-nested 'by' is an aggregation expression (fn.count(), ...), got {by!r}")
    return NestedLevel(_count(count), _as_expr(of), by, order, None if others is None else to_expr(others))


_SCAN_OUTPUTS: Final = (None, "all", "last", "none")


@attrs.frozen
class ScanStep:
    """One ``scan`` step (built by ``kql.scan_step``)."""

    name: str
    condition: Expr
    output: str | None
    assign: tuple[tuple[str, Expr], ...]


def scan_step(name: str, condition: Expr, *, output: str | None = None, **assign: object) -> ScanStep:
    """``step name [output=all|last|none]: condition [=> Declared = expr, ...]`` (str values name columns)."""
    if not (isinstance(name, str) and is_plain_identifier(name)):
        raise InvalidInputError(f"a scan step name is a plain identifier, got {name!r}")
    if not isinstance(condition, Expr):
        raise InvalidInputError(f"a scan step condition is an expression, got {condition!r}")
    if output not in _SCAN_OUTPUTS:
        raise InvalidInputError(f"scan step output must be one of all, last, none or None, got {output!r}")
    return ScanStep(name, condition, output, tuple((k, _as_expr(v)) for k, v in assign.items()))


def materialize(query: Query) -> Query:
    """``materialize(<query>)``: computed once per query run (for a ``let`` used more than once)."""
    if not isinstance(query, Query):
        raise InvalidInputError(f"materialize() takes a Query, got {query!r}")
    return _make(
        o.MaterializeSource(_strip(query)),
        (),
        query.lets,
        query.columns,
        query.source_name,
        query.timespan,
        query._kinds,
    )


def toscalar(query: Query) -> SubqueryScalar:
    """``toscalar(<query>)``: the first column of the first row, as a scalar expression. The sub-query's
    columns are checked where it was built; InvalidInputError when it has let statements (put them on the
    outer query)."""
    if not isinstance(query, Query):
        raise InvalidInputError(f"toscalar() takes a Query, got {query!r}")
    if query.lets:
        raise InvalidInputError("toscalar(): define the sub-query's let statements on the outer query")
    kind = query.columns[0][1] if query.columns else None
    return SubqueryScalar("toscalar(" + " ".join(query.pipeline_lines()) + ")", kind)


def _expand_types(exprs: tuple[Expr, ...], types: Mapping[str, str] | None) -> tuple[str | None, ...]:
    """``types`` aligned with ``exprs`` (empty when none); InvalidInputError for a name not expanded."""
    if types is None:
        return ()
    if not isinstance(types, Mapping) or not all(isinstance(k, str) for k in types):
        raise InvalidInputError(f"types={types!r}: expected a mapping of expanded column name to KQL type")
    if not types:
        return ()
    names = [_output_name(e) for e in exprs]
    for name in types:
        if name not in names:
            raise InvalidInputError(f"types names {name!r}, which is not expanded here (expanded: {names})")
    return tuple(o.check_type(types[n]) if n in types else None for n in names)  # type: ignore[index]


class _ColumnAccessor:
    """``q.c.Name``: a plain slots class built on every ``q.c``. Names are resolved in ``__getattribute__``
    (a ``__getattr__`` runs only after a failed lookup has raised, which costs a microsecond per column)."""

    __slots__ = ("query",)

    query: Query

    def __init__(self, query: Query) -> None:
        _set_accessor_query(self, query)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError()

    def __getattribute__(self, name: str) -> Column:
        if name[:2] == "__":  # Python's own protocol lookups (__class__, __reduce_ex__, ...)
            return object.__getattribute__(self, name)  # type: ignore[no-any-return]
        return _get_accessor_query(self, _ColumnAccessor).col(name)  # type: ignore[no-any-return]


_set_accessor_query = _setter(_ColumnAccessor, "query")
_get_accessor_query = vars(_ColumnAccessor)["query"].__get__
_new_accessor = object.__new__


def _count(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidInputError(f"expected a non-negative int row count, got {n!r}")
    return n


def _items(value: object, what: str) -> tuple[Any, ...]:
    """An iterable argument as a tuple (InvalidInputError for a non-iterable such as None)."""
    if not isinstance(value, Iterable) or isinstance(value, Mapping | bytes | bytearray):
        raise InvalidInputError(f"{what} expects an iterable, got {value!r}")
    return tuple(value)


def _query(value: object, what: str) -> Query:
    if not isinstance(value, Query):
        raise InvalidInputError(f"{what}() expects a kql.Query (or a table name), got {value!r}")
    return value


def _on(on: object) -> tuple[Expr, ...]:
    items = (
        [on]
        if isinstance(on, str | Expr)
        or (isinstance(on, tuple) and len(on) == 2 and all(isinstance(x, str) for x in on))
        else list(_items(on, "join/lookup 'on'"))
    )
    out: list[Expr] = []
    for item in items:
        if isinstance(item, str):
            out.append(Column(item))
        elif isinstance(item, tuple) and len(item) == 2:
            out.append(Binary("==", JoinSide("left", item[0]), JoinSide("right", item[1])))
        elif isinstance(item, Expr):
            out.append(item)
        else:
            raise InvalidInputError(f"join/lookup 'on' items are names, (left, right) pairs or expressions: {item!r}")
    if not out:
        raise InvalidInputError("join/lookup needs at least one 'on' key")
    return tuple(out)


_set_head = _setter(Query, "head")
_set_ops = _setter(Query, "ops")
_set_lets = _setter(Query, "lets")
_set_columns = _setter(Query, "columns")
_set_source_name = _setter(Query, "source_name")
_set_timespan = _setter(Query, "timespan")
_set_kinds = _setter(Query, "_kinds")
_set_text = _setter(Query, "_text")


def _fill(
    q: Query,
    head: o.Source,
    ops: tuple[o.Op, ...],
    lets: tuple[o.LetScalar | o.LetTabular | o.LetFunction, ...],
    columns: Columns | None,
    source_name: str,
    timespan: _dt.timedelta | None,
    kinds: Mapping[str, str | None] | None,
) -> None:
    _set_head(q, head)
    _set_ops(q, ops)
    _set_lets(q, lets)
    _set_columns(q, columns)
    _set_source_name(q, source_name)
    _set_timespan(q, timespan)
    _set_kinds(q, kinds)  # only ever the map of these same ``columns`` (or None: built on first use)
    _set_text(q, None)


def _make(
    head: o.Source,
    ops: tuple[o.Op, ...],
    lets: tuple[o.LetScalar | o.LetTabular | o.LetFunction, ...],
    columns: Columns | None,
    source_name: str,
    timespan: _dt.timedelta | None,
    kinds: Mapping[str, str | None] | None,
) -> Query:
    """A Query from its parts, ``kinds`` being the column map of ``columns`` when the caller already has it."""
    q = _new_query(Query)
    # ``_fill`` inlined: every fluent call and template pipeline goes through here.
    _set_head(q, head)
    _set_ops(q, ops)
    _set_lets(q, lets)
    _set_columns(q, columns)
    _set_source_name(q, source_name)
    _set_timespan(q, timespan)
    _set_kinds(q, kinds)
    _set_text(q, None)
    return q


_new_query = object.__new__


def _strip(q: Query) -> Query:
    return q._replace_lets(()) if q.lets else q


def _hoist(outer: Query, *inner: Query) -> Query:
    """Move sub-queries' let statements to the outer query (KQL has no lets inside parentheses)."""
    if not any(q.lets for q in inner):
        return outer
    lets = list(outer.lets)
    by_name = {stmt.name: stmt for stmt in lets}
    for q in inner:
        for stmt in q.lets:
            seen = by_name.get(stmt.name)
            if seen is None:
                lets.append(stmt)
                by_name[stmt.name] = stmt
            elif _let_text(seen) != _let_text(stmt):
                raise InvalidInputError(f"sub-queries define let {stmt.name!r} differently")
    return outer._replace_lets(order_lets(lets))


def _let_text(stmt: o.LetScalar | o.LetTabular | o.LetFunction) -> str:
    return "\n".join(stmt.lines)


def make_let(name: str, value: object) -> o.LetScalar | o.LetTabular | o.LetFunction:
    if isinstance(value, o.LetFunction):
        return o.LetFunction(name, value.parameters, value.body)
    if isinstance(value, Query):
        return o.LetTabular(name, value)
    return o.LetScalar(name, to_expr(value))


def table(name: str) -> Query:
    """A query over table ``name``; columns are typed and checked when the project has its schema."""
    q = _TABLES.get(name) if type(name) is str else None
    if q is not None:
        return q
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"expected a non-empty str as a table name, got {name!r}")
    schema = schema_for(name)
    if schema is None:
        q = _make(o.TableRef(name), (), (), None, name, None, None)
    else:
        q = _make(o.TableRef(name), (), (), schema.columns, name, None, schema.kinds)
    if len(_TABLES) < 1024:  # bounded: the schema registry is immutable, a Query too, so sharing one is safe
        _TABLES[name] = q
        _TABLE_ACCESSORS[name] = _ColumnAccessor(q)
    return q


_TABLES: dict[str, Query] = {}
_COLUMNS: dict[tuple[str, str | None], Column] = {}
_TABLE_ACCESSORS: dict[str, _ColumnAccessor] = {}
