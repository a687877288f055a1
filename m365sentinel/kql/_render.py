"""Renderer: AST → KQL text. Pure functions; the only caller-visible escaping happens in ``_literals``.

Every node renders itself when built (``Expr.text``, ``lines`` of sources, pipe operators and let
statements, see ``_ops``), so rendering a query is joining its let statements' and pipeline's lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from m365sentinel.kql._expr import Expr

if TYPE_CHECKING:
    from m365sentinel.kql._query import Query

__all__ = ["render_expr", "render_query"]


def render_expr(expr: Expr) -> str:
    """One scalar expression as KQL text."""
    return expr.text


def render_query(query: Query) -> str:
    """The whole query: let statements (one per line, ``;``-terminated), then the pipeline."""
    lines = list(query.head.lines)
    for op in query.ops:
        lines += op.lines
    if query.lets:
        lets: list[str] = []
        for let in query.lets:
            lets += let.lines
        lines[:0] = lets
    return "\n".join(lines)
