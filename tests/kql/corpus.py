"""The Defender XDR query corpus (tests/kql/data/corpus/queries.txt) measured against Sentinel.

Each query is classified as: ``unchanged`` (the checker passes it and Microsoft's parser accepts it against
Sentinel's schemas), ``translated`` (``kql.to_sentinel`` rewrote it and the result parses clean),
``untranslatable`` (the translator lists why, with the alternative), or ``disagreement`` (the checker or the
translator passed a query the parser rejects: the one outcome that must never occur).

Run: ``.venv/bin/python tests/kql/corpus.py`` (prints the counts and every untranslatable reason).
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path
from typing import Any

import attrs

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "data" / "corpus" / "queries.txt"


@attrs.frozen
class Entry:
    path: str
    commit: str
    query: str


def load() -> list[Entry]:
    """The vendored queries: ``=== <path in Azure/Azure-Sentinel> @ <commit>`` then the query text verbatim."""
    out: list[Entry] = []
    head: tuple[str, str] | None = None
    lines: list[str] = []
    for line in [*CORPUS.read_text(encoding="utf-8").split("\n"), "=== end @ end"]:
        if line.startswith("=== "):
            if head is not None:
                out.append(Entry(head[0], head[1], "\n".join(lines).strip("\n") + "\n"))
            path, _, commit = line[4:].rpartition(" @ ")
            head, lines = (path, commit), []
        else:
            lines.append(line)
    return out


def errors(parser: Any, text: str) -> list[str]:
    """Microsoft's parser's error diagnostics (code: text) of ``text`` against the loaded schemas."""
    return [f"{d['code']}: {d['text']}" for d in parser.check(text)["diagnostics"] if d["severity"] == "Error"]


def classify(parser: Any, entry: Entry) -> tuple[str, str]:
    """(outcome, detail) of one query; see the module docstring."""
    from m365sentinel import kql

    report = kql.check_portability(entry.query)
    parsed = errors(parser, entry.query)
    if report.ok:
        return ("unchanged", "") if not parsed else ("disagreement", f"checker passed; parser: {parsed}")
    t = kql.to_sentinel(entry.query)
    if t.ok:
        after = errors(parser, t.text)
        return ("translated", "") if not after else ("disagreement", f"translated; parser: {after}")
    return "untranslatable", "; ".join(sorted({u.code for u in t.unresolved}))


def measure(parser: Any) -> dict[str, list[tuple[Entry, str]]]:
    out: dict[str, list[tuple[Entry, str]]] = collections.defaultdict(list)
    for entry in load():
        outcome, detail = classify(parser, entry)
        out[outcome].append((entry, detail))
    return out


def main() -> int:
    sys.path.insert(0, str(HERE.parent))
    from kqlparser.fixture import KqlParser, load_schema_tables

    parser = KqlParser(load_schema_tables())
    try:
        result = measure(parser)
    finally:
        parser.close()
    total = sum(len(v) for v in result.values())
    print(f"corpus: {total} Defender XDR queries from Azure/Azure-Sentinel ({CORPUS.relative_to(HERE.parent.parent)})")
    for outcome in ("unchanged", "translated", "untranslatable", "disagreement"):
        print(f"  {outcome:15} {len(result.get(outcome, []))}")
    for outcome in ("untranslatable", "disagreement"):
        for entry, detail in result.get(outcome, []):
            print(f"  {outcome}: {entry.path}: {detail}")
    return 1 if result.get("disagreement") else 0


if __name__ == "__main__":
    raise SystemExit(main())
