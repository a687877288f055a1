"""Scalar expression nodes (immutable) and the Python operators that build them.

Every node renders itself once, when built (``node.text``), and records its dependencies (``deps``): the
column names it references and the column/literal comparisons still to check against a query's schema. Building
a query is then string concatenation plus set lookups, with no tree walks per fluent call and none at render time.
Nodes are plain ``__slots__`` classes (attrs' generated validators and hooks cost several calls per node on the
hot path); they are immutable: assigning or deleting an attribute raises ``FrozenInstanceError``.

Use ``&``, ``|`` and ``~`` for ``and``/``or``/``not``: Python's own ``and``/``or``/``not`` cannot be
overloaded and would silently evaluate truthiness, so ``bool(expr)`` raises a TypeError that says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

from attrs.exceptions import FrozenInstanceError

from m365sentinel._errors import InvalidInputError
from m365sentinel.kql._literals import FAST_LITERALS, is_plain_identifier, kind_and_text, quote_name, render_null

__all__ = [
    "Alias",
    "StepRef",
    "SubqueryScalar",
    "Between",
    "Binary",
    "Call",
    "Column",
    "Expr",
    "In",
    "Index",
    "JoinSide",
    "Literal",
    "Null",
    "RawExpr",
    "Star",
    "Unary",
    "Var",
    "to_expr",
]

# Binding strength, loosest first (learn.microsoft.com/kusto/query/... operator precedence).
PREC_OR: Final = 1
PREC_AND: Final = 2
PREC_CMP: Final = 3
PREC_ADD: Final = 4
PREC_MUL: Final = 5
PREC_UNARY: Final = 6
PREC_ATOM: Final = 7

_CMP_OPS: Final = frozenset(
    {
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "=~",
        "!~",
        "has",
        "!has",
        "has_cs",
        "!has_cs",
        "contains",
        "!contains",
        "contains_cs",
        "!contains_cs",
        "startswith",
        "!startswith",
        "startswith_cs",
        "!startswith_cs",
        "endswith",
        "!endswith",
        "endswith_cs",
        "!endswith_cs",
        "hasprefix",
        "!hasprefix",
        "hassuffix",
        "!hassuffix",
        "matches regex",
        "like",
        "!like",
    }
)
_OPS: Final = {
    "or": PREC_OR,
    "and": PREC_AND,
    "+": PREC_ADD,
    "-": PREC_ADD,
    "*": PREC_MUL,
    "/": PREC_MUL,
    "%": PREC_MUL,
} | dict.fromkeys(_CMP_OPS, PREC_CMP)
_ASSOCIATIVE: Final = frozenset({"or", "and", "+", "*"})
OPERATOR_PRECEDENCE: Final = _OPS
ASSOCIATIVE_OPERATORS: Final = _ASSOCIATIVE
_STRING_OPS: Final = frozenset(op for op in _CMP_OPS if op not in {"==", "!=", "<", "<=", ">", ">="})
_IN_OPS: Final = frozenset({"in", "!in", "in~", "!in~", "has_any", "has_all"})
# Microsoft's parser takes at most 32,768 arguments for a set operator, the left operand included; a longer list is
# rendered as chunks joined by "or" (in, in~, has_any: any chunk) or "and" (!in, !in~, has_all: every chunk).
_MAX_SET_VALUES: Final = 32_767
_EVERY_CHUNK_OPS: Final = frozenset({"!in", "!in~", "has_all"})

# (column, literal, compared as a string?): a comparison to check once the query's column kinds are known.
Pending = tuple["Column", "Literal", bool]
# (refs, pend): the column names a node references (None for ``*``) and its pending comparisons. One slot, not
# two (one store per node), and shared, not copied, when only one child has any (the common case).
Deps = tuple[tuple[str | None, ...], tuple[Pending, ...]]
NO_DEPS: Final[Deps] = ((), ())


def _setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The slot's own setter: immutable nodes are filled once, in ``__init__``, bypassing ``__setattr__``."""
    return vars(cls)[name].__set__  # type: ignore[no-any-return]


