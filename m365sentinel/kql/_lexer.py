"""A small KQL tokenizer for checks over query text (no parser, no node).

It knows exactly what the checks need: where string literals and comments start and end (so a word inside
``"..."`` or after ``//`` is never mistaken for code), names (plain, ``$left``/``$right`` and bracketed
``['...']``), numbers and timespan literals (with their value in ticks), and punctuation. Rules follow
learn.microsoft.com/kusto/query/scalar-data-types/string and .../timespan; the tests compare its string and
timespan tokens with Microsoft's lexer.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final, Literal

import attrs

__all__ = ["Token", "TokenKind", "string_value", "tokenize"]

TokenKind = Literal["name", "string", "number", "timespan", "literal", "punct"]

# Ticks (100 ns) per timespan unit suffix.
_UNIT_TICKS: Final = {
    **dict.fromkeys(("d", "day", "days"), 864_000_000_000),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 36_000_000_000),
    **dict.fromkeys(("m", "min", "minute", "minutes"), 600_000_000),
    **dict.fromkeys(("s", "sec", "second", "seconds"), 10_000_000),
    **dict.fromkeys(("ms", "milli", "millis", "millisec", "millisecond", "milliseconds"), 10_000),
    **dict.fromkeys(("microsec", "microsecond", "microseconds"), 10),
    **dict.fromkeys(("tick", "ticks"), 1),
}
_NUMBER: Final = re.compile(r"0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+")
_TIMESPAN_TEXT: Final = re.compile(r"(-)?\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)")
_WORD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PUNCT: Final = ("==", "!=", "<>", "<=", ">=", "=~", "!~", "..", "=>", "<|")


@attrs.frozen
class Token:
    """One token: ``offset``/``end`` are 0-based character offsets into the text (``end`` exclusive).

    Kinds: ``name`` (identifiers and keywords), ``string``, ``number``, ``timespan``, ``literal``
    (``datetime(...)``, ``guid(...)``), ``punct``. A bracketed name ``['x']`` is ``[``, string, ``]`` (as in
    Microsoft's lexer). ``value``: a timespan's ticks (None when its text is not a number and a unit)."""

    kind: TokenKind
    text: str
    offset: int
    end: int
    value: int | None = None


def _string_end(text: str, start: int) -> int:
    """End (exclusive) of the string literal at ``start`` (after any ``h``/``H`` prefix).

    Regular strings escape with backslash; verbatim ``@"..."`` strings double the quote; neither spans a
    line (an unterminated literal ends at the line end, as the lexer recovers); triple backticks do."""
    if text.startswith("```", start):
        close = text.find("```", start + 3)
        return len(text) if close < 0 else close + 3
    verbatim = text[start] == "@"
    quote_at = start + 1 if verbatim else start
    quote = text[quote_at]
    i = quote_at + 1
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            return i
        if ch == "\\" and not verbatim:
            i += 2
            continue
        if ch == quote:
            if verbatim and text.startswith(quote, i + 1):
                i += 2
                continue
            return i + 1
        i += 1
    return len(text)


def _string_start(text: str, i: int) -> bool:
    """True when a string literal (optional ``h``/``H`` then optional ``@`` prefix, or triple backticks)
    starts at ``i``."""
    j = i + 1 if text[i] in "hH" else i
    if text.startswith("```", j):
        return True
    if text.startswith("@", j):
        j += 1
    return j < len(text) and text[j] in "\"'"


def string_value(literal: str) -> str:
    """The value of a string literal token (for bracketed names; multi-line and obfuscated forms included)."""
    body = literal[1:] if literal[:1] in "hH" else literal
    if body.startswith("```"):
        return body[3:-3]
    if body.startswith("@"):
        quote = body[1]
        return body[2:-1].replace(quote * 2, quote)
    return re.sub(r"\\(.)", r"\1", body[1:-1])


def _timespan_ticks(number: str, unit: str) -> int | None:
    try:
        ticks = Decimal(number) * _UNIT_TICKS[unit]
    except (InvalidOperation, KeyError):
        return None
    return int(ticks)


_OPAQUE_LITERALS: Final = frozenset({"datetime", "guid", "timespan"})  # one token up to ")", as Microsoft lexes


def _opaque_literal(text: str, word: re.Match[str], tokens: list[Token]) -> int:
    """``datetime(...)``, ``guid(...)``, ``timespan(...)`` as one token; returns the end offset."""
    close = text.find(")", word.end())
    end = len(text) if close < 0 else close + 1
    inner = text[word.end() + 1 : end - 1].strip()
    ticks = None
    if word.group() == "timespan" and (m := _TIMESPAN_TEXT.fullmatch(inner)):
        ticks = _timespan_ticks(m.group(2), m.group(3))
        ticks = -ticks if ticks is not None and m.group(1) else ticks
    tokens.append(
        Token(
            "timespan" if word.group() == "timespan" else "literal", text[word.start() : end], word.start(), end, ticks
        )
    )
    return end


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; whitespace and ``//`` comments are skipped. Never raises on odd text."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif _string_start(text, i):
            prefix = 1 if text[i] in "hH" else 0
            end = _string_end(text, i + prefix)
            tokens.append(Token("string", text[i:end], i, end))
            i = end
        elif ch == "$" and (m := _WORD.match(text, i + 1)):
            tokens.append(Token("name", text[i : m.end()], i, m.end()))
            i = m.end()
        elif m := _WORD.match(text, i):
            if m.group() in _OPAQUE_LITERALS and text.startswith("(", m.end()):
                i = _opaque_literal(text, m, tokens)
            else:
                tokens.append(Token("name", m.group(), i, m.end()))
                i = m.end()
        elif m := _NUMBER.match(text, i):
            end = m.end()
            suffix = _WORD.match(text, end)
            if suffix is None:
                tokens.append(Token("number", m.group(), i, end))
            elif (ticks := _timespan_ticks(m.group(), suffix.group())) is not None:
                tokens.append(Token("timespan", text[i : suffix.end()], i, suffix.end(), ticks))
            else:  # Microsoft's lexer reads 10T or 1d1 as identifiers
                tokens.append(Token("name", text[i : suffix.end()], i, suffix.end()))
            i = suffix.end() if suffix else end
        else:
            op = next((p for p in _PUNCT if text.startswith(p, i)), ch)
            tokens.append(Token("punct", op, i, i + len(op)))
            i += len(op)
    return tokens
