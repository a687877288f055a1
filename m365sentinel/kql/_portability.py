"""Defender advanced hunting → Sentinel portability: what in a query does not carry over as is.

Computed from the two schema sets (``_schemas``: Sentinel's tables and columns, Defender advanced hunting's):

- ``defender-only-function`` (error): FileProfile, DeviceFromIP, AssignedIPAddresses, SeenBy.
- ``table-not-streamed`` (error): a Defender table the connector never streams (DeviceTvm*, ...).
- ``custom-table`` (warning): a ``_CL`` table exists only in a workspace that ingests it (never in Defender).
- ``table-not-selected`` (warning): a streamed table the caller has not selected for collection has no rows.
- ``column-renamed`` (error): Sentinel holds the value under another name (IdentityInfo ``AccountUpn`` →
  ``AccountUPN``); ``column-missing`` (error): a Defender column of the query's tables that Sentinel lacks
  (``Timestamp`` on UrlClickEvents: use ``TimeGenerated``).
- ``additionalfields-as-string`` / ``column-as-string`` (warning): a column typed string in Defender and dynamic
  in Sentinel (AdditionalFields on the Device* and Email* tables) used with string operators or functions sees
  its JSON re-serialization.
- ``join-key-type`` (error): a join key typed int in Defender and string in Sentinel (``Port`` on the Identity*
  tables): Sentinel rejects a join on columns of different types. ``column-type`` (warning): such a column
  compared with a number.
- ``window-beyond-30d`` (info): Defender keeps 30 days; a longer window reads more data in Sentinel.
- ``timestamp-column`` (info): ``Timestamp`` exists on the table in Sentinel too, but the workspace filters and
  retains data by ``TimeGenerated``.

The check works on tokens (``_lexer``), so words inside string literals and comments never match. It is a
linter, not a binder: names are matched by spelling and position, not by resolved symbol; a column is checked
against the known tables the query names, and a name the query itself defines (``X =``, ``let``) is never one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, Literal

import attrs

from m365sentinel._errors import InvalidInputError
from m365sentinel.kql._lexer import Token, string_value, tokenize
from m365sentinel.kql._literals import KEYWORDS
from m365sentinel.kql._schemas import defender_side, schema_registry

if TYPE_CHECKING:
    from m365sentinel.kql._query import Query

__all__ = ["STREAMED_TABLES", "PortabilityFinding", "PortabilityReport", "Severity", "check_portability"]

Severity = Literal["error", "warning", "info"]

# The Defender XDR connector's event tables (MicrosoftThreatProtection.JSON dataTypes, without the incident and
# alert tables) plus AlertInfo, which the streaming API also exports (samples/streaming-api).
STREAMED_TABLES: Final = frozenset(
    {
        "AlertEvidence",
        "AlertInfo",
        "CloudAppEvents",
        "DeviceEvents",
        "DeviceFileCertificateInfo",
        "DeviceFileEvents",
        "DeviceImageLoadEvents",
        "DeviceInfo",
        "DeviceLogonEvents",
        "DeviceNetworkEvents",
        "DeviceNetworkInfo",
        "DeviceProcessEvents",
        "DeviceRegistryEvents",
        "EmailAttachmentInfo",
        "EmailEvents",
        "EmailPostDeliveryEvents",
        "EmailUrlInfo",
        "IdentityDirectoryEvents",
        "IdentityLogonEvents",
        "IdentityQueryEvents",
        "UrlClickEvents",
    }
)
_DEFENDER_FUNCTIONS: Final = {
    "FileProfile": "enrich from workspace data instead (DeviceFileEvents, DeviceFileCertificateInfo) or run this "
    "part in Defender advanced hunting",
    "DeviceFromIP": "look the address up in DeviceNetworkInfo (IPAddresses) for the time of interest",
    "AssignedIPAddresses": "read DeviceNetworkInfo | mv-expand IPAddresses for the device instead",
    "SeenBy": "use DeviceInfo / DeviceNetworkEvents in the workspace, or run this part in Defender advanced hunting",
}
# After AdditionalFields, these operators compare its text; in Sentinel that text is a JSON re-serialization.
_STRING_OPERATORS: Final = frozenset(
    {
        "has",
        "has_cs",
        "hasprefix",
        "hasprefix_cs",
        "hassuffix",
        "hassuffix_cs",
        "contains",
        "contains_cs",
        "startswith",
        "startswith_cs",
        "endswith",
        "endswith_cs",
        "matches",
        "like",
        "has_any",
        "has_all",
        "in",
        "=~",
        "!~",
        "==",
        "!=",
    }
)
# Functions that read an argument as a string.
_STRING_FUNCTIONS: Final = frozenset(
    {
        "extractjson",
        "extract_json",
        "extract",
        "extract_all",
        "split",
        "strlen",
        "substring",
        "indexof",
        "tolower",
        "toupper",
        "trim",
        "trim_start",
        "trim_end",
        "replace",
        "replace_string",
        "replace_regex",
        "countof",
        "strcat",
        "parse_xml",
        "parse_url",
        "base64_encode_tostring",
    }
)
_MAX_DEFENDER_TICKS: Final = 30 * 864_000_000_000  # 30 days
# Names KQL gives aggregates and duplicate join columns (count_, dcount_X, set_X, aggregated_X, X1).
_AUTO_NAME: Final = re.compile(
    r"^(count_|(dcount|dcountif|countif|set|list|min|max|sum|avg|any|arg_max|arg_min|make_set|make_list|"
    r"aggregated|percentile|stdev|variance)_.*|.*\d)$"
)
_OPEN_SHAPE: Final = frozenset(
    {"evaluate", "parse", "parse-where", "parse-kv", "mv-apply", "bag_unpack", "pivot", "externaldata", "invoke"}
)
_NUMERIC_KINDS: Final = frozenset({"int", "long", "real", "decimal"})
_COMPARISONS: Final = frozenset({"==", "!=", "<", ">", "<=", ">=", "in", "between"})


@attrs.frozen
class PortabilityFinding:
    """One thing that does not port, at ``line``:``column`` (1-based; columns count characters) =
    ``offset`` (0-based character offset into the checked text), spanning ``length`` characters (``text``)."""

    code: str
    severity: Severity
    message: str
    fix: str
    line: int
    column: int
    offset: int
    length: int
    text: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column} {self.severity} {self.code}: {self.message} Fix: {self.fix}"


@attrs.frozen
class PortabilityReport:
    """The findings for one query text (``query``: the text checked; a built Query is rendered first)."""

    query: str
    findings: tuple[PortabilityFinding, ...]

    @property
    def ok(self) -> bool:
        """True when nothing is an error or a warning (info findings only note differences)."""
        return all(f.severity == "info" for f in self.findings)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.findings)

    def __str__(self) -> str:
        if not self.findings:
            return "portable: no findings"
        return "\n".join(str(f) for f in self.findings)


def _names(tokens: list[Token]) -> list[tuple[Token, str | None]]:
    """Tokens with their identifier (None for non-names); ``['x']`` as a name is one item.

    ``X['k']`` right after a value is an index, not a name: the lexer cannot tell them apart, so a bracket is
    a name after an operator, a keyword or whitespace (``kind=inner ['T']``), and an index when glued on."""
    out: list[tuple[Token, str | None]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        prev = out[-1][0] if out else None
        operand_position = (
            prev is None
            or prev.end < tok.offset
            or prev.text in KEYWORDS
            or (prev.kind == "punct" and prev.text not in (")", "]"))
        )
        if (
            tok.text == "["
            and operand_position
            and i + 2 < len(tokens)
            and tokens[i + 1].kind == "string"
            and tokens[i + 2].text == "]"
        ):
            close = tokens[i + 2]
            merged = Token("name", f"[{tokens[i + 1].text}]", tok.offset, close.end)
            out.append((merged, string_value(tokens[i + 1].text)))
            i += 3
            continue
        out.append((tok, tok.text if tok.kind == "name" else None))
        i += 1
    return out


def _declared(items: list[tuple[Token, str | None]]) -> set[int]:
    """Indexes of names that declare rather than reference: ``let X``, ``X =``, ``X:type``, ``(A, B) =``."""
    out: set[int] = set()
    stack: list[int] = []
    for i, (tok, name) in enumerate(items):
        nxt = items[i + 1][0].text if i + 1 < len(items) else ""
        if name is not None and (nxt in ("=", ":") or (i > 0 and items[i - 1][1] == "let")):
            out.add(i)
        if tok.text == "(":
            stack.append(i)
        elif tok.text == ")" and stack:
            start = stack.pop()
            inner = items[start + 1 : i]
            if nxt == "=" and inner and all(n is not None or t.text == "," for t, n in inner):
                out.update(range(start + 1, i))
    return out


def _member(items: list[tuple[Token, str | None]], i: int) -> bool:
    """True for ``x.Name`` (a dynamic property), but not for ``$left.Name`` / ``$right.Name``."""
    return i >= 2 and items[i - 1][0].text == "." and items[i - 2][1] not in ("$left", "$right")


def _enclosing_call(items: list[tuple[Token, str | None]], i: int) -> str | None:
    """The function whose direct, whole argument item ``i`` is (``f(a, X, b)``), else None."""
    if i + 1 >= len(items) or items[i + 1][0].text not in (",", ")") or items[i - 1][0].text not in ("(", ","):
        return None
    depth = 0
    for j in range(i - 1, 0, -1):
        text = items[j][0].text
        if text in (")", "]"):
            depth += 1
        elif text in ("(", "["):
            if depth == 0:
                return items[j - 1][1] if text == "(" else None
            depth -= 1
    return None


class _Checker:
    def __init__(self, text: str, selected: frozenset[str] | None) -> None:
        self.text = text
        self.selected = selected
        self.items = _names(tokenize(text))
        self.declared = _declared(self.items)
        self.lets = {name for i, (_, name) in enumerate(self.items) if name and i > 0 and self.items[i - 1][1] == "let"}
        self.defined = {self.items[i][1] for i in self.declared} | self.lets
        # A column the query defines shadows a table column only in later pipe operators (``extend X = ..
        # | project X``), not in its own (``summarize (Timestamp, Id) = arg_max(Timestamp, Id)``).
        self.pipes: list[int] = []
        count = 0
        for tok, _ in self.items:
            self.pipes.append(count)
            count += tok.text in ("|", ";")
        self.defined_at: dict[str, list[int]] = {}
        for i in sorted(self.declared):
            name = self.items[i][1]
            if name is not None:
                self.defined_at.setdefault(name, []).append(i)
        self.findings: list[PortabilityFinding] = []
        self.defender = defender_side()
        sentinel = schema_registry()
        names = {name for _, name in self.items if name is not None} - self.defined
        self.tables = sorted(names & (set(sentinel) | set(self.defender.tables)))
        # Columns of the named tables on each side: {column: kind}; a column known on several tables keeps one kind.
        self.sentinel_cols: dict[str, str] = {}
        self.defender_cols: dict[str, str] = {}
        for table in self.tables:
            if table in sentinel:
                self.sentinel_cols.update(sentinel[table].kinds)
            if table in self.defender.tables:
                self.defender_cols.update(self.defender.tables[table].kinds)
        self.on_clause = _on_clauses(self.items)
        # Operators that add columns the checker does not follow (and custom or unknown tables) stop the check.
        self.table_positions = _table_positions(self.items)
        self.after_summarize = _summarize_outputs(self.items, self.declared)
        self.open_shape = any(name in _OPEN_SHAPE for _, name in self.items) or any(
            self.items[i][1] not in sentinel for i in self.table_positions
        )
        self.known_tables = set(sentinel)

    def add(self, tok: Token, code: str, severity: Severity, message: str, fix: str) -> None:
        line = self.text.count("\n", 0, tok.offset) + 1
        column = tok.offset - (self.text.rfind("\n", 0, tok.offset) + 1) + 1
        self.findings.append(
            PortabilityFinding(code, severity, message, fix, line, column, tok.offset, tok.end - tok.offset, tok.text)
        )

    def run(self) -> tuple[PortabilityFinding, ...]:
        for i, (tok, name) in enumerate(self.items):
            if name is not None and i not in self.declared and name not in self.lets and not _member(self.items, i):
                self.name(i, tok, name)
            elif tok.kind == "timespan" and tok.value is not None and abs(tok.value) > _MAX_DEFENDER_TICKS:
                self.add(
                    tok,
                    "window-beyond-30d",
                    "info",
                    f"{tok.text} is longer than Defender's 30-day advanced hunting retention: Defender read at "
                    f"most 30 days, Sentinel reads the whole window as far as the table's retention allows.",
                    "keep it if the longer window is wanted (check the table's retention and run the query "
                    "with a timespan that covers it), or use 30d to match Defender's results",
                )
        return tuple(self.findings)

    def name(self, i: int, tok: Token, name: str) -> None:
        nxt = self.items[i + 1][0].text if i + 1 < len(self.items) else ""
        if name in self.defender.functions and nxt == "(":
            self.add(
                tok,
                "defender-only-function",
                "error",
                f"{name}() exists only in Defender advanced hunting; Sentinel has no such function.",
                _DEFENDER_FUNCTIONS[name],
            )
        elif name.endswith("_CL"):
            self.add(
                tok,
                "custom-table",
                "warning",
                f"{name} is a custom table: it exists only in a workspace that ingests it, never in Defender.",
                "check that this workspace has the table (the Sentinel schemas here do not know it)",
            )
        elif self.defender.is_defender_only(name):
            self.add(
                tok,
                "table-not-streamed",
                "error",
                f"table {name} exists only in Defender advanced hunting; it is never streamed to Sentinel.",
                "run this query in Defender advanced hunting (Graph runHuntingQuery) instead",
            )
        elif name in STREAMED_TABLES and self.selected is not None and name not in self.selected:
            self.add(
                tok,
                "table-not-selected",
                "warning",
                f"table {name} is not selected for collection, so Sentinel has no rows of it.",
                f"select {name} in the Defender XDR connector (Connect events), or drop it from the query",
            )
        elif name in self.known_tables and nxt == "|" and _glued_statement(self.items, i):
            self.add(
                tok,
                "missing-semicolon",
                "error",
                f"a new statement starts at {name} without a ';' after the previous one; KQL rejects the query.",
                "end the previous statement with ';' (or keep one query)",
            )
        elif i in self.table_positions and name not in self.known_tables and nxt != "(":
            self.add(
                tok,
                "unknown-table",
                "warning",
                f"{name} is not a table of Sentinel's schemas known here (nor of Defender's streamed tables).",
                "check the table name, or run this query where the table exists",
            )
        elif name not in self.tables:
            self.column(i, tok, name, nxt)

    def column(self, i: int, tok: Token, name: str, nxt: str) -> None:
        theirs = self.defender_cols.get(name)
        ours = self.sentinel_cols.get(name)
        if theirs is None and ours is None:
            self.unknown_column(i, tok, name, nxt)
            return
        outputs = self.after_summarize.get(i)
        if outputs is not None and name not in outputs and name not in self.defined and not self.open_shape:
            self.add(
                tok,
                "column-after-summarize",
                "error",
                f"{name} is not among the columns of the summarize before it (its aggregates and 'by' keys); "
                "KQL rejects the reference.",
                f"add {name} to the summarize's 'by' keys or aggregate it (take_any({name}))",
            )
            return
        if theirs is None or (ours is None and self._shadowed(i, name)):  # the query's own column of that name
            return
        if ours is None:
            renamed = next((m[name] for t, m in self.defender.renamed.items() if t in self.tables and name in m), None)
            if renamed is not None:
                self.add(
                    tok,
                    "column-renamed",
                    "error",
                    f"{name} is named {renamed} in Sentinel's {self._table_with(renamed)}.",
                    f"use {renamed}",
                )
            else:
                fix = "use TimeGenerated" if name == "Timestamp" else "run this query in Defender advanced hunting"
                self.add(
                    tok,
                    "column-missing",
                    "error",
                    f"column {name} of Defender's {', '.join(self._tables_with(name))} does not exist in Sentinel.",
                    fix,
                )
        elif name == "Timestamp":
            self.add(
                tok,
                "timestamp-column",
                "info",
                "Timestamp is Defender's time column; Sentinel carries it on this table too, but the workspace "
                "filters and retains data by TimeGenerated.",
                "use TimeGenerated",
            )
        elif theirs == "string" and ours == "dynamic":
            self.as_string(i, tok, name, nxt)
        elif theirs in _NUMERIC_KINDS and ours == "string":
            self.numeric_as_string(i, tok, name, theirs, nxt)

    def unknown_column(self, i: int, tok: Token, name: str, nxt: str) -> None:
        """A name compared like a column that no named table has and the query never defines."""
        if (
            not self.tables
            or nxt not in _STRING_OPERATORS | _COMPARISONS
            or name in self.defined
            or _AUTO_NAME.match(name)
            or self.open_shape
            or i in self.on_clause
        ):
            return
        self.add(
            tok,
            "unknown-column",
            "warning",
            f"{name} is not a column of {', '.join(self.tables)} on either side, and the query does not define it.",
            "check the column name against the table's schema",
        )

    def _shadowed(self, i: int, name: str) -> bool:
        return name in self.lets or any(self.pipes[d] < self.pipes[i] for d in self.defined_at.get(name, ()))

    def _tables_with(self, column: str) -> list[str]:
        return [t for t in self.tables if t in self.defender.tables and column in self.defender.tables[t].kinds]

    def _table_with(self, column: str) -> str:
        sentinel = schema_registry()
        return next((t for t in self.tables if t in sentinel and column in sentinel[t].kinds), "table")

    def as_string(self, i: int, tok: Token, name: str, nxt: str) -> None:
        op = nxt
        if nxt == "!" and i + 2 < len(self.items):
            op = self.items[i + 2][0].text
        call = _enclosing_call(self.items, i)
        if op in _STRING_OPERATORS:
            used = f"'!{op}'" if nxt == "!" else f"'{op}'"
        elif call in _STRING_FUNCTIONS:
            used = f"{call}()"
        elif i > 0 and self.items[i - 1][1] == "parse":
            used = "parse"
        else:
            return
        self.add(
            tok,
            "additionalfields-as-string" if name == "AdditionalFields" else "column-as-string",
            "warning",
            f"{name} is used as a string ({used}); it is a string in Defender but dynamic in Sentinel, where "
            "this sees its JSON re-serialization (spacing, key order and escaping can differ).",
            f"read a property ({name}.Name, tostring({name}.Name)), or convert explicitly: tostring({name})",
        )

    def numeric_as_string(self, i: int, tok: Token, name: str, theirs: str, nxt: str) -> None:
        if i in self.on_clause:
            self.add(
                tok,
                "join-key-type",
                "error",
                f"join key {name} is {theirs} in Defender but string in Sentinel; Sentinel rejects a join on "
                "columns of different types.",
                f"convert the key on both sides, e.g. extend {name} = tostring({name}) before the join",
            )
        elif nxt in _COMPARISONS and i + 2 < len(self.items) and self.items[i + 2][0].kind == "number":
            self.add(
                tok,
                "column-type",
                "warning",
                f"{name} is {theirs} in Defender but string in Sentinel: comparing it with a number compares "
                "differently.",
                f'compare with a string ("{self.items[i + 2][0].text}") or convert: to{theirs}({name})',
            )


_HEAD_KEYWORDS: Final = frozenset({"join", "lookup", "union", "on", "let", "in", "as", "materialize", "toscalar"})


def _glued_statement(items: list[tuple[Token, str | None]], i: int) -> bool:
    """True when the table name at ``i`` follows a finished pipeline's last name with no operator between."""
    if i < 2 or items[i - 1][1] is None or items[i - 1][1] in _HEAD_KEYWORDS:
        return False
    return items[i - 2][0].text not in ("=", "(", ",", "|", ";") and items[i - 2][1] not in _HEAD_KEYWORDS


