"""Renderer: AST → KQL text. Pure functions; the only caller-visible escaping happens in ``_literals``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from m365sentinel.kql import _ops as o
from m365sentinel.kql._expr import (
    Alias,
    Between,
    Binary,
    Call,
    Column,
    Expr,
    In,
    Index,
    JoinSide,
    Literal,
    Null,
    RawExpr,
    SortKey,
    Star,
    Unary,
    Var,
)
from m365sentinel.kql._literals import quote_identifier, render_literal, render_null

if TYPE_CHECKING:
    from m365sentinel.kql._query import Query

__all__ = ["render_expr", "render_query"]

INDENT = "    "


def _child(expr: Expr, parent_prec: int, *, right: bool, associative: bool) -> str:
    text = render_expr(expr)
    prec = expr.precedence
    if prec < parent_prec or (right and prec == parent_prec and not associative):
        return f"({text})"
    return text


def render_expr(expr: Expr) -> str:
    """One scalar expression as KQL text."""
    if isinstance(expr, Literal):
        return expr.text
    if isinstance(expr, Column | Var):
        return quote_identifier(expr.name)
    if isinstance(expr, Binary):
        left = _child(expr.left, expr.precedence, right=False, associative=expr.associative)
        same_op = isinstance(expr.right, Binary) and expr.right.op == expr.op
        right = _child(expr.right, expr.precedence, right=True, associative=expr.associative and same_op)
        return f"{left} {expr.op} {right}"
    if isinstance(expr, Call):
        return f"{expr.name}({', '.join(render_expr(a) for a in expr.args)})"
    if isinstance(expr, In):
        left = _child(expr.left, expr.precedence + 1, right=False, associative=False)
        return f"{left} {expr.op} ({', '.join(render_expr(v) for v in expr.values)})"
    if isinstance(expr, Between):
        left = _child(expr.left, expr.precedence + 1, right=False, associative=False)
        op = "!between" if expr.negated else "between"
        return f"{left} {op} ({render_expr(expr.low)} .. {render_expr(expr.high)})"
    if isinstance(expr, Unary):
        return f"{expr.op}{_child(expr.operand, expr.precedence, right=True, associative=False)}"
    if isinstance(expr, Index):
        return f"{_child(expr.target, 7, right=False, associative=False)}[{render_expr(expr.key)}]"
    if isinstance(expr, Alias):
        return f"{quote_identifier(expr.name)} = {render_expr(expr.expr)}"
    if isinstance(expr, JoinSide):
        return f"${expr.side}.{quote_identifier(expr.name)}"
    if isinstance(expr, Null):
        return render_null(expr.kind)
    if isinstance(expr, Star):
        return "*"
    if isinstance(expr, RawExpr):
        return expr.text
    raise TypeError(f"cannot render {type(expr).__name__}")  # pragma: no cover - every node is handled


def _sort_key(key: SortKey, *, explicit: bool = True) -> str:
    text = render_expr(key.expr)
    if explicit:
        text += f" {key.order}"
    if key.nulls:
        text += f" nulls {key.nulls}"
    return text


def _list(items: tuple[Expr, ...]) -> str:
    return ", ".join(render_expr(i) for i in items)


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


def _head(src: o.Source) -> list[str]:
    if isinstance(src, o.TableRef):
        return [quote_identifier(src.name)]
    if isinstance(src, o.RangeSource):
        return [f"range {quote_identifier(src.column)} from {render_expr(src.start)} to {render_expr(src.stop)}"
                f" step {render_expr(src.step)}"]
    if isinstance(src, o.DatatableSource):
        cols = ", ".join(f"{quote_identifier(n)}: {t}" for n, t in src.columns)
        rows = ", ".join(render_literal(v) for row in src.rows for v in row)
        return [f"datatable({cols}) [{rows}]"]
    if isinstance(src, o.PrintSource):
        return ["print " + _list(src.items)]
    if isinstance(src, o.ParenSource):
        return _attach("(", _pipeline(src.query), ")")
    if isinstance(src, o.UnionSource):
        keyword, blocks = _union_parts(src.union)
        return _join_blocks(keyword, blocks)
    if isinstance(src, o.RawSource):
        return [src.text]
    raise TypeError(f"cannot render {type(src).__name__}")  # pragma: no cover


def _render_value(value: Any) -> str:
    return render_expr(value) if isinstance(value, Expr) else render_literal(value)


def _op(op: o.Op) -> list[str]:
    if isinstance(op, o.Where):
        return ["where " + render_expr(op.predicate)]
    if isinstance(op, o.Extend):
        return ["extend " + _list(op.items)]
    if isinstance(op, o.Project):
        return ["project " + _list(op.items)]
    if isinstance(op, o.ProjectAway):
        return ["project-away " + ", ".join(quote_identifier(n) for n in op.names)]
    if isinstance(op, o.ProjectRename):
        return ["project-rename " + ", ".join(f"{quote_identifier(n)} = {quote_identifier(old)}"
                                             for n, old in op.pairs)]
    if isinstance(op, o.Summarize):
        text = "summarize"
        if op.aggregations:
            text += " " + _list(op.aggregations)
        if op.by:
            text += " by " + _list(op.by)
        return [text]
    if isinstance(op, o.Sort):
        return [f"{op.keyword} by " + ", ".join(_sort_key(k) for k in op.keys)]
    if isinstance(op, o.Top):
        return [f"top {op.count} by {_sort_key(op.key)}"]
    if isinstance(op, o.Take):
        return [f"{op.keyword} {op.count}"]
    if isinstance(op, o.Distinct):
        return ["distinct " + _list(op.items)]
    if isinstance(op, o.Count):
        return ["count"]
    if isinstance(op, o.Join | o.Lookup):
        keyword = "join" if isinstance(op, o.Join) else "lookup"
        if op.kind:
            keyword += f" kind={op.kind}"
        return _attach(keyword + " ", _subquery(op.right), _on(op.on))
    if isinstance(op, o.Union):
        keyword, blocks = _union_parts(op)
        return _join_blocks(keyword, blocks)
    if isinstance(op, o.MvExpand):
        text = "mv-expand " + _list(op.items)
        return [text if op.limit is None else f"{text} limit {op.limit}"]
    if isinstance(op, o.Parse):
        parts: list[str] = []
        for item in op.pattern:
            if item == "*":
                parts.append("*")
            elif isinstance(item, str):
                parts.append(render_literal(item))
            else:
                parts.append(f"{quote_identifier(item[0])}: {item[1]}")
        kind = f" kind={op.kind}" if op.kind else ""
        return [f"parse{kind} {render_expr(op.source)} with " + " ".join(parts)]
    if isinstance(op, o.Render):
        text = "render " + op.visualization
        if op.properties:
            text += " with (" + ", ".join(f"{k}={_render_value(v)}" for k, v in op.properties) + ")"
        return [text]
    if isinstance(op, o.RawOp):
        return [op.text]
    raise TypeError(f"cannot render {type(op).__name__}")  # pragma: no cover


def _pipeline(query: Query) -> list[str]:
    lines = _head(query.head)
    for op in query.ops:
        lines.extend(_attach("| ", _op(op)))
    return lines


def _let(let: o.LetScalar | o.LetTabular | o.LetFunction) -> list[str]:
    name = quote_identifier(let.name)
    if isinstance(let, o.LetScalar):
        return [f"let {name} = {render_expr(let.value)};"]
    if isinstance(let, o.LetTabular):
        return [f"let {name} = (", *_indent(_pipeline(let.query)), ");"]
    params = ", ".join(f"{quote_identifier(p)}: {t}" for p, t in let.parameters)
    if isinstance(let.body, Expr):
        return [f"let {name} = ({params}) {{ {render_expr(let.body)} }};"]
    return [f"let {name} = ({params}) {{", *_indent(_pipeline(let.body)), "};"]


def render_query(query: Query) -> str:
    """The whole query: let statements (one per line, ``;``-terminated), then the pipeline."""
    lines: list[str] = []
    for let in query.lets:
        lines.extend(_let(let))
    lines.extend(_pipeline(query))
    return "\n".join(lines)
