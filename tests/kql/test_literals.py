"""Literal rendering: exact text (cases E1, E2) and the parser's reading of it."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from m365sentinel import kql
from m365sentinel._errors import InvalidInputError
from m365sentinel.kql import _literals as L

E1_STRINGS = {
    "St. John's": '"St. John\'s"',
    'a"b': '"a\\"b"',
    "C:\\temp\\new": '"C:\\\\temp\\\\new"',
    "line1\nline2": '"line1\\nline2"',
    "a\tb\rc": '"a\\tb\\rc"',
    "nul\x00bell\x07del\x7f": '"nul\\u0000bell\\u0007del\\u007f"',
    "sep\u2028end": '"sep\\u2028end"',
    "é😀中": '"é😀中"',
    "": '""',
}


@pytest.mark.parametrize(("value", "expected"), list(E1_STRINGS.items()))
def test_e1_literal_escaping_exact_text(value: str, expected: str) -> None:
    assert L.render_string(value) == expected
    assert kql.literal(value) == expected


@pytest.mark.kqlparser
@pytest.mark.parametrize("value", list(E1_STRINGS))
def test_e1_literal_escaping_parses_back_to_same_string(kql_parser, value: str) -> None:  # type: ignore[no-untyped-def]
    reply = kql_parser.literal(L.render_string(value))
    assert reply["diagnostics"] == []
    assert [t["kind"] for t in reply["tokens"]] == ["StringLiteralToken"]
    assert reply["values"] == [{"text": L.render_string(value), "type": "string", "value": value}]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Device Name", "['Device Name']"),
        ("where", "['where']"),
        ("count", "['count']"),
        ("DeviceName", "DeviceName"),
        ("_BilledSize", "_BilledSize"),
        ("1day", "['1day']"),
        ("it's", "['it\\'s']"),
        ("a\\b", "['a\\\\b']"),
        ("Ünïcode", "['Ünïcode']"),
    ],
)
def test_e2_identifiers(name: str, expected: str) -> None:
    assert L.quote_identifier(name) == expected


def test_e2_identifier_rejects_empty_and_control_chars() -> None:
    with pytest.raises(InvalidInputError, match="non-empty"):
        L.quote_identifier("")
    with pytest.raises(InvalidInputError, match="control"):
        L.quote_identifier("a\nb")


def test_e2_aware_datetime_at_plus_two_renders_same_instant_in_utc() -> None:
    value = datetime(2024, 1, 2, 5, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert L.render_datetime(value) == "datetime(2024-01-02T03:04:05.1234560Z)"
    assert L.render_datetime(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "datetime(2024-01-02T03:04:05.0000000Z)"
    assert L.render_datetime(datetime(999, 1, 1, tzinfo=UTC)) == "datetime(0999-01-01T00:00:00.0000000Z)"


def test_e2_naive_datetime_is_rejected_with_clear_error() -> None:
    with pytest.raises(InvalidInputError, match=r"naive datetime 2024-01-02T03:04:05 .*timezone-aware"):
        kql.lit(datetime(2024, 1, 2, 3, 4, 5))
    q = kql.table("SecurityIncident")
    with pytest.raises(InvalidInputError, match="naive"):
        q.where(q.c.TimeGenerated > datetime(2024, 1, 2))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(microseconds=5), "50tick"),
        (timedelta(days=14), "14d"),
        (timedelta(hours=36), "36h"),
        (timedelta(minutes=90), "90m"),
        (timedelta(seconds=1), "1s"),
        (timedelta(milliseconds=1500), "1500ms"),
        (timedelta(0), "0s"),
        (timedelta(days=-1), "timespan(-1d)"),
        (timedelta(microseconds=-5), "timespan(-50tick)"),
        (timedelta(days=1, microseconds=1), "864000000010tick"),
    ],
)
def test_e2_timespans_tick_exact(value: timedelta, expected: str) -> None:
    assert L.render_timespan(value) == expected


def test_timespan_out_of_kql_range() -> None:
    with pytest.raises(InvalidInputError, match="outside"):
        L.render_timespan(timedelta(days=20_000_000))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (42, "42"),
        (-5, "long(-5)"),
        (2**63 - 1, "9223372036854775807"),
        (-(2**63), "long(-9223372036854775808)"),
        (0.1, "0.1"),
        (1e300, "1e+300"),
        (-1.5, "real(-1.5)"),
        (2.0, "2.0"),
        (math.nan, "real(nan)"),
        (math.inf, "real(+inf)"),
        (-math.inf, "real(-inf)"),
        (Decimal("1.25"), "decimal(1.25)"),
        (Decimal("-1E+3"), "decimal(-1000)"),
        (uuid.UUID("01234567-89ab-cdef-0123-456789abcdef"), "guid(01234567-89ab-cdef-0123-456789abcdef)"),
        ({"a": [1, "x\ty", None, True]}, 'dynamic({"a": [1, "x\\ty", null, true]})'),
        ([], "dynamic([])"),
        (None, "dynamic(null)"),
    ],
)
def test_scalar_literals_exact(value: object, expected: str) -> None:
    assert L.render_literal(value) == expected


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1])
def test_int_outside_long_is_rejected(value: int) -> None:
    with pytest.raises(InvalidInputError, match="range"):
        L.render_literal(value)


@pytest.mark.parametrize("value", [{"a": math.nan}, {1: "x"}, [object()], Decimal("NaN"), b"bytes"])
def test_unsupported_values_are_rejected(value: object) -> None:
    with pytest.raises(InvalidInputError):
        L.render_literal(value)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("long", "long(null)"), ("datetime", "datetime(null)"), ("string", '""'), ("dynamic", "dynamic(null)")],
)
def test_typed_nulls(kind: str, expected: str) -> None:
    assert L.render_null(kind) == expected


def test_unknown_null_kind() -> None:
    with pytest.raises(InvalidInputError, match="unknown KQL type"):
        kql.null("text")
