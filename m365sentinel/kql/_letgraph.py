"""The ``let`` graph of a query: each statement's references to the others, rendered in dependency order.

KQL binds a name only after its ``let`` statement, so ``let since = ago(lookback); let lookback = 1d;`` is
rejected. Statements keep the order they were added in, except that a statement moves after every statement
it refers to. References are read from the statement's own text with the tokenizer (strings and comments are
never mistaken for names); a function's parameters and a sub-query's own ``let`` names shadow outer names.
A reference to a name that is also a column only orders the two statements, which is harmless; a cycle is
an ``InvalidInputError`` at build time.
"""

from __future__ import annotations

from collections.abc import Sequence

from m365sentinel._errors import InvalidInputError
from m365sentinel.kql import _ops as o
from m365sentinel.kql._expr import Expr
from m365sentinel.kql._lexer import string_value, tokenize
from m365sentinel.kql._literals import quote_identifier

__all__ = ["let_refs", "order_lets"]


def _names(text: str) -> set[str]:
    """Every name in ``text``: plain identifiers and bracketed ``['...']`` ones."""
    tokens = tokenize(text)
    out = {t.text for t in tokens if t.kind == "name"}
    for i in range(1, len(tokens) - 1):
        if tokens[i].kind == "string" and tokens[i - 1].text == "[" and tokens[i + 1].text == "]":
            out.add(string_value(tokens[i].text))
    return out


def let_refs(stmt: o.Let, candidates: set[str]) -> set[str]:
    """The names of ``candidates`` that ``stmt``'s value refers to (never its own name)."""
    lines = list(stmt.lines)
    lines[0] = lines[0][len(f"let {quote_identifier(stmt.name)} =") :]  # only the value refers to anything
    shadowed = {stmt.name}
    if isinstance(stmt, o.LetFunction):
        shadowed |= {p for p, _ in stmt.parameters}
    body = stmt.body if isinstance(stmt, o.LetFunction) else stmt.query if isinstance(stmt, o.LetTabular) else None
    if body is not None and not isinstance(body, Expr):
        shadowed |= {inner.name for inner in body.lets}
    return (_names("\n".join(lines)) & candidates) - shadowed


def order_lets(lets: Sequence[o.Let]) -> tuple[o.Let, ...]:
    """``lets`` in dependency order, otherwise in the given order; InvalidInputError on a cycle."""
    names = {stmt.name for stmt in lets}
    pending = [(stmt, let_refs(stmt, names)) for stmt in lets]
    if not any(refs for _, refs in pending):
        return tuple(lets)
    done: list[o.Let] = []
    bound: set[str] = set()
    while pending:
        for i, (stmt, refs) in enumerate(pending):
            if refs <= bound:
                done.append(stmt)
                bound.add(stmt.name)
                del pending[i]
                break
        else:
            cycle = ", ".join(sorted(stmt.name for stmt, _ in pending))
            raise InvalidInputError(f"let statements refer to each other in a cycle: {cycle}")
    return tuple(done)
