"""A small OData ``$filter`` evaluator for the emulator: ``and``/``or``/``not``, parentheses, comparisons
(``eq ne gt ge lt le``) on paths (``properties/owner/userPrincipalName``), string literals with doubled quotes,
datetimes (bare ISO 8601 or ``datetime'...'``), integers, and ``path/any(x: x/field eq '...')`` over lists.

Unsupported syntax raises ``ArmError(400)``: the emulator refuses rather than guesses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from m365sentinel.emulator._arm_util import ArmError
from m365sentinel.emulator._parse import parse_datetime

__all__ = ["compile_filter"]

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<dt>datetime'[^']*')|(?P<lp>\()|(?P<rp>\))|(?P<colon>:)"
    r"|(?P<iso>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<word>[A-Za-z_@][A-Za-z0-9_./@]*))"
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and a > b,
    "ge": lambda a, b: a is not None and a >= b,
    "lt": lambda a, b: a is not None and a < b,
    "le": lambda a, b: a is not None and a <= b,
}


def _bad(text: str, why: str) -> ArmError:
    return ArmError(400, "BadRequest", f"Invalid $filter '{text}': {why}.")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _bad(text, f"unexpected text at position {pos}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _resolve(obj: Any, path: list[str], prefix: str | None) -> Any:
    parts = path
    if prefix is not None and parts and parts[0].lower() == prefix:
        parts = parts[1:]
    cur = obj
    for part in parts:
        if not isinstance(cur, dict):
            return None
        key = next((k for k in cur if k.lower() == part.lower()), None)
        if key is None:
            return None
        cur = cur[key]
    return cur


def _coerce(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return parse_datetime(value)
        except ValueError:
            return value
    return value


class _Parser:
    def __init__(self, text: str, prefix: str | None) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.prefix = prefix

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _bad(self.text, "unexpected end")
        self.i += 1
        return tok

    def word(self, w: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "word" and tok[1].lower() == w:
            self.i += 1
            return True
        return False

    def parse(self) -> Predicate:
        pred = self.or_()
        if self.peek() is not None:
            raise _bad(self.text, f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return pred

    def or_(self) -> Predicate:
        left = self.and_()
        while self.word("or"):
            right = self.and_()
            left = (lambda a, b: lambda o: a(o) or b(o))(left, right)
        return left

    def and_(self) -> Predicate:
        left = self.not_()
        while self.word("and"):
            right = self.not_()
            left = (lambda a, b: lambda o: a(o) and b(o))(left, right)
        return left

    def not_(self) -> Predicate:
        if self.word("not"):
            inner = self.not_()
            return lambda o: not inner(o)
        return self.atom()

    def atom(self, lambda_var: str | None = None) -> Predicate:
        kind, value = self.take()
        if kind == "lp":
            pred = self.or_()
            if self.take()[0] != "rp":
                raise _bad(self.text, "missing ')'")
            return pred
        if kind != "word":
            raise _bad(self.text, f"expected a property, got {value!r}")
        path = value.split("/")
        if path[-1].lower() == "any" and self.peek() == ("lp", "("):
            self.take()
            var_kind, var = self.take()
            if var_kind != "word" or self.take()[0] != "colon":
                raise _bad(self.text, "expected 'any(x: ...)'")
            inner = self.or_()
            if self.take()[0] != "rp":
                raise _bad(self.text, "missing ')' after any(...)")
            coll = path[:-1]
            prefix = self.prefix

            def any_(o: dict[str, Any]) -> bool:
                items = _resolve(o, coll, prefix)
                return isinstance(items, list) and any(inner({var: it}) for it in items)

            return any_
        op_kind, op = self.take()
        if op_kind != "word" or op.lower() not in _OPS:
            raise _bad(self.text, f"unsupported operator {op!r}")
        literal = self.literal()
        fn = _OPS[op.lower()]
        prefix = self.prefix
        return lambda o: fn(_coerce(_resolve(o, path, prefix)), literal)

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            return _coerce(value[1:-1].replace("''", "'"))
        if kind == "dt":
            return parse_datetime(value[9:-1])
        if kind == "iso":
            return parse_datetime(value)
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "word" and value.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value.lower()]
        raise _bad(self.text, f"bad literal {value!r}")


def compile_filter(text: str, *, prefix: str | None = None) -> Predicate:
    """A predicate over one resource dict; ``prefix="properties"`` strips a leading ``properties/`` (ARM paths
    are evaluated against the ``properties`` object)."""
    if not text.strip():
        raise ArmError(400, "BadRequest", "The $filter query parameter must not be empty.")
    return _Parser(text, prefix).parse()
