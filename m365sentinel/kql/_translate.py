"""Defender advanced hunting ⇄ Sentinel query translation: rewrite what is mechanical, list what is not.

``to_sentinel`` starts from ``check_portability``'s findings (computed from both schema sets) and rewrites:
renamed columns (IdentityInfo ``AccountUpn`` → ``AccountUPN``), ``Timestamp`` where Sentinel's table lacks it
(→ ``TimeGenerated``), a Defender-string column used as a string where Sentinel types it dynamic
(→ ``tostring(AdditionalFields)``), and a Defender-int column compared with a number where Sentinel types it
string (→ ``toint(Port)``). Everything else that does not port is returned in ``unresolved`` with the reason and
the alternative, and the text keeps it as it was: the translator never changes a query's meaning silently, and
every rewrite is listed in ``changes``.

``to_defender`` does the reverse where it is mechanical: ``TimeGenerated`` → ``Timestamp`` on tables Defender
has, Sentinel names of renamed columns → Defender's, property access on a column Defender types string
(``AdditionalFields.Port`` → ``parse_json(AdditionalFields).Port``); Sentinel-only tables are unresolved.
No I/O; token-based like the checker (words in strings and comments are never touched).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs

from m365sentinel._errors import InvalidInputError
from m365sentinel.kql._lexer import tokenize
from m365sentinel.kql._portability import (
    PortabilityFinding,
    _declared,
    _member,
    _names,
    check_portability,
)
from m365sentinel.kql._schemas import defender_side, schema_registry

if TYPE_CHECKING:
    from m365sentinel.kql._query import Query

__all__ = ["Change", "Translation", "Unresolved", "to_defender", "to_sentinel"]

_DEFENDER_SIDE: Final = "run this query (or this part of it) in Defender advanced hunting (Graph runHuntingQuery)"
_SENTINEL_SIDE: Final = "run this query (or this part of it) in Sentinel (Log Analytics)"


@attrs.frozen
class Change:
    """One rewrite at ``line``:``column`` (1-based, in the original text): ``before`` became ``after``."""

    line: int
    column: int
    before: str
    after: str
    reason: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column} {self.before} -> {self.after}: {self.reason}"


@attrs.frozen
class Unresolved:
    """What could not be translated, at ``line``:``column`` of the original text, with the reason and the
    alternative; ``code`` is the portability finding's code."""

    code: str
    line: int
    column: int
    text: str
    reason: str
    alternative: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column} {self.code} {self.text}: {self.reason} Alternative: {self.alternative}"


@attrs.frozen
class Translation:
    """``text``: the rewritten KQL; ``changes``: every rewrite; ``unresolved``: what still does not port (the
    text keeps it unchanged). ``ok`` is True when nothing is unresolved."""

    source: str
    text: str
    changes: tuple[Change, ...]
    unresolved: tuple[Unresolved, ...]

    @property
    def ok(self) -> bool:
        return not self.unresolved

    def __str__(self) -> str:
        return self.text


def _text_of(query: Query | str, where: str) -> str:
    from m365sentinel.kql._query import Query

    if isinstance(query, Query):
        return query.to_kql()
    if isinstance(query, str):
        return query
    raise InvalidInputError(f"{where} expects KQL text (str) or a kql.Query, got {query!r}")


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    for offset, length, new in sorted(edits, reverse=True):
        text = text[:offset] + new + text[offset + length :]
    return text