def _not_expr(value: object, where: str) -> InvalidInputError:
    return InvalidInputError(f"{where} takes KQL expressions (kql.col, kql.lit, fn.*), got {value!r}")


class Expr:
    """Base of every scalar expression. Operators build new nodes; nothing is evaluated.

    ``text`` is the node's KQL, rendered when built; ``precedence`` its binding strength (parenthesized by a
    parent that binds tighter); ``deps`` is ``(refs, pend)``: the column names it references (None for
    ``*``) and the column-vs-literal comparisons a query checks against its column kinds (``NO_DEPS`` when
    it has neither)."""

    __slots__ = ("text",)

    text: str
    precedence: int = PREC_ATOM
    deps: Deps = NO_DEPS

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError()

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text})"

    @property
    def refs(self) -> tuple[str | None, ...]:
        """The column names this expression references (None for ``*``)."""
        return self.deps[0]

    @property
    def pend(self) -> tuple[Pending, ...]:
        """The column-vs-literal comparisons still to check against a query's column kinds."""
        return self.deps[1]

    def children(self) -> tuple[Expr, ...]:
        return ()

    def walk(self) -> Iterator[Expr]:
        """This node and every descendant, depth first (iterative: no generator per node)."""
        out: list[Expr] = []
        stack: list[Expr] = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children()))
        return iter(out)

    def __bool__(self) -> bool:
        raise TypeError(
            "a KQL expression has no truth value: use & (and), | (or) and ~ (not) instead of Python's "
            "and/or/not, and parenthesize comparisons: (a == 1) & (b == 2)"
        )

    # comparison --------------------------------------------------------------------------------------
    def __eq__(self, other: object) -> Binary:  # type: ignore[override]
        return Binary("==", self, (other if isinstance(other, Expr) else Literal(other)))

    def __ne__(self, other: object) -> Binary:  # type: ignore[override]
        return Binary("!=", self, (other if isinstance(other, Expr) else Literal(other)))

    def __lt__(self, other: object) -> Binary:
        return Binary("<", self, (other if isinstance(other, Expr) else Literal(other)))

    def __le__(self, other: object) -> Binary:
        return Binary("<=", self, (other if isinstance(other, Expr) else Literal(other)))

    def __gt__(self, other: object) -> Binary:
        return Binary(">", self, (other if isinstance(other, Expr) else Literal(other)))

    def __ge__(self, other: object) -> Binary:
        return Binary(">=", self, (other if isinstance(other, Expr) else Literal(other)))

    if TYPE_CHECKING:  # declared for checkers (overriding __eq__ would leave its type to inference)

        def __hash__(self) -> int: ...

    else:
        __hash__ = object.__hash__  # the C slot itself: no Python-level call per hash

    # logic -------------------------------------------------------------------------------------------
    def __and__(self, other: object) -> Binary:
        return Binary("and", self, (other if isinstance(other, Expr) else Literal(other)))

    def __rand__(self, other: object) -> Binary:
        return Binary("and", (other if isinstance(other, Expr) else Literal(other)), self)

    def __or__(self, other: object) -> Binary:
        return Binary("or", self, (other if isinstance(other, Expr) else Literal(other)))

    def __ror__(self, other: object) -> Binary:
        return Binary("or", (other if isinstance(other, Expr) else Literal(other)), self)

    def __invert__(self) -> Call:
        return Call("not", (self,))

    # arithmetic --------------------------------------------------------------------------------------
    def __add__(self, other: object) -> Binary:
        return Binary("+", self, (other if isinstance(other, Expr) else Literal(other)))

    def __radd__(self, other: object) -> Binary:
        return Binary("+", (other if isinstance(other, Expr) else Literal(other)), self)

    def __sub__(self, other: object) -> Binary:
        return Binary("-", self, (other if isinstance(other, Expr) else Literal(other)))

    def __rsub__(self, other: object) -> Binary:
        return Binary("-", (other if isinstance(other, Expr) else Literal(other)), self)

    def __mul__(self, other: object) -> Binary:
        return Binary("*", self, (other if isinstance(other, Expr) else Literal(other)))

    def __rmul__(self, other: object) -> Binary:
        return Binary("*", (other if isinstance(other, Expr) else Literal(other)), self)

    def __truediv__(self, other: object) -> Binary:
        return Binary("/", self, (other if isinstance(other, Expr) else Literal(other)))

    def __rtruediv__(self, other: object) -> Binary:
        return Binary("/", (other if isinstance(other, Expr) else Literal(other)), self)

    def __mod__(self, other: object) -> Binary:
        return Binary("%", self, (other if isinstance(other, Expr) else Literal(other)))

    def __neg__(self) -> Unary:
        return Unary("-", self)

    # access ------------------------------------------------------------------------------------------
    def __getitem__(self, key: str | int) -> Index:
        """``X["key"]`` / ``X[0]``: a property or element of a dynamic value."""
        return Index(self, to_expr(key))

    # string and set operators (each has its ! form) --------------------------------------------------
    def _op(self, op: str, other: object) -> Binary:
        return Binary(op, self, (other if isinstance(other, Expr) else Literal(other)))

    def has(self, term: object) -> Binary:
        return self._op("has", term)

    def not_has(self, term: object) -> Binary:
        return self._op("!has", term)

    def has_cs(self, term: object) -> Binary:
        return self._op("has_cs", term)

    def not_has_cs(self, term: object) -> Binary:
        return self._op("!has_cs", term)

    def contains(self, term: object) -> Binary:
        return self._op("contains", term)

    def not_contains(self, term: object) -> Binary:
        return self._op("!contains", term)

    def contains_cs(self, term: object) -> Binary:
        return self._op("contains_cs", term)

    def not_contains_cs(self, term: object) -> Binary:
        return self._op("!contains_cs", term)

    def startswith(self, term: object) -> Binary:
        return self._op("startswith", term)

    def not_startswith(self, term: object) -> Binary:
        return self._op("!startswith", term)

    def startswith_cs(self, term: object) -> Binary:
        return self._op("startswith_cs", term)

    def not_startswith_cs(self, term: object) -> Binary:
        return self._op("!startswith_cs", term)

    def endswith(self, term: object) -> Binary:
        return self._op("endswith", term)

    def not_endswith(self, term: object) -> Binary:
        return self._op("!endswith", term)

    def endswith_cs(self, term: object) -> Binary:
        return self._op("endswith_cs", term)

    def not_endswith_cs(self, term: object) -> Binary:
        return self._op("!endswith_cs", term)

    def hasprefix(self, term: object) -> Binary:
        return self._op("hasprefix", term)

    def hassuffix(self, term: object) -> Binary:
        return self._op("hassuffix", term)

    def matches_regex(self, pattern: object) -> Binary:
        return self._op("matches regex", pattern)

    def equals_ci(self, other: object) -> Binary:
        """``=~`` (case-insensitive equality)."""
        return self._op("=~", other)

    def not_equals_ci(self, other: object) -> Binary:
        return self._op("!~", other)

    def in_(self, *values: object) -> In:
        """``X in (a, b)``; pass values or one iterable of values."""
        return In("in", self, _values(values))

    def not_in(self, *values: object) -> In:
        return In("!in", self, _values(values))

    def in_ci(self, *values: object) -> In:
        """``X in~ (a, b)`` (case-insensitive)."""
        return In("in~", self, _values(values))

    def not_in_ci(self, *values: object) -> In:
        return In("!in~", self, _values(values))

    def has_any(self, *values: object) -> In:
        return In("has_any", self, _values(values))

    def has_all(self, *values: object) -> In:
        return In("has_all", self, _values(values))

    def between(self, low: object, high: object) -> Between:
        """``X between (low .. high)``, both ends inclusive."""
        return Between(self, to_expr(low), to_expr(high), negated=False)

    def not_between(self, low: object, high: object) -> Between:
        return Between(self, to_expr(low), to_expr(high), negated=True)

    # naming ------------------------------------------------------------------------------------------
    def as_(self, name: str) -> Alias:
        """``name = <expr>`` in extend/project/summarize."""
        return Alias(name, self)

    def asc(self, nulls: str | None = None) -> SortKey:
        return SortKey(self, "asc", nulls)

    def desc(self, nulls: str | None = None) -> SortKey:
        return SortKey(self, "desc", nulls)


