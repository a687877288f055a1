"""Every adaptation of the KQL dialect for the local engine (duckdb-kql 1.1.2), in one place.

The engine lacks two constructs the source document's time-chart queries use, so they are rewritten into
equivalent KQL before execution; anything else the engine refuses becomes an HTTP 400, never a guess:

1. ``bin_at(T, S, F)`` -> ``((F) + (S) * floor(((T) - (F)) / (S), 1))`` — the definition of bin_at (the bin of T
   on a grid of step S anchored at F). As a bare ``summarize ... by`` key, Kusto names the column after T, so the
   rewrite keeps that name: ``by bin_at(TimeGenerated, 1d, Now)`` -> ``by TimeGenerated = (...)``.
2. An outer parenthesized head ``( <pipeline> ) | ...`` -> ``<pipeline> | ...`` (pipes are left-associative, so
   the brackets change nothing), and a trailing ``| render ...`` is dropped (visualization only).

String literals and comments are masked before scanning, so text inside them is never rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Adapted", "adapt", "drop_render", "rewrite_bin_at", "strip_outer_parens"]

_IDENT = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|\[\s*'[^']*'\s*\]|\[\s*\"[^\"]*\"\s*\])$")
_BIN_AT = re.compile(r"(?<![A-Za-z0-9_.])bin_at\s*\(")


@dataclass(frozen=True)
class Adapted:
    """The text handed to the engine and the names of the rewrites that changed it."""

    text: str
    rewrites: tuple[str, ...]


def adapt(query: str) -> Adapted:
    """Apply every rewrite, in a fixed order; returns the engine's text and which rewrites fired."""
    applied: list[str] = []
    text = query
    for name, rewrite in (
        ("strip_outer_parens", strip_outer_parens),
        ("drop_render", drop_render),
        ("bin_at", rewrite_bin_at),
    ):
        new = rewrite(text)
        if new != text:
            applied.append(name)
            text = new
    return Adapted(text, tuple(applied))


def _mask(text: str) -> str:
    """Same-length copy of *text* with the insides of string literals and comments replaced by ``_``."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            out[i:end] = "_" * (end - i)
            i = end
        elif text.startswith("```", i):
            end = text.find("```", i + 3)
            end = n if end == -1 else end + 3
            out[i:end] = "_" * (end - i)
            i = end
        elif text[i] in "'\"":
            quote = text[i]
            verbatim = i > 0 and text[i - 1] in "@hH" and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"))
            j = i + 1
            while j < n and text[j] != quote and text[j] != "\n":
                if text[j] == "\\" and not verbatim:
                    j += 1
                j += 1
            end = min(j + 1, n)
            out[i:end] = "_" * (end - i)
            i = end
        else:
            i += 1
    return "".join(out)


def _matching(masked: str, open_at: int) -> int:
    """Index of the ``)`` closing the ``(`` at *open_at*, or -1."""
    depth = 0
    for k in range(open_at, len(masked)):
        if masked[k] == "(":
            depth += 1
        elif masked[k] == ")":
            depth -= 1
            if depth == 0:
                return k
    return -1


def _split_top(masked: str, start: int, end: int, sep: str) -> list[tuple[int, int]]:
    """Spans of *masked[start:end]* separated by *sep* at bracket depth 0."""
    spans: list[tuple[int, int]] = []
    depth, begin = 0, start
    for k in range(start, end):
        ch = masked[k]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            spans.append((begin, k))
            begin = k + 1
    spans.append((begin, end))
    return spans


def _last_statement(text: str) -> tuple[int, int]:
    masked = _mask(text)
    spans = [s for s in _split_top(masked, 0, len(text), ";") if masked[s[0] : s[1]].strip()]
    return spans[-1] if spans else (0, len(text))


def strip_outer_parens(query: str) -> str:
    """``let ...; ( P ) | rest`` -> ``let ...; P | rest`` (repeatedly); other shapes are returned unchanged."""
    while True:
        start, end = _last_statement(query)
        masked = _mask(query)
        head = start + (len(masked[start:end]) - len(masked[start:end].lstrip()))
        if head >= end or masked[head] != "(":
            return query
        close = _matching(masked, head)
        if close == -1 or close >= end:
            return query
        rest = masked[close + 1 : end].strip()
        if rest and not rest.startswith("|"):
            return query  # e.g. "(A) join (B) on x": the brackets are an operand, not a head
        query = query[:head] + query[head + 1 : close] + " " + query[close + 1 :]


def drop_render(query: str) -> str:
    """Remove a final ``| render ...`` operator of the last statement (it only names a chart type)."""
    start, end = _last_statement(query)
    masked = _mask(query)
    pipes = [a for a, _ in _split_top(masked, start, end, "|")][1:]
    if not pipes:
        return query
    last_pipe = pipes[-1] - 1
    if re.match(r"\s*render\b", masked[last_pipe + 1 : end]):
        return query[:last_pipe].rstrip() + query[end:]
    return query


def _names_summarize_key(masked: str, at: int) -> bool:
    """True when the call at *at* is a bare ``summarize ... by`` key (so Kusto names the column after T)."""
    before = masked[:at].rstrip()
    if not (before.endswith(",") or re.search(r"(?<![A-Za-z0-9_])by$", before)):
        return False
    depth = 0
    k = at - 1
    while k >= 0:
        ch = masked[k]
        if ch in ")]}":
            depth += 1
        elif ch in "([{":
            if depth == 0:
                break  # inside a call or a sub-query head: not a by-key of this segment
            depth -= 1
        elif ch == "|" and depth == 0:
            segment = masked[k + 1 : at]
            return bool(re.match(r"\s*summarize\b", segment)) and bool(re.search(r"(?<![A-Za-z0-9_])by\b", segment))
        k -= 1
    return False


def rewrite_bin_at(query: str) -> str:
    """Rewrite every 3-argument ``bin_at(T, S, F)`` (innermost first); other arities are left for the engine."""
    while True:
        masked = _mask(query)
        matches = [m for m in _BIN_AT.finditer(masked)]
        target = None
        for m in reversed(matches):  # the last one cannot contain another after it: innermost-last-first
            open_at = m.end() - 1
            close = _matching(masked, open_at)
            if close == -1:
                continue
            args = _split_top(masked, open_at + 1, close, ",")
            if len(args) == 3 and all(masked[a:b].strip() for a, b in args):
                target = (m.start(), close, args)
                break
        if target is None:
            return query
        begin, close, args = target
        value, step, anchor = (query[a:b].strip() for a, b in args)
        expr = f"(({anchor}) + ({step}) * floor((({value}) - ({anchor})) / ({step}), 1))"
        if _IDENT.match(value) and _names_summarize_key(masked, begin):
            expr = f"{value} = {expr}"
        query = query[:begin] + expr + query[close + 1 :]
