"""Scalar expression nodes (immutable) and the Python operators that build them.

Use ``&``, ``|`` and ``~`` for ``and``/``or``/``not``: Python's own ``and``/``or``/``not`` cannot be
overloaded and would silently evaluate truthiness, so ``bool(expr)`` raises a TypeError that says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

import attrs

from m365sentinel._errors import InvalidInputError
from m365sentinel.kql._literals import FAST_LITERALS, is_plain_identifier, kind_and_text

__all__ = [
    "Alias",
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


class Expr:
    """Base of every scalar expression. Operators build new nodes; nothing is evaluated."""

    __slots__ = ()

    precedence: int = PREC_ATOM

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
        return Binary("==", self, to_expr(other))

    def __ne__(self, other: object) -> Binary:  # type: ignore[override]
        return Binary("!=", self, to_expr(other))

    def __lt__(self, other: object) -> Binary:
        return Binary("<", self, to_expr(other))

    def __le__(self, other: object) -> Binary:
        return Binary("<=", self, to_expr(other))

    def __gt__(self, other: object) -> Binary:
        return Binary(">", self, to_expr(other))

    def __ge__(self, other: object) -> Binary:
        return Binary(">=", self, to_expr(other))

    __hash__ = object.__hash__

    # logic -------------------------------------------------------------------------------------------
    def __and__(self, other: object) -> Binary:
        return Binary("and", self, to_expr(other))

    def __rand__(self, other: object) -> Binary:
        return Binary("and", to_expr(other), self)

    def __or__(self, other: object) -> Binary:
        return Binary("or", self, to_expr(other))

    def __ror__(self, other: object) -> Binary:
        return Binary("or", to_expr(other), self)

    def __invert__(self) -> Call:
        return Call("not", (self,))

    # arithmetic --------------------------------------------------------------------------------------
    def __add__(self, other: object) -> Binary:
        return Binary("+", self, to_expr(other))

    def __radd__(self, other: object) -> Binary:
        return Binary("+", to_expr(other), self)

    def __sub__(self, other: object) -> Binary:
        return Binary("-", self, to_expr(other))

    def __rsub__(self, other: object) -> Binary:
        return Binary("-", to_expr(other), self)

    def __mul__(self, other: object) -> Binary:
        return Binary("*", self, to_expr(other))

    def __rmul__(self, other: object) -> Binary:
        return Binary("*", to_expr(other), self)

    def __truediv__(self, other: object) -> Binary:
        return Binary("/", self, to_expr(other))

    def __rtruediv__(self, other: object) -> Binary:
        return Binary("/", to_expr(other), self)

    def __mod__(self, other: object) -> Binary:
        return Binary("%", self, to_expr(other))

    def __neg__(self) -> Unary:
        return Unary("-", self)

    # access ------------------------------------------------------------------------------------------
    def __getitem__(self, key: str | int) -> Index:
        """``X["key"]`` / ``X[0]``: a property or element of a dynamic value."""
        return Index(self, to_expr(key))

    # string and set operators (each has its ! form) --------------------------------------------------
    def _op(self, op: str, other: object) -> Binary:
        return Binary(op, self, to_expr(other))

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


def _name_field(_inst: object, _attr: object, name: str) -> None:
    """attrs validator for name fields (one call per node: this runs on every build)."""
    if type(name) is not str or not name:
        _check_name(name)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"expected a non-empty str as a KQL name, got {name!r}")
    return name


@attrs.frozen(eq=False)
class Column(Expr):
    """A column (or let variable) by name; ``kind`` is its KQL type when known from a schema."""

    name: str = attrs.field(validator=_name_field)
    kind: str | None = None


@attrs.frozen(eq=False)
class Var(Expr):
    """A name bound by ``let`` (scalar variable); never checked against table columns."""

    name: str = attrs.field(validator=_name_field)


@attrs.frozen(eq=False)
class JoinSide(Expr):
    """``$left.Name`` / ``$right.Name`` in a join's ``on`` clause."""

    side: str
    name: str

    def __attrs_post_init__(self) -> None:
        if self.side not in ("left", "right"):
            raise InvalidInputError(f"join side must be 'left' or 'right', got {self.side!r}")
        _check_name(self.name)