def _values(values: tuple[object, ...]) -> tuple[Expr, ...]:
    if len(values) == 1 and isinstance(values[0], Iterable) and not isinstance(values[0], (str, bytes, Expr)):
        values = tuple(values[0])
    if not values:
        raise InvalidInputError("an in/has_any/has_all list needs at least one value")
    return tuple(to_expr(v) for v in values)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"expected a non-empty str as a KQL name, got {name!r}")
    return name


_set_text = _setter(Expr, "text")


class Column(Expr):
    """A column (or let variable) by name; ``kind`` is its KQL type when known from a schema."""

    __slots__ = ("deps", "kind", "name")

    name: str
    kind: str | None

    def __init__(self, name: str, kind: str | None = None) -> None:
        if type(name) is not str or not name:
            _check_name(name)
        _set_text(self, quote_name(name))
        _set_column_name(self, name)
        _set_column_kind(self, kind)
        _set_column_deps(self, ((name,), ()))


_set_column_name = _setter(Column, "name")
_set_column_kind = _setter(Column, "kind")
_set_column_deps = _setter(Column, "deps")


class Var(Expr):
    """A name bound by ``let`` (scalar variable); never checked against table columns."""

    __slots__ = ("name",)

    name: str

    def __init__(self, name: str) -> None:
        if type(name) is not str or not name:
            _check_name(name)
        _set_text(self, quote_name(name))
        _set_var_name(self, name)


