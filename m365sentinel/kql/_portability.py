"""Defender advanced hunting → Sentinel portability: what in a query does not carry over as is.

The source document says advanced hunting queries can be copied into Sentinel. Most can; these cannot, or
behave differently (DESIGN.md, "Defender → Sentinel"):

- ``defender-only-function`` (error): FileProfile, DeviceFromIP, AssignedIPAddresses, SeenBy exist only in
  Defender advanced hunting.
- ``table-not-streamed`` (error): DeviceTvm* and other Defender-only tables are never streamed to Sentinel.
- ``table-not-selected`` (warning): a streamed table the caller has not selected for collection has no rows.
- ``additionalfields-as-string`` (warning): ``AdditionalFields`` is a string in Defender, dynamic in Sentinel;
  string operators and functions then see its JSON re-serialization. Property access, ``parse_json`` and an
  explicit ``tostring`` are fine.
- ``window-beyond-30d`` (info): Defender keeps 30 days; a longer window reads more data in Sentinel.
- ``timestamp-column`` (info): ``Timestamp`` exists on the streamed tables in Sentinel too (same value as
  ``TimeGenerated``), but the workspace's time filter and retention work on ``TimeGenerated``.

The check works on tokens (``_lexer``), so words inside string literals and comments never match. It is a
linter, not a binder: names are matched by spelling and position, not by resolved symbol.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, Literal

import attrs

from m365sentinel._errors import InvalidInputError
from m365sentinel.kql._lexer import Token, string_value, tokenize
from m365sentinel.kql._literals import KEYWORDS

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
_NOT_STREAMED_PREFIX: Final = "DeviceTvm"  # threat & vulnerability management tables
_NOT_STREAMED: Final = frozenset(
    {"AADSignInEventsBeta", "AADSpnSignInEventsBeta", "ExposureGraphEdges", "ExposureGraphNodes"}
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
_ADDITIONAL_FIELDS_FIX: Final = (
    "read a property (AdditionalFields.Name, tostring(AdditionalFields.Name)), or "
    "convert explicitly: tostring(AdditionalFields)"
)


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
        self.findings: list[PortabilityFinding] = []

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
        if name in _DEFENDER_FUNCTIONS and nxt == "(":
            self.add(
                tok,
                "defender-only-function",
                "error",
                f"{name}() exists only in Defender advanced hunting; Sentinel has no such function.",
                _DEFENDER_FUNCTIONS[name],
            )
        elif name.startswith(_NOT_STREAMED_PREFIX) or name in _NOT_STREAMED:
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
        elif name == "Timestamp":
            self.add(
                tok,
                "timestamp-column",
                "info",
                "Timestamp is Defender's time column; Sentinel's streamed tables carry it too (equal to "
                "TimeGenerated), but the workspace filters and retains data by TimeGenerated.",
                "use TimeGenerated",
            )
        elif name == "AdditionalFields":
            self.additional_fields(i, tok, nxt)

    def additional_fields(self, i: int, tok: Token, nxt: str) -> None:
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
            "additionalfields-as-string",
            "warning",
            f"AdditionalFields is used as a string ({used}); it is a string in Defender but dynamic in "
            "Sentinel, where this sees its JSON re-serialization (spacing, key order and escaping can differ).",
            _ADDITIONAL_FIELDS_FIX,
        )


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