_RESHAPING: Final = frozenset(
    {
        "join",
        "lookup",
        "union",
        "evaluate",
        "mv-expand",
        "mv-apply",
        "parse",
        "extend",
        "project",
        "project-rename",
        "project-reorder",
        "project-away",
        "getschema",
        "as",
    }
)


def _summarize_outputs(items: list[tuple[Token, str | None]], declared: set[int]) -> dict[int, frozenset[str]]:
    """For each item after a ``summarize`` in the same pipeline: the names that summarize outputs (what it
    declares, every name in its ``by`` clause, and the single-name arguments of its aggregates). Tracking stops at
    an operator that adds columns (join, extend, project, ...) and in sub-queries; function-call parentheses keep
    their pipeline's state."""
    out: dict[int, frozenset[str]] = {}
    stack: list[frozenset[str] | None] = [None]
    op_start: list[int] = [-1]
    op_name: list[str | None] = [None]
    for i, (tok, name) in enumerate(items):
        text = tok.text
        if text == "(":
            prev = items[i - 1] if i else None
            option = i >= 3 and items[i - 2][0].text == "=" and items[i - 3][1] == "kind"  # join kind=inner (
            call = prev is not None and prev[1] is not None and prev[1] not in _HEAD_KEYWORDS and not option
            stack.append(stack[-1] if call else None)
            op_start.append(op_start[-1] if call else -1)
            op_name.append(op_name[-1] if call else None)
            continue
        if text == ")" and len(stack) > 1:
            stack.pop()
            op_start.pop()
            op_name.pop()
            continue
        if text in ("|", ";"):
            if op_name[-1] == "summarize":
                stack[-1] = _outputs_of(items, declared, op_start[-1], i)
            elif op_name[-1] in _RESHAPING:
                stack[-1] = None
            if text == ";":
                stack[-1] = None
            op_start[-1] = i
            op_name[-1] = items[i + 1][1] if text == "|" and i + 1 < len(items) else None
            if op_name[-1] == "mv" or op_name[-1] == "project":  # mv-expand / project-away lex as several tokens
                op_name[-1] = "project" if op_name[-1] == "project" else "mv-expand"
            continue
        if name is not None and stack[-1] is not None:
            out[i] = stack[-1]
    return out


