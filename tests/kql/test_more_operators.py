"""Operators added for practitioner queries: exact text, Microsoft's parser, and the parser's inferred columns
equal the builder's; plus a property test over a grammar of operator chains."""

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
DAY = dt.timedelta(days=1)

CASES = {
    "project_reorder": (
        SI.project("Title", "Severity", "IncidentNumber").project_reorder("IncidentNumber", "Severity"),
        "SecurityIncident\n| project Title, Severity, IncidentNumber\n| project-reorder IncidentNumber, Severity",
    ),
    "serialize": (
        SI.project("Title").serialize(N=fn.call("strlen", kql.col("Title"))),
        "SecurityIncident\n| project Title\n| serialize N = strlen(Title)",
    ),
    "sample": (SI.sample(5).project("Title"), "SecurityIncident\n| sample 5\n| project Title"),
    "make_series": (
        SI.make_series("CreatedTime", DAY, C=fn.count(), from_=fn.ago("14d"), to=fn.now(), by="Severity", default=0),
        "SecurityIncident\n| make-series C = count() default = 0 on CreatedTime from ago(14d) to now() "
        "step 1d by Severity",
    ),
    "parse_flags": (
        kql.table("DeviceEvents")
        .parse("InitiatingProcessCommandLine", "*", "user ", ("U", "string"), " ", "*", kind="regex", flags="iU")
        .project("U"),
        'DeviceEvents\n| parse kind=regex flags=iU InitiatingProcessCommandLine with * "user " U: string '
        '" " *\n| project U',
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_operator_text_parses_with_the_builders_columns(name: str, kql_parser: Any) -> None:
    query, text = CASES[name]
    assert query.to_kql() == text
    assert query.columns is not None
    parsed = kql_parser.assert_clean(text)
    assert [n for n, _ in parsed] == [n for n, _ in query.columns]
    assert all(k is None or k == pk for (_, k), (_, pk) in zip(query.columns, parsed, strict=True))  # None: unknown


def test_make_series_columns_are_dynamic_series() -> None:
    q = CASES["make_series"][0]
    assert q.columns == (("Severity", "string"), ("C", "dynamic"), ("CreatedTime", "dynamic"))


def test_evaluate_bag_unpack_parses_and_stops_column_checks(kql_parser: Any) -> None:
    q = (
        kql.table("EmailEvents")
        .project(AR=fn.parse_json(kql.col("AuthenticationDetails")))
        .evaluate("bag_unpack", "AR")
    )
    text = q.where(kql.col("DMARC") == "fail").to_kql()
    assert text == (
        "EmailEvents\n| project AR = parse_json(AuthenticationDetails)\n| evaluate bag_unpack(AR)\n"
        '| where DMARC == "fail"'
    )
    assert q.columns is None
    kql_parser.assert_clean(q.to_kql())


@pytest.mark.parametrize(
    "call",
    [
        lambda: SI.parse("Title", ("X", "string"), flags="i"),  # flags need kind=regex
        lambda: SI.parse("Title", ("X", "string"), kind="regex", flags="z"),
        lambda: SI.evaluate("python", "x"),
        lambda: SI.make_series("CreatedTime", DAY),
        lambda: SI.project_reorder("Nope"),
        lambda: SI.sample(-1),
    ],
)
def test_bad_input_raises_at_build_time(call: Any) -> None:
    with pytest.raises(InvalidInputError):
        call()


# A stated grammar: Table | (where col == literal | extend N = strlen(col) | project col+ | project_reorder col
# | sort_by col | take n | sample n | summarize count() by col | distinct col | serialize)*. Columns are drawn from
# the query's current shape, or are a misspelling (which must raise InvalidInputError at build time).
STEPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["where", "extend", "project", "reorder", "sort", "take", "sample", "summarize", "distinct", "serialize"]
        ),
        st.integers(0, 1000),
        st.booleans(),
    ),
    max_size=6,
)


def _step(q: kql.Query, op: str, col: str, n: int) -> kql.Query:
    if op == "where":
        return q.where(kql.col(col) == "x")
    if op == "extend":
        return q.extend(N=fn.call("strlen", kql.col(col)))
    if op == "project":
        return q.project(col)
    if op == "reorder":
        return q.project_reorder(col)
    if op == "sort":
        return q.sort_by(col)
    if op == "take":
        return q.take(n)
    if op == "sample":
        return q.sample(n)
    if op == "summarize":
        return q.summarize(fn.count(), by=col)
    if op == "distinct":
        return q.distinct(col)
    return q.serialize()


@pytest.mark.kqlparser
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(["SecurityIncident", "DeviceProcessEvents", "EmailEvents", "IdentityInfo"]), steps=STEPS)
def test_operator_chains_parse_clean_or_raise_at_build(kql_parser: Any, table: str, steps: list[Any]) -> None:
    q = kql.table(table)
    for op, n, typo in steps:
        assert q.columns is not None
        names = [c for c, k in q.columns if k == "string"] or [q.columns[0][0]]
        col = names[n % len(names)] + ("_typo" if typo else "")
        try:
            q = _step(q, op, col, n)
        except InvalidInputError:
            assert typo and op not in ("take", "sample", "serialize")
            return
    assert [d for d in kql_parser.check(q.to_kql())["diagnostics"] if d["severity"] == "Error"] == []
