"""Property tests: literals parse back (Microsoft's parser) to the same value as ONE token; injection stays a literal."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from m365sentinel import kql
from m365sentinel.kql import _literals as L

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
EPOCH_TICKS = 621355968000000000  # .NET ticks at 1970-01-01


def _single(reply: dict, kind: str) -> dict:  # type: ignore[type-arg]
    assert reply["diagnostics"] == [], reply
    assert [t["kind"] for t in reply["tokens"]] == [kind], reply["tokens"]
    assert len(reply["values"]) == 1
    return reply["values"][0]  # type: ignore[no-any-return]


@pytest.mark.kqlparser
@SETTINGS
@given(st.text())
def test_any_string_round_trips_as_one_token(kql_parser, value: str) -> None:  # type: ignore[no-untyped-def]
    got = _single(kql_parser.literal(L.render_string(value)), "StringLiteralToken")
    assert got["value"] == value


@pytest.mark.kqlparser
@SETTINGS
@given(
    st.text(min_size=1).filter(
        lambda s: (
            not any(c in s for c in "\n\r\t")
            and not any(
                ord(c) < 0x20
                or 0x7F <= ord(c) <= 0x9F
                or 0xD800 <= ord(c) <= 0xDFFF
                or ord(c) in (0x2028, 0x2029, 0xFEFF)
                for c in s
            )
        )
    )
)
def test_any_identifier_is_one_name(kql_parser, name: str) -> None:  # type: ignore[no-untyped-def]
    text = f"print {L.quote_identifier(name)} = 1"
    cols = kql_parser.assert_clean(text)
    assert cols == [(name, "long")]


@pytest.mark.kqlparser
@SETTINGS
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_any_datetime_round_trips(kql_parser, value: datetime) -> None:  # type: ignore[no-untyped-def]
    text = L.render_datetime(value)
    got = _single(kql_parser.literal(text), "DateTimeLiteralToken")
    # The JS build keeps milliseconds only; the 7-digit text carries the rest exactly.
    ms_ticks = EPOCH_TICKS + (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1) * 10_000
    assert int(got["ticks"]) == ms_ticks
    assert text == (
        f"datetime({value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}0Z)"
    )


@pytest.mark.kqlparser
@SETTINGS
# The JS build converts timespans through doubles: exact only up to 2**53 ticks (~28 years);
# the service (.NET) is exact to int64. Rendering is tick-exact everywhere (see test_literals).
@given(st.timedeltas(min_value=timedelta(days=-10_000), max_value=timedelta(days=10_000)))
def test_any_timespan_round_trips_tick_exact(kql_parser, value: timedelta) -> None:  # type: ignore[no-untyped-def]
    got = _single(kql_parser.literal(L.render_timespan(value)), "TimespanLiteralToken")
    assert int(got["ticks"]) == L.timedelta_ticks(value)


@pytest.mark.kqlparser
@SETTINGS
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_any_long_round_trips(kql_parser, value: int) -> None:  # type: ignore[no-untyped-def]
    got = _single(kql_parser.literal(L.render_int(value)), "LongLiteralToken")
    assert int(got["value"]) == value


@pytest.mark.kqlparser
@SETTINGS
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_finite_real_round_trips(kql_parser, value: float) -> None:  # type: ignore[no-untyped-def]
    got = _single(kql_parser.literal(L.render_real(value)), "RealLiteralToken")
    assert float(got["value"]) == value


@pytest.mark.kqlparser
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_reals_are_one_token(kql_parser, value: float) -> None:  # type: ignore[no-untyped-def]
    reply = kql_parser.literal(L.render_real(value))
    assert reply["diagnostics"] == []
    assert [t["kind"] for t in reply["tokens"]] == ["RealLiteralToken"]
    assert reply["type"] == "real"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@pytest.mark.kqlparser
@SETTINGS
@given(json_values)
def test_any_dynamic_value_parses_as_dynamic(kql_parser, value: object) -> None:  # type: ignore[no-untyped-def]
    reply = kql_parser.literal(L.render_dynamic(value))
    assert reply["diagnostics"] == []
    assert reply["type"] == "dynamic"
    assert reply["tokens"][0]["kind"] == "DynamicKeyword"
    assert reply["tokens"][-1]["kind"] == "CloseParenToken"
    # the JS build reports a null token's value as the text "null"; skip the null tokens
    strings = [v["value"] for v in reply["values"] if v["type"] == "string" and v["text"] != "null"]
    expected: list[str] = []
    keys: list[str] = []

    def collect(v: object) -> None:
        if isinstance(v, str):
            expected.append(v)
        elif isinstance(v, dict):
            for k, item in v.items():
                keys.append(k)
                collect(item)
        elif isinstance(v, list):
            for item in v:
                collect(item)

    collect(value)
    assert strings == expected  # object keys are names in the parser's tree, not literal expressions
    string_tokens = [t for t in reply["tokens"] if t["kind"] == "StringLiteralToken"]
    assert len(string_tokens) == len(expected) + len(keys)


INJECTIONS = [
    '" | take 1 //',
    "' | where 1 == 1 | take 10 //",
    '"\n| project-away *\n//',
    '\\" or 1 == 1 //',
    'x"); drop table SecurityIncident; //',
    "]']) | union *",
]


@pytest.mark.kqlparser
@pytest.mark.parametrize("attack", INJECTIONS)
def test_injection_attempts_stay_one_literal(kql_parser, attack: str) -> None:  # type: ignore[no-untyped-def]
    q = kql.table("SecurityIncident").where(kql.col("Title") == attack).take(1)
    text = q.to_kql()
    assert text.count("\n") == 2  # the pipeline still has exactly where + take
    kql_parser.assert_clean(text)
    reply = kql_parser.literal(L.render_string(attack))
    assert [t["kind"] for t in reply["tokens"]] == ["StringLiteralToken"]
    assert reply["values"][0]["value"] == attack


@pytest.mark.kqlparser
@SETTINGS
@given(st.text())
def test_no_string_changes_query_structure(kql_parser, value: str) -> None:  # type: ignore[no-untyped-def]
    q = kql.table("SecurityIncident").where(kql.col("Title") == value).project("Title")
    assert kql_parser.assert_clean(q.to_kql()) == [("Title", "string")]
