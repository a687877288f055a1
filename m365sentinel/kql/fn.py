"""KQL functions as expression builders: ``fn.ago("14d")``, ``fn.count()``, ``fn.arg_max("TimeGenerated", "*")``.

Arguments: an ``Expr`` as is; a ``str`` names a column; any other Python value is a literal. Use
``kql.lit("text")`` for a string literal argument. ``fn.call(name, ...)`` reaches any other function.
Reference: learn.microsoft.com/kusto/query/scalar-functions and .../aggregation-functions.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Final

from m365sentinel._errors import InvalidInputError
from m365sentinel.kql._expr import Call, Column, Expr, Literal, Star, to_expr
from m365sentinel.kql._literals import parse_timespan

__all__ = [
    "ago",
    "arg_max",
    "arg_min",
    "avg",
    "bin",
    "bin_at",
    "call",
    "coalesce",
    "count",
    "countif",
    "dcount",
    "format_datetime",
    "iff",
    "isempty",
    "isnotempty",
    "isnotnull",
    "isnull",
    "make_list",
    "make_set",
    "max",
    "min",
    "now",
    "parse_json",
    "percentile",
    "strcat",
    "sum",
    "todatetime",
    "tolower",
    "tostring",
    "toupper",
]


def _arg(value: object) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, str):
        return Star() if value == "*" else Column(value)
    return to_expr(value)


def _span(value: object) -> Expr:
    """Timespan-valued arguments also accept "1d"-style text."""
    cls = type(value)
    if cls is _dt.timedelta or cls is str:
        lit = _SPANS.get((cls, value))
        if lit is None:
            lit = Literal(parse_timespan(value))  # type: ignore[arg-type]  # validated (raises) before caching
            if len(_SPANS) < 1024:  # bounded; a Literal is immutable, so one is shared
                _SPANS[(cls, value)] = lit
        return lit
    if isinstance(value, str | _dt.timedelta):
        return Literal(parse_timespan(value))
    return to_expr(value)


_SPANS: dict[tuple[type, object], Literal] = {}


def call(name: str, *args: object) -> Call:
    """``name(args...)``; ``name`` must be a plain identifier (never quoted, never user text)."""
    return Call(name, tuple(_arg(a) for a in args))


# scalar functions -------------------------------------------------------------------------------------
def ago(span: object) -> Call:
    """``ago(14d)``: now minus a timespan (timedelta or "14d")."""
    cls = type(span)
    if cls is _dt.timedelta or cls is str:  # the same few windows recur: one immutable node per window
        node = _AGOS.get((cls, span))
        if node is None:
            node = Call("ago", (_span(span),))
            if len(_AGOS) < 1024:
                _AGOS[(cls, span)] = node
        return node
    return Call("ago", (_span(span),))


_AGOS: dict[tuple[type, object], Call] = {}


def now(offset: object | None = None) -> Call:
    return Call("now", () if offset is None else (_span(offset),))


def bin(value: object, size: object) -> Call:
    return Call("bin", (_arg(value), _span(size)))


def bin_at(value: object, size: object, fixed_point: object) -> Call:
    """``bin_at(TimeGenerated, 1d, Now)``: bins aligned so that ``fixed_point`` starts one."""
    return Call("bin_at", (_arg(value), _span(size), _arg(fixed_point)))


def iff(condition: Expr, if_true: object, if_false: object) -> Call:
    """``iff(cond, a, b)``; the branches are values (a str is a string literal; pass ``kql.col`` for columns)."""
    return Call("iff", (condition, to_expr(if_true), to_expr(if_false)))


def isnull(value: object) -> Call:
    return call("isnull", value)


def isnotnull(value: object) -> Call:
    return call("isnotnull", value)


def isempty(value: object) -> Call:
    return call("isempty", value)


def isnotempty(value: object) -> Call:
    return call("isnotempty", value)


def tostring(value: object) -> Call:
    return call("tostring", value)


def tolower(value: object) -> Call:
    return call("tolower", value)


def toupper(value: object) -> Call:
    return call("toupper", value)


def todatetime(value: object) -> Call:
    return call("todatetime", value)


def format_datetime(value: object, fmt: str) -> Call:
    return Call("format_datetime", (_arg(value), Literal(fmt)))


def strcat(*values: object) -> Call:
    return call("strcat", *values)


def coalesce(*values: object) -> Call:
    return call("coalesce", *values)


def parse_json(value: object) -> Call:
    return call("parse_json", value)


# aggregations -----------------------------------------------------------------------------------------
def count() -> Call:
    return _COUNT  # immutable, so one node serves every call


_COUNT: Final = Call("count")


def countif(predicate: Expr) -> Call:
    return Call("countif", (predicate,))


def dcount(value: object) -> Call:
    return call("dcount", value)


def sum(value: object) -> Call:
    return call("sum", value)


def min(value: object) -> Call:
    return call("min", value)


def max(value: object) -> Call:
    return call("max", value)


def avg(value: object) -> Call:
    return call("avg", value)


def arg_max(by: object, *columns: object) -> Call:
    """``arg_max(TimeGenerated, *)``: the row with the largest ``by`` (``"*"`` = every column)."""
    return call("arg_max", by, *(columns or ("*",)))


def arg_min(by: object, *columns: object) -> Call:
    return call("arg_min", by, *(columns or ("*",)))


def make_set(value: object) -> Call:
    return call("make_set", value)


def make_list(value: object) -> Call:
    return call("make_list", value)


def percentile(value: object, pct: float) -> Call:
    """``percentile(value, pct)``; ``pct`` a number from 0 to 100 (InvalidInputError otherwise, before any request)."""
    if isinstance(pct, bool) or not isinstance(pct, int | float) or not (math.isfinite(pct) and 0 <= pct <= 100):
        raise InvalidInputError(f"percentile pct must be a number from 0 to 100, got {pct!r}")
    return Call("percentile", (_arg(value), to_expr(pct)))
