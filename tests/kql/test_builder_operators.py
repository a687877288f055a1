"""materialize, toscalar, top-nested, mv-apply, invoke, scan, mv-expand ... to typeof(): exact text, Microsoft's
parser, and the parser's inferred columns equal the builder's; plus a property test over operator chains."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from m365sentinel import kql
from m365sentinel._errors import InvalidInputError
from m365sentinel.kql import fn

SI = kql.table("SecurityIncident")
TITLE = kql.col("Title")

CASES = {
    "top_nested": (
        SI.top_nested(kql.nested(3, "Severity", fn.count().as_("C")), kql.nested(2, "Title", fn.count(), order="asc")),
        "SecurityIncident\n| top-nested 3 of Severity by C = count(), top-nested 2 of Title by count() asc",
    ),
    "top_nested_others": (
        SI.top_nested(kql.nested(3, "Severity", fn.count().as_("C"), others="Other")),
        'SecurityIncident\n| top-nested 3 of Severity with others = "Other" by C = count()',
    ),
    "mv_expand_typeof": (
        SI.project("Title", "Labels").mv_expand("Labels", L2="Labels", types={"Labels": "string", "L2": "string"}),
        "SecurityIncident\n| project Title, Labels\n| mv-expand Labels to typeof(string), L2 = Labels to typeof(string)",
    ),
    "mv_apply": (
        SI.project("Title", "Labels").mv_apply(
            "Labels", types={"Labels": "string"}, on=lambda t: t.take(1).extend(X=fn.call("strlen", kql.col("Labels")))
        ),
        "SecurityIncident\n| project Title, Labels\n| mv-apply Labels to typeof(string) on (\n    take 1\n"
        "    | extend X = strlen(Labels)\n)",
    ),
    "mv_apply_summarize": (
        SI.project("Title", "Labels").mv_apply(L="Labels", on=lambda t: t.summarize(C=fn.count())),
        "SecurityIncident\n| project Title, Labels\n| mv-apply L = Labels on (\n    summarize C = count()\n)",
    ),
    "scan": (
        SI.project("Title", "CreatedTime")
        .sort_by("CreatedTime", order="asc")
        .scan(
            kql.scan_step("s1", TITLE.has("a"), Start="CreatedTime"),
            kql.scan_step("s2", TITLE.has("b") & (kql.col("CreatedTime") > kql.step_ref("s1", "Start")), output="last"),
            declare={"Start": "datetime"},
            match_id="M",
        ),
        "SecurityIncident\n| project Title, CreatedTime\n| sort by CreatedTime asc\n"
        '| scan with_match_id=M declare (Start: datetime) with (\n    step s1: Title has "a" => Start = CreatedTime;\n'
        '    step s2 output=last: Title has "b" and CreatedTime > s1.Start;\n)',
    ),
    "materialize": (
        kql.table("X").take(1).let("X", kql.materialize(SI.project("Title"))).project("Title"),
        "let X = materialize(\n    SecurityIncident\n    | project Title\n);\nX\n| take 1\n| project Title",
    ),
    "toscalar": (
        SI.project("Title").where(
            fn.call("strlen", TITLE) > kql.toscalar(SI.summarize(M=fn.max(fn.call("strlen", TITLE))))
        ),
        "SecurityIncident\n| project Title\n| where strlen(Title) > toscalar(SecurityIncident | summarize "
        "M = max(strlen(Title)))",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_operator_text_parses_with_the_builders_columns(name: str, kql_parser: Any) -> None:
    query, text = CASES[name]
    assert query.to_kql() == text
    parsed = kql_parser.assert_clean(text)
    if name == "materialize":  # the let's table is unknown to the builder; the text is what is checked
        assert parsed == [("Title", "string")]
        return
    assert query.columns is not None
    assert [n for n, _ in parsed] == [n for n, _ in query.columns]
    assert all(k is None or k == pk for (_, k), (_, pk) in zip(query.columns, parsed, strict=True))  # None: unknown


def test_scan_without_a_match_id_name_adds_match_id(kql_parser: Any) -> None:
    q = SI.project("Title").scan(kql.scan_step("s1", TITLE == "x"))
    assert q.columns == (("Title", "string"), ("match_id", "long"))
    assert kql_parser.assert_clean(q.to_kql()) == [("Title", "string"), ("match_id", "long")]


def test_invoke_a_let_function_with_a_table_parameter(kql_parser: Any) -> None:
    f = kql.function([("T", "(*)"), ("n", "long")], kql.table("T").take(1))
    q = SI.project("Title").invoke("F", 1).let("F", f)
    assert (
        q.to_kql()
        == "let F = (T: (*), n: long) {\n    T\n    | take 1\n};\nSecurityIncident\n| project Title\n| invoke F(1)"
    )
    assert q.columns is None  # the function's output shape is not the builder's to know
    assert kql_parser.assert_clean(q.to_kql()) == [("Title", "string")]


def test_toscalar_is_typed_by_the_sub_querys_single_column() -> None:
    assert kql.toscalar(SI.summarize(M=fn.max(kql.col("CreatedTime")))).kind is None  # max() type not inferred
    assert kql.toscalar(SI.count()).kind == "long"


def test_nodes_are_immutable() -> None:
    level = kql.nested(1, "Severity", fn.count())
    with pytest.raises(AttributeError):
        level.count = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        kql.step_ref("s1", "X").step = "s2"  # type: ignore[misc]


@pytest.mark.parametrize(
    "call",
    [
        lambda: SI.top_nested(kql.nested(3, "Nope", fn.count())),  # unknown column
        lambda: SI.top_nested((3, "Severity", fn.count())),  # not a level
        lambda: kql.nested(-1, "Severity", fn.count()),
        lambda: kql.nested(1, "Severity", fn.count(), order="up"),
        lambda: SI.mv_expand("Labels", types={"Labels": "text"}),  # not a KQL type
        lambda: SI.mv_expand("Labels", types={"Other": "string"}),  # not expanded here
        lambda: SI.mv_expand("Nope"),
        lambda: SI.mv_apply("Labels", on=lambda t: t),  # no operator appended
        lambda: SI.mv_apply("Labels", on=lambda t: SI.take(1)),  # a different query
        lambda: SI.mv_apply("Labels", on=lambda t: t.where(kql.col("Nope") == 1)),
        lambda: SI.invoke("F; drop"),  # injection through the name
        lambda: SI.invoke("F", kql.col("Nope")),
        lambda: SI.scan(kql.scan_step("s1", TITLE == "x", S="Title")),  # S not declared
        lambda: SI.scan(kql.scan_step("s1", TITLE == "x"), kql.scan_step("s1", TITLE == "y")),
        lambda: SI.scan(kql.scan_step("s1", kql.col("Nope") == "x")),
        lambda: kql.scan_step("s1; x", TITLE == "x"),
        lambda: kql.scan_step("s1", TITLE == "x", output="first"),
        lambda: kql.step_ref("s 1", "X"),
        lambda: SI.scan(kql.scan_step("s1", TITLE == "x"), declare={"S": "text"}),
        lambda: kql.toscalar(SI.let("a", 1)),  # lets belong to the outer query
        lambda: kql.toscalar("SecurityIncident"),  # type: ignore[arg-type]
        lambda: kql.materialize("SecurityIncident"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_raises_at_build_time(call: Any) -> None:
    with pytest.raises(InvalidInputError):
        call()


def test_names_and_values_are_quoted_not_spliced() -> None:
    q = SI.project("Title", "CreatedTime").scan(
        kql.scan_step("s1", TITLE == 'x" | take 1', S="Title"), declare={"S": "string"}, match_id="a b"
    )
    assert "with_match_id=['a b']" in q.to_kql()
    assert r'Title == "x\" | take 1"' in q.to_kql()


# A stated grammar: Table | (where col == literal | top-nested 3 of col by Ci = count() | mv-expand Ei =
# pack_array(col) to typeof(string) | mv-apply Ei = pack_array(col) to typeof(string) on (where Ei != "x" | take 1)
# | scan declare (Si: string) with (step s1: col == "x" => Si = col) | where strlen(col) > toscalar(T | count)
# | take n)* [| invoke F()] [materialized as a let]. Columns are drawn from the query's current shape, or are a
# misspelling (which must raise InvalidInputError at build time).
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["where", "topnested", "mvexpand", "mvapply", "scan", "toscalar", "take"]),
        st.integers(0, 1000),
        st.booleans(),
    ),
    max_size=5,
)


def _step(q: kql.Query, op: str, col: str, n: int, i: int) -> kql.Query:
    c = kql.col(col)
    if op == "where":
        return q.where(c == "x")
    if op == "topnested":
        return q.top_nested(kql.nested(3, col, fn.count().as_(f"C{i}")))
    if op == "mvexpand":
        return q.mv_expand(**{f"E{i}": fn.call("pack_array", c)}, types={f"E{i}": "string"})
    if op == "mvapply":
        return q.mv_apply(
            **{f"E{i}": fn.call("pack_array", c)},
            types={f"E{i}": "string"},
            on=lambda t: t.where(kql.col(f"E{i}") != "x").take(1),
        )
    if op == "scan":
        return q.scan(kql.scan_step("s1", c == "x", **{f"S{i}": col}), declare={f"S{i}": "string"}, match_id=f"M{i}")
    if op == "toscalar":
        return q.where(fn.call("strlen", c) > kql.toscalar(SI.count()))
    return q.take(n)


@pytest.mark.kqlparser
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    table=st.sampled_from(["SecurityIncident", "DeviceProcessEvents", "EmailEvents", "IdentityInfo"]),
    steps=STEPS,
    invoke=st.booleans(),
    materialized=st.booleans(),
)
def test_operator_chains_parse_clean_or_raise_at_build(
    kql_parser: Any, table: str, steps: list[Any], invoke: bool, materialized: bool
) -> None:
    q = kql.table(table)
    for i, (op, n, typo) in enumerate(steps):
        assert q.columns is not None
        names = [c for c, k in q.columns if k == "string"]
        col = names[n % len(names)] + ("_typo" if typo else "")
        try:
            q = _step(q, op, col, n, i)
        except InvalidInputError:
            assert typo and op != "take"
            return
    if invoke:
        q = q.invoke("F").let("F", kql.function([("T", "(*)")], kql.table("T").take(5)))
    if materialized:
        q = kql.table("Base").take(1).let("Base", kql.materialize(q))
    assert [d for d in kql_parser.check(q.to_kql())["diagnostics"] if d["severity"] == "Error"] == []


def test_shared_nodes_are_safe_to_share() -> None:
    """table(), q.c, fn.ago(), fn.count() and typed columns hand out shared immutable nodes (build speed): a fluent
    call never changes them, and bad input still raises every time (only validated values are shared)."""
    a, b = kql.table("DeviceEvents"), kql.table("DeviceEvents")
    assert a is b and a.c is b.c
    a.where(a.c.TimeGenerated > fn.ago("1d")).take(1).to_kql()
    assert a.to_kql() == "DeviceEvents" and a.ops == ()
    assert fn.ago("1d") is fn.ago("1d") and fn.ago("1d").text == fn.ago(dt.timedelta(days=1)).text == "ago(1d)"
    for _ in range(2):
        with pytest.raises(InvalidInputError):
            fn.ago("1 day")
        with pytest.raises(InvalidInputError):
            a.c.Nope  # noqa: B018
    assert kql.table("SecurityIncident").where(fn.count() == 1).to_kql() == "SecurityIncident\n| where count() == 1"


def test_column_accessor_resolves_every_name_as_a_column() -> None:
    q = kql.datatable([("query", "string")], [["x"]])
    assert q.c.query.text == "query"  # not the accessor's own attribute