_set_var_name = _setter(Var, "name")


class JoinSide(Expr):
    """``$left.Name`` / ``$right.Name`` in a join's ``on`` clause."""

    __slots__ = ("name", "side")

    side: str
    name: str

    def __init__(self, side: str, name: str) -> None:
        if side not in ("left", "right"):
            raise InvalidInputError(f"join side must be 'left' or 'right', got {side!r}")
        _check_name(name)
        _set_text(self, f"${side}.{quote_name(name)}")
        _setter(JoinSide, "side")(self, side)
        _setter(JoinSide, "name")(self, name)


class Literal(Expr):
    """A Python value rendered as one KQL literal token (see ``_literals``)."""

    __slots__ = ("kind", "value")

    value: Any
    kind: str

    def __init__(self, value: Any) -> None:
        # Rendered (and so validated: naive datetime, out-of-range int, ...) once, when built.
        fast = FAST_LITERALS.get(type(value))
        kind, text = (fast[0], fast[1](value)) if fast is not None else kind_and_text(value)
        _set_text(self, text)
        _set_literal_value(self, value)
        _set_literal_kind(self, kind)


_set_literal_value = _setter(Literal, "value")
_set_literal_kind = _setter(Literal, "kind")


class Null(Expr):
    """A typed null: ``long(null)``, ``datetime(null)``, ..."""

    __slots__ = ("kind",)

    kind: str

    def __init__(self, kind: str) -> None:
        _set_text(self, render_null(kind))
        _setter(Null, "kind")(self, kind)


class Star(Expr):
    """``*`` as in ``arg_max(TimeGenerated, *)``; makes the output shape unknown to the query."""

    __slots__ = ()

    deps = ((None,), ())

    def __init__(self) -> None:
        _set_text(self, "*")


class RawExpr(Expr):
    """Unchecked KQL text. Only created by ``kql.raw_unsafe``; never from untrusted input."""

    __slots__ = ()

    def __init__(self, text: str) -> None:
        _set_text(self, text)


class _Composite(Expr):
    """A node with children: it carries their ``deps`` (so checks never walk the tree)."""

    __slots__ = ("deps",)


_set_deps = _setter(_Composite, "deps")


