"""Renderer: AST → KQL text. Pure functions; the only caller-visible escaping happens in ``_literals``.

Expressions render themselves when built (``Expr.text``), so this module lays out pipelines: heads, pipe
operators, let statements, indented sub-queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from m365sentinel.kql import _ops as o
from m365sentinel.kql._expr import Expr, SortKey
from m365sentinel.kql._literals import quote_identifier, render_literal

if TYPE_CHECKING:
    from m365sentinel.kql._query import Query

__all__ = ["render_expr", "render_query"]

INDENT = "    "


def render_expr(expr: Expr) -> str:
    """One scalar expression as KQL text (each node rendered itself when it was built)."""
    return expr.text


def _sort_key(key: SortKey) -> str:
    text = f"{key.expr.text} {key.order}"
    return f"{text} nulls {key.nulls}" if key.nulls else text


def _list(items: tuple[Expr, ...]) -> str:
    return ", ".join([i.text for i in items])


def _indent(lines: list[str]) -> list[str]:
    return [INDENT + line if line else line for line in lines]


def _subquery(query: Query) -> list[str]:
    """A sub-query operand: a bare table name, or a parenthesized, indented pipeline."""
    if not query.lets and not query.ops and isinstance(query.head, o.TableRef):
        return [quote_identifier(query.head.name)]
    return ["(", *_indent(_pipeline(query)), ")"]


def _attach(prefix: str, block: list[str], suffix: str = "") -> list[str]:
    """``prefix`` + first line of ``block`` ... last line + ``suffix``."""
    lines = list(block)
    lines[0] = prefix + lines[0]
    lines[-1] = lines[-1] + suffix
    return lines


def _on(on: tuple[Expr, ...]) -> str:
    return " on " + _list(on)


def _union_parts(u: o.Union) -> tuple[str, list[list[str]]]:
    params = ""
    if u.kind:
        params += f" kind={u.kind}"
    if u.withsource:
        params += f" withsource={quote_identifier(u.withsource)}"
    if u.isfuzzy:
        params += " isfuzzy=true"
    return "union" + params, [_subquery(s) for s in u.sources]


def _join_blocks(keyword: str, blocks: list[list[str]]) -> list[str]:
    """``keyword a, (\n ... \n), b``: operands separated by commas on the closing line of the previous one."""
    lines = _attach(keyword + " ", blocks[0])
    for block in blocks[1:]:
        lines[-1] += ", " + block[0]
        lines.extend(block[1:])
    return lines


def _range(src: o.RangeSource) -> list[str]:
    return [
        f"range {quote_identifier(src.column)} from {src.start.text} to {src.stop.text}"
        f" step {src.step.text}"
    ]


def _datatable(src: o.DatatableSource) -> list[str]:
    cols = ", ".join(f"{quote_identifier(n)}: {t}" for n, t in src.columns)
    rows = ", ".join(render_literal(v) for row in src.rows for v in row)
    return [f"datatable({cols}) [{rows}]"]


_HEAD: Final[dict[type, Callable[[Any], list[str]]]] = {
    o.TableRef: lambda s: [quote_identifier(s.name)],
    o.RangeSource: _range,
    o.DatatableSource: _datatable,
    o.PrintSource: lambda s: ["print " + _list(s.items)],
    o.ParenSource: lambda s: _attach("(", _pipeline(s.query), ")"),
    o.UnionSource: lambda s: _join_blocks(*_union_parts(s.union)),
    o.RawSource: lambda s: [s.text],
}


def _head(src: o.Source) -> list[str]:
    return _HEAD[type(src)](src)


def _render_value(value: Any) -> str:
    return value.text if isinstance(value, Expr) else render_literal(value)


def _summarize(op: o.Summarize) -> str:
    aggs = ", ".join([a.text for a in op.aggregations])
    text = "summarize " + aggs if aggs else "summarize"
    return text + " by " + ", ".join([b.text for b in op.by]) if op.by else text


def _join(op: o.Join | o.Lookup) -> list[str]:
    keyword = "join" if type(op) is o.Join else "lookup"
    if op.kind:
        keyword += f" kind={op.kind}"
    return _attach(keyword + " ", _subquery(op.right), _on(op.on))


def _mv_expand(op: o.MvExpand) -> str:
    text = "mv-expand " + _list(op.items)
    return text if op.limit is None else f"{text} limit {op.limit}"


def _parse(op: o.Parse) -> str:
    parts: list[str] = []
    for item in op.pattern:
        if item == "*":
            parts.append("*")
        elif isinstance(item, str):
            parts.append(render_literal(item))
        else:
            parts.append(f"{quote_identifier(item[0])}: {item[1]}")
    kind = f" kind={op.kind}" if op.kind else ""
    return f"parse{kind} {op.source.text} with " + " ".join(parts)


def _render_op(op: o.Render) -> str:
    text = "render " + op.visualization
    if op.properties:
        text += " with (" + ", ".join(f"{k}={_render_value(v)}" for k, v in op.properties) + ")"
    return text


# Pipe operators: one line (str) or several (list, e.g. a join with an indented sub-query).
_OP: Final[dict[type, Callable[[Any], str | list[str]]]] = {
    o.Where: lambda op: "where " + op.predicate.text,
    o.Extend: lambda op: "extend " + _list(op.items),
    o.Project: lambda op: "project " + _list(op.items),
    o.ProjectAway: lambda op: "project-away " + ", ".join(quote_identifier(n) for n in op.names),
    o.ProjectRename: lambda op: (
        "project-rename " + ", ".join(f"{quote_identifier(n)} = {quote_identifier(old)}" for n, old in op.pairs)
    ),
    o.Summarize: _summarize,
    o.Sort: lambda op: f"{op.keyword} by " + ", ".join(_sort_key(k) for k in op.keys),
    o.Top: lambda op: f"top {op.count} by {_sort_key(op.key)}",
    o.Take: lambda op: f"{op.keyword} {op.count}",
    o.Distinct: lambda op: "distinct " + _list(op.items),
    o.Count: lambda op: "count",
    o.Join: _join,
    o.Lookup: _join,
    o.Union: lambda op: _join_blocks(*_union_parts(op)),
    o.MvExpand: _mv_expand,
    o.Parse: _parse,
    o.Render: _render_op,
    o.RawOp: lambda op: op.text,
}


def _pipeline(query: Query) -> list[str]:
    lines = _head(query.head)
    for op in query.ops:
        out = _OP[type(op)](op)
        if isinstance(out, str):
            lines.append("| " + out)
        else:
            lines.extend(_attach("| ", out))
    return lines


def _let(let: o.LetScalar | o.LetTabular | o.LetFunction) -> list[str]:
    name = quote_identifier(let.name)
    if isinstance(let, o.LetScalar):
        return [f"let {name} = {let.value.text};"]
    if isinstance(let, o.LetTabular):
        return [f"let {name} = (", *_indent(_pipeline(let.query)), ");"]
    params = ", ".join(f"{quote_identifier(p)}: {t}" for p, t in let.parameters)
    if isinstance(let.body, Expr):
        return [f"let {name} = ({params}) {{ {let.body.text} }};"]
    return [f"let {name} = ({params}) {{", *_indent(_pipeline(let.body)), "};"]


def render_query(query: Query) -> str:
    """The whole query: let statements (one per line, ``;``-terminated), then the pipeline."""
    lines: list[str] = []
    for let in query.lets:
        lines.extend(_let(let))
    lines.extend(_pipeline(query))
    return "\n".join(lines)
