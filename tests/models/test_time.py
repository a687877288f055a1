from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from m365sentinel._errors import InvalidInputError
from m365sentinel.models import format_datetime, format_iso_duration, parse_datetime, parse_timespan


# Case D2: 0-9 fractional digits, truncated (never rounded) to microseconds; no zone means UTC.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2013-10-10T18:46:06.6206463Z", datetime(2013, 10, 10, 18, 46, 6, 620646, tzinfo=UTC)),
        ("2023-12-12T01:54:44Z", datetime(2023, 12, 12, 1, 54, 44, 0, tzinfo=UTC)),
        ("2023-02-06T09:42:59.09", datetime(2023, 2, 6, 9, 42, 59, 90000, tzinfo=UTC)),
        ("2024-05-01T00:00:00.123456789Z", datetime(2024, 5, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T00:00:00.9999999Z", datetime(2024, 5, 1, 0, 0, 0, 999999, tzinfo=UTC)),
        ("2024-05-01T00:00:00.1Z", datetime(2024, 5, 1, 0, 0, 0, 100000, tzinfo=UTC)),
        ("2024-05-01T02:30:00.5+02:00", datetime(2024, 5, 1, 0, 30, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T00:00:00-05:00", datetime(2024, 5, 1, 5, 0, 0, tzinfo=UTC)),
        ("2024-05-01t00:00:00.1234567z", datetime(2024, 5, 1, 0, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_case_d2_timestamps(text: str, expected: datetime) -> None:
    got = parse_datetime(text)
    assert got == expected
    assert got.tzinfo is UTC
    assert got.microsecond == expected.microsecond


def test_case_d2_whole_seconds_among_fractions_are_zero_not_null() -> None:
    values = ["2023-12-12T01:54:43.1234567Z", "2023-12-12T01:54:44Z", "2023-12-12T01:54:45.5Z"]
    assert [parse_datetime(v).microsecond for v in values] == [123456, 0, 500000]


@pytest.mark.parametrize("bad", ["", "yesterday", "2024-13-01T00:00:00Z", "2024-05-01T25:00:00Z", None, 5])
def test_parse_datetime_rejects_with_expected_form(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="ISO 8601"):
        parse_datetime(bad)  # type: ignore[arg-type]


def test_format_datetime_utc_seven_digits() -> None:
    aware = datetime(2024, 5, 1, 2, 30, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(aware) == "2024-05-01T00:30:00.0000050Z"
    assert format_datetime(datetime(2024, 5, 1, tzinfo=UTC)) == "2024-05-01T00:00:00.0000000Z"
    assert parse_datetime(format_datetime(aware)) == aware


def test_format_datetime_rejects_naive() -> None:
    with pytest.raises(InvalidInputError, match="naive datetime 2024-05-01T00:00:00"):
        format_datetime(datetime(2024, 5, 1))


# Case D4: Kusto timespans, days separated by '.', 7-digit ticks truncated.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7.04:44:01.5115511", timedelta(days=7, hours=4, minutes=44, seconds=1, microseconds=511551)),
        ("00:00:00.0000005", timedelta(0)),
        ("00:00:00.000001", timedelta(microseconds=1)),
        ("01:00:00", timedelta(hours=1)),
        ("-1.02:03:04", -timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("365.00:00:00", timedelta(days=365)),
        ("P14D", timedelta(days=14)),
        ("PT1H", timedelta(hours=1)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("PT0.0000005S", timedelta(0)),
        ("PT1.5S", timedelta(seconds=1, microseconds=500000)),
        ("P2W", timedelta(days=14)),
    ],
)
def test_case_d4_timespans(text: str, expected: timedelta) -> None:
    assert parse_timespan(text) == expected


def test_case_d4_days_are_not_read_as_hours() -> None:
    assert parse_timespan("7.04:44:01.5115511").days == 7  # not ~67 days, as a naive split would give


@pytest.mark.parametrize("bad", ["", "P", "PT", "1:2", "00:60:00", "P1Y", "P1M", "abc", None])
def test_parse_timespan_rejects(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="Kusto timespan"):
        parse_timespan(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(days=14), "P14D"),
        (timedelta(hours=1), "PT1H"),
        (timedelta(days=1, hours=2, minutes=30), "P1DT2H30M"),
        (timedelta(seconds=1, microseconds=500000), "PT1.5S"),
        (timedelta(microseconds=5), "PT0.000005S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_format_iso_duration(td: timedelta, text: str) -> None:
    assert format_iso_duration(td) == text
    assert parse_timespan(text) == td


def test_format_iso_duration_rejects_negative() -> None:
    with pytest.raises(InvalidInputError, match="must not be negative"):
        format_iso_duration(timedelta(seconds=-1))
