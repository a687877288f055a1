"""The let graph: statements render in dependency order; a tabular let keeps its sub-query's lets in scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from m365sentinel import kql
from m365sentinel._errors import InvalidInputError
from m365sentinel.kql import fn

SI = kql.table("SecurityIncident")


def test_dependent_let_renders_after_what_it_uses(kql_parser: Any) -> None:
    q = (
        SI.where(kql.col("TimeGenerated") > kql.var("since"))
        .let("lookback", dt.timedelta(days=1))
        .let("since", fn.ago(kql.var("lookback")))
    )
    text = q.to_kql()
    assert text == ("let lookback = 1d;\nlet since = ago(lookback);\nSecurityIncident\n| where TimeGenerated > since")
    kql_parser.assert_clean(text)


def test_let_added_after_its_user_moves_before_it(kql_parser: Any) -> None:
    q = (
        SI.where(kql.col("TimeGenerated") > kql.var("since"))
        .let("since", fn.ago(kql.var("lookback")))
        .let("lookback", dt.timedelta(days=7))
    )
    text = q.to_kql()
    assert text == ("let lookback = 7d;\nlet since = ago(lookback);\nSecurityIncident\n| where TimeGenerated > since")
    kql_parser.assert_clean(text)


def test_tabular_let_keeps_its_own_lets_in_scope_without_clash(kql_parser: Any) -> None:
    inner = SI.where(kql.col("IncidentNumber") > kql.var("n")).let("n", 10)
    q = (
        kql.table("Recent")
        .where(kql.col("IncidentNumber") < kql.var("n"))
        .let("n", 100)
        .let("Recent", inner)
        .project("IncidentNumber")
    )
    text = q.to_kql()
    assert text == (
        "let n = 100;\nlet Recent = () {\n    let n = 10;\n    SecurityIncident\n"
        "    | where IncidentNumber > n\n};\nRecent\n| where IncidentNumber < n\n"
        "| project IncidentNumber"
    )
    assert kql_parser.assert_clean(text) == [("IncidentNumber", "int")]


def test_tabular_let_sub_query_uses_outer_let(kql_parser: Any) -> None:
    inner = SI.where(kql.col("TimeGenerated") > kql.var("since")).let("since", fn.ago(kql.var("lookback")))
    q = kql.table("Recent").count().let("Recent", inner).let("lookback", dt.timedelta(days=3))
    text = q.to_kql()
    assert text == (
        "let lookback = 3d;\nlet Recent = () {\n    let since = ago(lookback);\n    SecurityIncident\n"
        "    | where TimeGenerated > since\n};\nRecent\n| count"
    )
    assert kql_parser.assert_clean(text) == [("Count", "long")]


def test_function_body_keeps_its_lets(kql_parser: Any) -> None:
    body = SI.where(kql.col("Severity") == kql.var("sev")).take(5).let("sev", "High")
    q = kql.raw_query_unsafe("F(2)").let("F", kql.function([("k", "long")], body))
    text = q.to_kql()
    assert text == (
        'let F = (k: long) {\n    let sev = "High";\n    SecurityIncident\n'
        "    | where Severity == sev\n    | take 5\n};\nF(2)"
    )
    kql_parser.assert_clean(text)


def test_join_hoists_and_orders_sub_query_lets(kql_parser: Any) -> None:
    right = (
        kql.table("SecurityAlert")
        .where(kql.col("TimeGenerated") > kql.var("since"))
        .let("since", fn.ago(kql.var("lookback")))
        .let("lookback", dt.timedelta(days=2))
        .project("SystemAlertId")
    )
    q = (
        SI.mv_expand(SystemAlertId="AlertIds")
        .extend(SystemAlertId=fn.tostring("SystemAlertId"))
        .join(right, on="SystemAlertId")
    )
    text = q.to_kql()
    assert text.startswith("let lookback = 2d;\nlet since = ago(lookback);\nSecurityIncident\n")
    kql_parser.assert_clean(text)


def test_let_cycle_is_invalid_input_at_build_time() -> None:
    q = SI.let("a", kql.var("b") + 1)
    with pytest.raises(InvalidInputError, match="cycle: a, b"):
        q.let("b", kql.var("a") + 1)


def test_names_inside_strings_are_not_references() -> None:
    q = SI.let("b", "a is text").let("a", 1)
    assert q.to_kql().splitlines()[:2] == ['let b = "a is text";', "let a = 1;"]