def _merge(a: Deps, b: Deps) -> Deps:
    """The dependencies of two children: shared as is when one has none."""
    if b is NO_DEPS:
        return a
    if a is NO_DEPS:
        return b
    return (a[0] + b[0], a[1] + b[1])


class Binary(_Composite):
    __slots__ = ("left", "op", "precedence", "right")

    op: str
    left: Expr
    right: Expr
    precedence: int

    def __init__(self, op: str, left: Expr, right: Expr) -> None:
        prec = _OPS.get(op)
        if prec is None:
            raise InvalidInputError(f"unknown KQL binary operator {op!r}")
        try:
            lt, rt, rp = left.text, right.text, right.precedence
            ld, rd = left.deps, right.deps
            if left.precedence < prec:
                lt = f"({lt})"
        except AttributeError:
            raise _not_expr(right if isinstance(left, Expr) else left, f"operator {op}") from None
        # A right operand of equal strength keeps its parentheses unless it is the same associative operator.
        if rp < prec or (rp == prec and not (op in _ASSOCIATIVE and isinstance(right, Binary) and right.op == op)):
            rt = f"({rt})"
        deps = ld if rd is NO_DEPS else rd if ld is NO_DEPS else (ld[0] + rd[0], ld[1] + rd[1])
        if prec == PREC_CMP:
            if isinstance(right, Literal) and isinstance(left, Column):
                deps = (deps[0], (*deps[1], (left, right, op in _STRING_OPS)))
            elif isinstance(left, Literal) and isinstance(right, Column):
                deps = (deps[0], (*deps[1], (right, left, op in _STRING_OPS)))
        _set_text(self, f"{lt} {op} {rt}")
        _set_binary_op(self, op)
        _set_binary_left(self, left)
        _set_binary_right(self, right)
        _set_binary_prec(self, prec)
        _set_deps(self, deps)

    @property
    def is_comparison(self) -> bool:
        return self.op in _CMP_OPS

    @property
    def is_string_op(self) -> bool:
        return self.op in _STRING_OPS

    @property
    def associative(self) -> bool:
        return self.op in _ASSOCIATIVE

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


_set_binary_op = _setter(Binary, "op")
_set_binary_left = _setter(Binary, "left")
_set_binary_right = _setter(Binary, "right")
_set_binary_prec = _setter(Binary, "precedence")


def _gather(items: tuple[Expr, ...], where: str) -> tuple[list[str], Deps]:
    """The texts and merged dependencies of ``items`` (raises for an item that is not an expression)."""
    texts: list[str] = []
    deps = NO_DEPS
    try:
        for item in items:
            texts.append(item.text)
            if item.deps is not NO_DEPS:
                deps = _merge(deps, item.deps)
    except AttributeError:
        raise _not_expr(next(i for i in items if not isinstance(i, Expr)), where) from None
    return texts, deps


class Unary(_Composite):
    __slots__ = ("op", "operand")

    op: str
    operand: Expr
    precedence = PREC_UNARY

    def __init__(self, op: str, operand: Expr) -> None:
        if op != "-":
            raise InvalidInputError(f"unknown KQL unary operator {op!r}")
        (text,), deps = _gather((operand,), "unary minus")
        _set_text(self, f"-({text})" if operand.precedence <= PREC_UNARY else f"-{text}")
        _setter(Unary, "op")(self, op)
        _setter(Unary, "operand")(self, operand)
        _set_deps(self, deps)

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


