"""Set operators over long lists (an MSSP's IOC list): Microsoft's parser takes at most 32,768 arguments for
``in``/``!in``/``in~``/``!in~``/``has_any``/``has_all``, the left operand included. Longer lists rendered as one
operator were refused by the service; they are now chunks joined so the meaning is the same."""

from __future__ import annotations

import pytest

from m365sentinel import InvalidInputError, kql
from m365sentinel.kql import _expr, fn


@pytest.mark.parametrize(
    ("method", "op", "join"),
    [
        ("in_", "in", "or"),
        ("in_ci", "in~", "or"),
        ("has_any", "has_any", "or"),
        ("not_in", "!in", "and"),
        ("not_in_ci", "!in~", "and"),
        ("has_all", "has_all", "and"),
    ],
)
def test_a_list_beyond_the_limit_is_chunks_with_the_same_meaning(monkeypatch, method, op, join):
    monkeypatch.setattr(_expr, "_MAX_SET_VALUES", 2)
    expr = getattr(kql.col("Title"), method)(["a", "b", "c"])
    assert expr.text == f'(Title {op} ("a", "b") {join} Title {op} ("c"))'
    assert str(kql.table("SecurityIncident").where(expr)) == f"SecurityIncident\n| where {expr.text}"
    assert getattr(kql.col("Title"), method)(["a", "b"]).text == f'Title {op} ("a", "b")'


def test_one_value_over_the_limit_parses_clean(kql_parser):
    # The joins' text for every operator is checked above with a small limit; this is the real one (about 2 s).
    query = kql.table("SecurityIncident").where(kql.col("Title").in_([f"i{n}" for n in range(32_768)]))
    kql_parser.assert_clean(str(query))


@pytest.mark.parametrize("pct", ["50", 101, -1, float("nan"), True, None])
def test_percentile_takes_a_number_from_0_to_100(pct):
    with pytest.raises(InvalidInputError, match=f"percentile pct must be a number from 0 to 100, got {pct!r}"):
        fn.percentile(kql.col("IncidentNumber"), pct)
    assert fn.percentile(kql.col("IncidentNumber"), 99.5).text == "percentile(IncidentNumber, 99.5)"