def _outputs_of(items: list[tuple[Token, str | None]], declared: set[int], start: int, end: int) -> frozenset[str]:
    names = {items[j][1] for j in range(start + 1, end) if j in declared or items[j][1] is not None}
    return frozenset(n for n in names if n is not None)


def _table_positions(items: list[tuple[Token, str | None]]) -> set[int]:
    """Indexes of names where a table goes: a statement's or parenthesized pipeline's head, ``let T = X |``,
    and the operands of ``join`` / ``lookup`` / ``union`` (after their ``kind=...`` style options and commas)."""
    out: set[int] = set()
    for i, (_, name) in enumerate(items):
        if name is None:
            continue
        prev = items[i - 1][0].text if i else ";"
        nxt = items[i + 1][0].text if i + 1 < len(items) else ";"
        option = i >= 4 and items[i - 3][0].text == "=" and items[i - 4][1] == "kind"  # join kind=inner (T ...)
        call = i >= 2 and prev == "(" and items[i - 2][1] not in (None, "join", "lookup", "union") and not option
        if (prev == ";" and nxt in ("|", ";", ")")) or (prev == "(" and not call and nxt in ("|", ")")):
            out.add(i)
            continue
        if prev == "=" and i >= 3 and items[i - 3][1] == "let" and nxt == "|":
            out.add(i)
            continue
        j = i - 1
        while j >= 2 and (items[j][0].text == "," or (items[j][0].kind == "name" and items[j - 1][0].text == "=")):
            j -= 1 if items[j][0].text == "," else 3  # skip ", X" of a union list, or "kind = inner"
            operand = items[j][0].kind == "name" and items[j][1] not in ("join", "lookup", "union")
            if operand and items[j + 1][0].text == ",":
                j -= 1
        if 0 <= j < i and items[j][1] in ("join", "lookup", "union"):
            out.add(i)
    return out