@attrs.frozen(eq=False)
class Literal(Expr):
    """A Python value rendered as one KQL literal token (see ``_literals``)."""

    value: Any
    kind: str = attrs.field(init=False)
    text: str = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # Rendered (and so validated: naive datetime, out-of-range int, ...) once, when built.
        fast = FAST_LITERALS.get(type(self.value))
        kind, text = (fast[0], fast[1](self.value)) if fast is not None else kind_and_text(self.value)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "text", text)


@attrs.frozen(eq=False)
class Null(Expr):
    """A typed null: ``long(null)``, ``datetime(null)``, ..."""

    kind: str


@attrs.frozen(eq=False)
class Star(Expr):
    """``*`` as in ``arg_max(TimeGenerated, *)``."""


@attrs.frozen(eq=False)
class RawExpr(Expr):
    """Unchecked KQL text. Only created by ``kql.raw_unsafe``; never from untrusted input."""

    text: str


@attrs.frozen(eq=False)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr

    def __attrs_post_init__(self) -> None:
        if self.op not in _OPS:
            raise InvalidInputError(f"unknown KQL binary operator {self.op!r}")

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return _OPS[self.op]

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


@attrs.frozen(eq=False)
class Unary(Expr):
    op: str
    operand: Expr
    precedence = PREC_UNARY

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


@attrs.frozen(eq=False)
class Call(Expr):
    """``name(arg, ...)``; ``name`` must be a plain identifier (function names are never quoted)."""

    name: str
    args: tuple[Expr, ...] = ()

    def __attrs_post_init__(self) -> None:
        if not (type(self.name) is str and self.name in _VALID_FUNCTION_NAMES):
            if not isinstance(self.name, str) or not (
                is_plain_identifier(self.name) or self.name in _CALLABLE_KEYWORDS
            ):
                raise InvalidInputError(f"{self.name!r} is not a valid KQL function name")
            if len(_VALID_FUNCTION_NAMES) < 4096:  # names already checked; bounded so it cannot grow forever
                _VALID_FUNCTION_NAMES.add(self.name)

    def children(self) -> tuple[Expr, ...]:
        return self.args


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


@attrs.frozen(eq=False)
class In(Expr):
    op: str
    left: Expr
    values: tuple[Expr, ...]
    precedence = PREC_CMP

    def children(self) -> tuple[Expr, ...]:
        return (self.left, *self.values)


@attrs.frozen(eq=False)
class Between(Expr):
    left: Expr
    low: Expr
    high: Expr
    negated: bool = False
    precedence = PREC_CMP

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.low, self.high)


@attrs.frozen(eq=False)
class Index(Expr):
    target: Expr
    key: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.target, self.key)


@attrs.frozen(eq=False)
class Alias(Expr):
    """``name = expr``; only valid where KQL allows a named column (extend, project, summarize, by)."""

    name: str = attrs.field(validator=_name_field)
    expr: Expr = attrs.field(factory=Star)

    def children(self) -> tuple[Expr, ...]:
        return (self.expr,)


@attrs.frozen
class SortKey:
    expr: Expr
    order: str = "asc"
    nulls: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.order not in ("asc", "desc"):
            raise InvalidInputError(f"sort order must be 'asc' or 'desc', got {self.order!r}")
        if self.nulls not in (None, "first", "last"):
            raise InvalidInputError(f"nulls must be 'first', 'last' or None, got {self.nulls!r}")


def to_expr(value: object) -> Expr:
    """An Expr as is; any other Python value as a literal (validated: naive datetimes etc. raise)."""
    return value if isinstance(value, Expr) else Literal(value)
