"""Each rewrite of _kql_adapt, on its own and on the source document's queries."""

from __future__ import annotations

from pathlib import Path

from m365sentinel.emulator._kql_adapt import adapt, drop_render, rewrite_bin_at, strip_outer_parens


def _source_query(table: str) -> str:
    """The time-chart query of the source document (tests/reference copy), byte for byte."""
    text = (Path(__file__).parents[1] / "reference" / "source-document.txt").read_text("utf-8")
    head = text.index("let Now = now();", text.index(table, text.index("Verify data ingestion")) - 200)
    return text[head : text.index("| render timechart", head) + len("| render timechart")]


SOURCE_INCIDENTS = _source_query("SecurityIncident")
SOURCE_DEVICE_EVENTS = _source_query("DeviceEvents")

BIN = "((Now) + (1d) * floor(((TimeGenerated) - (Now)) / (1d), 1))"


def test_bin_at_as_summarize_key_keeps_the_column_name() -> None:
    assert rewrite_bin_at("T | summarize count() by bin_at(TimeGenerated, 1d, Now)") == (
        f"T | summarize count() by TimeGenerated = {BIN}"
    )


def test_bin_at_after_comma_in_by_clause_is_named() -> None:
    assert rewrite_bin_at("T | summarize count() by A, bin_at(TimeGenerated, 1d, Now)") == (
        f"T | summarize count() by A, TimeGenerated = {BIN}"
    )


def test_bin_at_already_named_or_in_extend_is_not_renamed() -> None:
    assert rewrite_bin_at("T | summarize count() by Day = bin_at(TimeGenerated, 1d, Now)") == (
        f"T | summarize count() by Day = {BIN}"
    )
    assert rewrite_bin_at("T | extend D = bin_at(TimeGenerated, 1d, Now)") == f"T | extend D = {BIN}"
    # an expression argument cannot name a column
    assert rewrite_bin_at("T | summarize count() by bin_at(Start + 1h, 7d, datetime(2025-01-01))") == (
        "T | summarize count() by ((datetime(2025-01-01)) + (7d) * floor(((Start + 1h) - "
        "(datetime(2025-01-01))) / (7d), 1))"
    )


def test_bin_at_inside_a_call_is_rewritten_without_a_name() -> None:
    assert rewrite_bin_at("T | summarize count() by tostring(bin_at(X, 1h, Now))") == (
        "T | summarize count() by tostring(((Now) + (1h) * floor(((X) - (Now)) / (1h), 1)))"
    )


def test_bin_at_in_strings_and_comments_is_untouched() -> None:
    text = "T | where Name == 'bin_at(a, 1d, b)' // bin_at(x, 1d, y)\n| take 1"
    assert rewrite_bin_at(text) == text


def test_bin_at_with_wrong_arity_is_left_for_the_engine_to_refuse() -> None:
    assert rewrite_bin_at("T | extend x = bin_at(a, 1d)") == "T | extend x = bin_at(a, 1d)"


def test_strip_outer_parens_only_for_a_head_followed_by_pipes() -> None:
    assert strip_outer_parens("let x = 1; (T | take 1) | count") == "let x = 1; T | take 1  | count"
    assert strip_outer_parens("(T | take 1)") == "T | take 1 "
    assert strip_outer_parens("(A) join (B) on k") == "(A) join (B) on k"
    assert strip_outer_parens("T | where x == '(' ") == "T | where x == '(' "


def test_drop_render_removes_only_a_final_render() -> None:
    assert drop_render("T | count | render timechart") == "T | count"
    assert drop_render("T | count | render timechart with (title='a|b')") == "T | count"
    assert drop_render("T | where Op == 'render' | count") == "T | where Op == 'render' | count"


def test_source_document_query_is_rewritten_into_runnable_kql() -> None:
    adapted = adapt(SOURCE_INCIDENTS)
    assert adapted.rewrites == ("strip_outer_parens", "drop_render", "bin_at")
    assert "bin_at" not in adapted.text and "render" not in adapted.text
    assert adapted.text.count(f"by TimeGenerated = {BIN}") == 2
    assert adapted.text.lstrip().startswith("let Now = now();")
    assert "SecurityIncident" in SOURCE_INCIDENTS and "DeviceEvents" in SOURCE_DEVICE_EVENTS
    assert "\nrange TimeGenerated from ago(14d)" in adapted.text


def test_plain_query_is_unchanged() -> None:
    assert adapt("SecurityIncident | count").rewrites == ()