class Call(_Composite):
    """``name(arg, ...)``; ``name`` must be a plain identifier (function names are never quoted)."""

    __slots__ = ("args", "name")

    name: str
    args: tuple[Expr, ...]

    def __init__(self, name: str, args: tuple[Expr, ...] = ()) -> None:
        if not (type(name) is str and name in _VALID_FUNCTION_NAMES):
            if not isinstance(name, str) or not (is_plain_identifier(name) or name in _CALLABLE_KEYWORDS):
                raise InvalidInputError(f"{name!r} is not a valid KQL function name")
            if len(_VALID_FUNCTION_NAMES) < 4096:  # names already checked; bounded so it cannot grow forever
                _VALID_FUNCTION_NAMES.add(name)
        if type(args) is not tuple:
            args = tuple(args)
        if not args:
            _set_text(self, name + "()")
            _set_deps(self, NO_DEPS)
        elif len(args) == 1:
            arg = args[0]
            try:
                _set_text(self, f"{name}({arg.text})")
                _set_deps(self, arg.deps)
            except AttributeError:
                raise _not_expr(arg, f"{name}()") from None
        elif len(args) == 2:  # bin(), bin_at's first two, arg_max(): no list, no loop
            first, second = args
            try:
                _set_text(self, f"{name}({first.text}, {second.text})")
                da, db = first.deps, second.deps
            except AttributeError:
                raise _not_expr(next(a for a in args if not isinstance(a, Expr)), f"{name}()") from None
            _set_deps(self, da if db is NO_DEPS else db if da is NO_DEPS else (da[0] + db[0], da[1] + db[1]))
        else:
            texts, deps = _gather(args, f"{name}()")
            _set_text(self, f"{name}({', '.join(texts)})")
            _set_deps(self, deps)
        _set_call_name(self, name)
        _set_call_args(self, args)

    def children(self) -> tuple[Expr, ...]:
        return self.args


_set_call_name = _setter(Call, "name")
_set_call_args = _setter(Call, "args")
_VALID_FUNCTION_NAMES: set[str] = set()
# Keywords that are also function names.
_CALLABLE_KEYWORDS: Final = frozenset(
    {
        "not",
        "count",
        "bin",
        "toscalar",
        "materialize",
        "datetime",
        "timespan",
        "bool",
        "int",
        "long",
        "real",
        "decimal",
        "guid",
        "dynamic",
        "string",
        "typeof",
        "pack",
    }
)


def _left_operand(left: Expr, where: str) -> str:
    """The left side of ``in``/``between``: parenthesized unless it binds tighter than a comparison."""
    if not isinstance(left, Expr):
        raise _not_expr(left, where)
    return left.text if left.precedence > PREC_CMP else f"({left.text})"


class In(_Composite):
    __slots__ = ("left", "op", "values")

    op: str
    left: Expr
    values: tuple[Expr, ...]
    precedence = PREC_CMP

    def __init__(self, op: str, left: Expr, values: tuple[Expr, ...]) -> None:
        if op not in _IN_OPS:
            raise InvalidInputError(f"unknown KQL set operator {op!r}")
        values = tuple(values)
        lt = _left_operand(left, op)
        texts, deps = _gather(values, op)
        deps = _merge(left.deps, deps)
        if isinstance(left, Column):
            string_op = "has" in op
            added = tuple((left, v, string_op) for v in values if isinstance(v, Literal))
            if added:
                deps = (deps[0], deps[1] + added)
        if len(texts) <= _MAX_SET_VALUES:
            _set_text(self, f"{lt} {op} ({', '.join(texts)})")
        else:
            chunks = (texts[i : i + _MAX_SET_VALUES] for i in range(0, len(texts), _MAX_SET_VALUES))
            join = " and " if op in _EVERY_CHUNK_OPS else " or "
            _set_text(self, "(" + join.join(f"{lt} {op} ({', '.join(c)})" for c in chunks) + ")")
        _setter(In, "op")(self, op)
        _setter(In, "left")(self, left)
        _setter(In, "values")(self, values)
        _set_deps(self, deps)

    def children(self) -> tuple[Expr, ...]:
        return (self.left, *self.values)


class Between(_Composite):
    __slots__ = ("high", "left", "low", "negated")

    left: Expr
    low: Expr
    high: Expr
    negated: bool
    precedence = PREC_CMP

    def __init__(self, left: Expr, low: Expr, high: Expr, negated: bool = False) -> None:
        lt = _left_operand(left, "between")
        (low_t, high_t), deps = _gather((low, high), "between")
        deps = _merge(left.deps, deps)
        if isinstance(left, Column):
            added = tuple((left, v, False) for v in (low, high) if isinstance(v, Literal))
            if added:
                deps = (deps[0], deps[1] + added)
        _set_text(self, f"{lt} {'!between' if negated else 'between'} ({low_t} .. {high_t})")
        for name, value in (("left", left), ("low", low), ("high", high), ("negated", bool(negated))):
            _setter(Between, name)(self, value)
        _set_deps(self, deps)

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.low, self.high)


