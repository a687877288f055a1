"""Over the vendored Defender XDR corpus: every query runs unchanged, or is translated and parses clean against
Sentinel's schemas, or is reported untranslatable with its reason; the checker never passes a query that
Microsoft's parser rejects."""

from __future__ import annotations

from typing import Any

from kql.corpus import load, measure

EXPECTED = {"unchanged": 189, "translated": 8, "untranslatable": 5}


def test_corpus_is_vendored_with_its_source() -> None:
    entries = load()
    assert len(entries) == sum(EXPECTED.values())
    assert all(e.path.startswith(("Hunting Queries/", "Solutions/")) and len(e.commit) == 40 for e in entries)
    assert len({e.path for e in entries}) == len(entries)


def test_corpus_counts_and_no_disagreement(kql_parser: Any) -> None:
    result = measure(kql_parser)
    assert result.get("disagreement", []) == []
    assert {k: len(v) for k, v in result.items()} == EXPECTED
    assert all(detail for _, detail in result["untranslatable"])