def _position(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _sentinel_edit(f: PortabilityFinding) -> tuple[str, str] | None:
    """(replacement, reason) for a finding that is mechanical to rewrite for Sentinel, else None."""
    if f.code == "column-renamed":
        new = f.fix.removeprefix("use ")
        return new, f"renamed column: {f.message}"
    if f.code == "column-missing" and f.text == "Timestamp":
        return "TimeGenerated", "this table has no Timestamp in Sentinel; TimeGenerated holds the event time"
    if f.code in ("additionalfields-as-string", "column-as-string"):
        return f"tostring({f.text})", (
            f"{f.text} is dynamic in Sentinel; tostring() gives its JSON text (spacing, key order and escaping may "
            "differ from Defender's string)"
        )
    if f.code == "column-type":
        kind = f.fix.rsplit("to", 1)[-1].split("(", 1)[0]
        return f"to{kind}({f.text})", f"{f.text} is string in Sentinel and {kind} in Defender: compared as {kind}"
    return None


def to_sentinel(query: Query | str) -> Translation:
    """Translate a Defender advanced hunting query for Sentinel (Log Analytics).

    Returns a Translation: ``.text`` (rewritten KQL), ``.changes`` (each rewrite, with its reason) and
    ``.unresolved`` (what does not port: Defender-only functions and tables, columns Sentinel lacks, join keys of
    different types, custom tables, tables not selected; each with reason and alternative). Info findings
    (``Timestamp`` where both sides have it, look-back beyond 30 days) change nothing and are not listed.
    No I/O. Raises InvalidInputError for a query that is neither str nor Query."""
    text = _text_of(query, "to_sentinel")
    edits: list[tuple[int, int, str]] = []
    changes: list[Change] = []
    unresolved: list[Unresolved] = []
    for f in check_portability(text).findings:
        if f.severity == "info":
            continue
        edit = _sentinel_edit(f)
        if edit is None:
            unresolved.append(Unresolved(f.code, f.line, f.column, f.text, f.message, f.fix or _DEFENDER_SIDE))
            continue
        new, reason = edit
        edits.append((f.offset, f.length, new))
        changes.append(Change(f.line, f.column, f.text, new, reason))
    return Translation(text, _apply(text, edits), tuple(changes), tuple(unresolved))


def to_defender(query: Query | str) -> Translation:
    """Translate a Sentinel query over the streamed tables for Defender advanced hunting (where mechanical).

    Rewrites ``TimeGenerated`` → ``Timestamp``, Sentinel's names of renamed columns → Defender's, and property
    access on a column Defender types string → ``parse_json(Column).Name``. Unresolved: tables Defender does not
    have (SecurityIncident, SecurityAlert, BehaviorAnalytics, custom tables) and columns it lacks. No I/O.
    Raises InvalidInputError for a query that is neither str nor Query."""
    text = _text_of(query, "to_defender")
    defender = defender_side()
    sentinel = schema_registry()
    items = _names(tokenize(text))
    declared = _declared(items)
    defined = {items[i][1] for i in declared}
    defined |= {name for i, (_, name) in enumerate(items) if name and i > 0 and items[i - 1][1] == "let"}
    names = {name for _, name in items if name is not None} - defined
    tables = sorted(names & (set(sentinel) | set(defender.tables)))
    back = {new: old for t, m in defender.renamed.items() if t in tables for old, new in m.items()}
    theirs: dict[str, str] = {}
    ours: dict[str, str] = {}
    for t in tables:
        if t in defender.tables:
            theirs.update(defender.tables[t].kinds)
        if t in sentinel:
            ours.update(sentinel[t].kinds)
    edits: list[tuple[int, int, str]] = []
    changes: list[Change] = []
    unresolved: list[Unresolved] = []
    for i, (tok, name) in enumerate(items):
        if name is None or i in declared or name in defined or _member(items, i):
            continue
        line, column = _position(text, tok.offset)
        nxt = items[i + 1][0].text if i + 1 < len(items) else ""
        new: str | None = None
        reason = ""
        if name in tables and name not in defender.tables and (name in sentinel or name.endswith("_CL")):
            unresolved.append(
                Unresolved(
                    "table-not-in-defender",
                    line,
                    column,
                    name,
                    f"table {name} exists in Sentinel only; Defender advanced hunting has no such table.",
                    _SENTINEL_SIDE,
                )
            )
        elif name.endswith("_CL"):
            unresolved.append(
                Unresolved("custom-table", line, column, name, f"{name} is a custom Sentinel table.", _SENTINEL_SIDE)
            )
        elif name in tables or name not in ours:
            continue
        elif name == "TimeGenerated" and "Timestamp" in theirs:
            new, reason = "Timestamp", "Defender's time column is Timestamp"
        elif name in back and name not in theirs:
            new, reason = back[name], f"{name} is named {back[name]} in Defender advanced hunting"
        elif name not in theirs:
            unresolved.append(
                Unresolved(
                    "column-missing",
                    line,
                    column,
                    name,
                    f"column {name} does not exist in Defender advanced hunting.",
                    _SENTINEL_SIDE,
                )
            )
        elif theirs[name] == "string" and ours[name] == "dynamic" and nxt in (".", "["):
            new = f"parse_json({name})"
            reason = f"{name} is a string in Defender: parse it to read its properties"
        if new is not None:
            edits.append((tok.offset, tok.end - tok.offset, new))
            changes.append(Change(line, column, tok.text, new, reason))
    return Translation(text, _apply(text, edits), tuple(changes), tuple(unresolved))
