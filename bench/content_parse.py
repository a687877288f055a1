"""Every analytics rule template and sample query the SDK ships or reads in its tests, parsed by Microsoft's KQL
parser against the project's Sentinel schemas (tests/kqlparser; needs Node and `npm ci` there): counts per source.

Run: ``python -m bench.content_parse`` (from the repository root). Not a benchmark of speed: a census.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def census() -> dict[str, tuple[int, list[tuple[str, str]]]]:
    """``{source: (count, [(name, first error), ...])}``."""
    sys.path.insert(0, str(ROOT / "tests"))
    from content.content_queries import queries
    from kqlparser.fixture import KqlParser, load_schema_tables

    parser = KqlParser(load_schema_tables())
    out: dict[str, tuple[int, list[tuple[str, str]]]] = {}
    try:
        for source, name, text in queries():
            count, failed = out.get(source, (0, []))
            diagnostics = parser.check(text)["diagnostics"]
            if diagnostics:
                failed.append((name, diagnostics[0]["message"]))
            out[source] = (count + 1, failed)
    finally:
        parser.close()
    return out


def main() -> None:
    total = clean = 0
    for source, (count, failed) in census().items():
        total += count
        clean += count - len(failed)
        print(f"{source:<28} {count - len(failed):>3} of {count:>3} parse clean")
        for name, message in failed:
            print(f"    not clean: {name}: {message}")
    print(f"{'all':<28} {clean:>3} of {total:>3} parse clean")


if __name__ == "__main__":
    main()