class Index(_Composite):
    __slots__ = ("key", "target")

    target: Expr
    key: Expr

    def __init__(self, target: Expr, key: Expr) -> None:
        (target_t, key_t), deps = _gather((target, key), "[]")
        if target.precedence < PREC_ATOM:
            target_t = f"({target_t})"
        _set_text(self, f"{target_t}[{key_t}]")
        _setter(Index, "target")(self, target)
        _setter(Index, "key")(self, key)
        _set_deps(self, deps)

    def children(self) -> tuple[Expr, ...]:
        return (self.target, self.key)


class Alias(_Composite):
    """``name = expr``; only valid where KQL allows a named column (extend, project, summarize, by)."""

    __slots__ = ("expr", "name")

    name: str
    expr: Expr

    def __init__(self, name: str, expr: Expr | None = None) -> None:
        if type(name) is not str or not name:
            _check_name(name)
        if expr is None:
            expr = Star()
        try:
            _set_text(self, f"{quote_name(name)} = {expr.text}")
            _set_deps(self, expr.deps)
        except AttributeError:
            raise _not_expr(expr, f"{name} =") from None
        _set_alias_name(self, name)
        _set_alias_expr(self, expr)

    def children(self) -> tuple[Expr, ...]:
        return (self.expr,)


_set_alias_name = _setter(Alias, "name")
_set_alias_expr = _setter(Alias, "expr")


class SortKey:
    """A sort key: ``expr asc|desc [nulls first|last]`` (immutable)."""

    __slots__ = ("expr", "nulls", "order")

    expr: Expr
    order: str
    nulls: str | None

    def __init__(self, expr: Expr, order: str = "asc", nulls: str | None = None) -> None:
        if order != "asc" and order != "desc":
            raise InvalidInputError(f"sort order must be 'asc' or 'desc', got {order!r}")
        if nulls is not None and nulls != "first" and nulls != "last":
            raise InvalidInputError(f"nulls must be 'first', 'last' or None, got {nulls!r}")
        _set_sort_expr(self, expr)
        _set_sort_order(self, order)
        _set_sort_nulls(self, nulls)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError()

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError()

    def __repr__(self) -> str:
        return f"SortKey({self.expr!r}, {self.order!r}, {self.nulls!r})"


_set_sort_expr = _setter(SortKey, "expr")
_set_sort_order = _setter(SortKey, "order")
_set_sort_nulls = _setter(SortKey, "nulls")


def to_expr(value: object) -> Expr:
    """An Expr as is; any other Python value as a literal (validated: naive datetimes etc. raise)."""
    return value if isinstance(value, Expr) else Literal(value)


class SubqueryScalar(Expr):
    """``toscalar(<sub-query>)``: built only by ``kql.toscalar`` from a Query (its columns checked there);
    ``kind`` is the type of its single output column when known."""

    __slots__ = ("kind",)

    kind: str | None

    def __init__(self, text: str, kind: str | None) -> None:
        _set_text(self, text)
        _setter(SubqueryScalar, "kind")(self, kind)


class StepRef(Expr):
    """``step.Column`` in a ``scan`` condition: the value a column had when ``step`` last matched."""

    __slots__ = ("name", "step")

    step: str
    name: str

    def __init__(self, step: str, name: str) -> None:
        if not (isinstance(step, str) and is_plain_identifier(step)):
            raise InvalidInputError(f"a scan step name is a plain identifier, got {step!r}")
        _check_name(name)
        _set_text(self, f"{step}.{quote_name(name)}")
        _setter(StepRef, "step")(self, step)
        _setter(StepRef, "name")(self, name)