def _on_clauses(items: list[tuple[Token, str | None]]) -> set[int]:
    """Indexes of the items inside join/lookup ``on`` clauses (up to the next pipe, ``)`` or ``;`` at depth 0)."""
    out: set[int] = set()
    for start, (_, name) in enumerate(items):
        if name != "on":
            continue
        depth = 0
        for j in range(start + 1, len(items)):
            text = items[j][0].text
            if text in ("(", "["):
                depth += 1
            elif text in (")", "]") and depth:
                depth -= 1
            elif depth == 0 and text in ("|", ")", ";"):
                break
            out.add(j)
    return out


def check_portability(query: Query | str, *, selected_tables: Iterable[str] | None = None) -> PortabilityReport:
    """Check a Defender advanced hunting query (KQL text, or a built ``Query``, rendered first) for Sentinel.

    ``selected_tables``: the tables selected for collection in the Defender XDR connector; streamed tables the
    query uses that are not among them are reported. None skips that check. No I/O; never runs the query.
    Returns a PortabilityReport (findings in text order). Raises InvalidInputError for a query that is neither
    str nor Query, or ``selected_tables`` that is not an iterable of table names."""
    from m365sentinel.kql._query import Query

    if isinstance(query, Query):
        text = query.to_kql()
    elif isinstance(query, str):
        text = query
    else:
        raise InvalidInputError(f"check_portability expects KQL text (str) or a kql.Query, got {query!r}")
    selected: frozenset[str] | None = None
    if selected_tables is not None:
        names = [selected_tables] if not isinstance(selected_tables, Iterable) else list(selected_tables)
        if isinstance(selected_tables, str) or not all(isinstance(n, str) and n for n in names):
            raise InvalidInputError(
                f"selected_tables must be an iterable of table names (str), got {selected_tables!r}"
            )
        selected = frozenset(str(n) for n in names)
    return PortabilityReport(text, _Checker(text, selected).run())
