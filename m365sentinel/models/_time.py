"""Timestamps and durations as Azure, Graph and Kusto send them (cases D2, D4).

- ``parse_datetime``: ISO 8601 with 0-9 fractional digits (beyond 6 truncated, never rounded), ``Z``, an offset,
  or no zone (= UTC). Always returns an aware UTC datetime. This is the hot path of query-result parsing, so it
  leans on the C ``datetime.fromisoformat`` (Python 3.11 accepts ``Z`` and long fractions) and only falls back to a
  regex for the rarer spellings.
- ``parse_timespan``: Kusto ``[-][d.]hh:mm:ss[.fffffff]`` and ISO 8601 durations (``P14D``, ``PT1H``).
- ``format_datetime`` / ``format_iso_duration``: the inverse, for request bodies and query parameters.
- ``shift``: ``value + delta`` clamped to the representable range (year 1 to 9999), for arithmetic on times the
  service or a checkpoint gave us: a window around an incident created in year 1 must not raise OverflowError.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from .._errors import InvalidInputError

__all__ = [
    "MAX_UTC",
    "MIN_UTC",
    "format_datetime",
    "format_iso_duration",
    "parse_datetime",
    "parse_timespan",
    "shift",
    "to_utc",
]

MIN_UTC = datetime.min.replace(tzinfo=UTC)
MAX_UTC = datetime.max.replace(tzinfo=UTC)

_fromisoformat = datetime.fromisoformat

# Fallback grammar (lower-case 'z'/'t', space separator); fromisoformat covers everything else we accept.
_DT_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{0,9}))?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
_DT_EXPECTED = "an ISO 8601 timestamp like 2024-01-31T12:00:00.1234567Z (0-9 fractional digits; no zone = UTC)"


def parse_datetime(value: str) -> datetime:
    """Parse an ISO 8601 timestamp into an aware UTC ``datetime``.

    Accepts 0-9 fractional-second digits (digits beyond microseconds are truncated: ``.6206463`` -> 620646 µs),
    ``Z``, ``±hh:mm`` offsets (converted to UTC), or no zone at all (read as UTC).

    Raises:
        InvalidInputError: ``value`` is not a string in that form (names the value and the expected form).
    """
    try:
        dt = _fromisoformat(value)
    except (ValueError, TypeError):
        dt = _parse_datetime_slow(value)
    tz = dt.tzinfo
    if tz is UTC:
        return dt
    if tz is None:
        return dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInputError(f"timestamp {value!r} is outside the representable range") from exc


def _parse_datetime_slow(value: object) -> datetime:
    if not isinstance(value, str):
        raise InvalidInputError(f"expected {_DT_EXPECTED}, got {value!r}")
    m = _DT_RE.fullmatch(value.strip())
    if m is None:
        raise InvalidInputError(f"expected {_DT_EXPECTED}, got {value!r}")
    year, month, day, hour, minute, second, frac, _zulu, sign, oh, om = m.groups()
    micro = int((frac or "")[:6].ljust(6, "0"))
    tz = UTC
    if sign:
        offset = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(-offset if sign == "-" else offset)
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tzinfo=tz)
    except ValueError as exc:
        raise InvalidInputError(f"expected {_DT_EXPECTED}, got {value!r} ({exc})") from exc


def format_datetime(value: datetime) -> str:
    """Render an aware datetime as UTC ISO 8601 with 7 fractional digits and ``Z``.

    ``2024-01-02T03:04:05.1234560Z``: the .NET round-trip form ARM and Graph return themselves, which both accept
    in bodies and ``$filter``. Offsets are converted to UTC.

    Raises:
        InvalidInputError: ``value`` is naive (no tzinfo), not a datetime, or outside years 1-9999 in UTC.
    """
    u = to_utc(value)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}0Z"


def to_utc(value: datetime) -> datetime:
    """The same instant as an aware UTC datetime.

    Raises:
        InvalidInputError: ``value`` is naive, not a datetime, or (with its offset) before 0001-01-01 or after
        9999-12-31 in UTC (e.g. ``datetime(1, 1, 1, tzinfo=+01:00)``).
    """
    if not isinstance(value, datetime):
        raise InvalidInputError(f"expected an aware datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(
            f"naive datetime {value.isoformat()} is ambiguous: pass an aware datetime, e.g. "
            "datetime(2024, 1, 31, tzinfo=timezone.utc)"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInputError(
            f"{value.isoformat()} is outside the representable range in UTC (0001-01-01 to 9999-12-31)"
        ) from exc


def shift(value: datetime, delta: timedelta) -> datetime:
    """``value + delta``, clamped to ``MIN_UTC``/``MAX_UTC`` instead of raising OverflowError (``value`` aware UTC).

    Used for windows and watermarks derived from service or checkpoint times: a bound clamped to year 1 or 9999
    only widens a query window, never narrows it."""
    try:
        return value + delta
    except OverflowError:
        return MIN_UTC if delta < timedelta(0) else MAX_UTC


_KUSTO_TS_RE = re.compile(r"(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?")
_ISO_DUR_RE = re.compile(
    r"(-)?P(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d{1,9})?)S)?)?",
    re.IGNORECASE,
)
_TS_EXPECTED = "a Kusto timespan like 7.04:44:01.5115511 or an ISO 8601 duration like P14D / PT1H"


def parse_timespan(value: str) -> timedelta:
    """Parse a Kusto timespan (``[-][d.]hh:mm:ss[.fffffff]``) or an ISO 8601 duration (``P14D``, ``PT1H30M``).

    Fractions beyond microseconds are truncated (``00:00:00.0000005`` -> 0 µs); ``7.04:44:01.5115511`` is
    7 days 4:44:01.511551. Years and months (``P1Y``, ``P1M``) have no fixed length and are rejected.

    Raises:
        InvalidInputError: not a string in either form, or beyond ``timedelta``'s range.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"expected {_TS_EXPECTED}, got {value!r}")
    try:
        return _parse_timespan(value)
    except OverflowError as exc:  # beyond timedelta's +-999,999,999 days (Kusto's own range is far smaller)
        raise InvalidInputError(f"timespan {value!r:.100} is outside the representable range") from exc


def _parse_timespan(value: str) -> timedelta:
    s = value.strip()
    m = _KUSTO_TS_RE.fullmatch(s)
    if m is not None:
        neg, days, hours, minutes, seconds, frac = m.groups()
        if int(minutes) > 59 or int(seconds) > 59:
            raise InvalidInputError(f"expected {_TS_EXPECTED}, got {value!r}")
        td = timedelta(
            days=int(days or 0),
            hours=int(hours),
            minutes=int(minutes),
            seconds=int(seconds),
            microseconds=int((frac or "")[:6].ljust(6, "0")),
        )
        return -td if neg else td
    m = _ISO_DUR_RE.fullmatch(s)
    if m is not None and s.upper().rstrip("T") not in ("P", "-P") and not s.upper().endswith("T"):
        neg, weeks, days, hours, minutes, seconds = m.groups()
        td = timedelta(
            weeks=_num(weeks), days=_num(days), hours=_num(hours), minutes=_num(minutes), seconds=0
        ) + _seconds(seconds)
        return -td if neg else td
    raise InvalidInputError(f"expected {_TS_EXPECTED}, got {value!r}")


def _num(text: str | None) -> float:
    return float(text.replace(",", ".")) if text else 0.0


def _seconds(text: str | None) -> timedelta:
    # Integer arithmetic so 7-digit fractions truncate exactly instead of rounding through float.
    if not text:
        return timedelta()
    whole, _, frac = text.replace(",", ".").partition(".")
    return timedelta(seconds=int(whole), microseconds=int(frac[:6].ljust(6, "0")))


def format_iso_duration(value: timedelta) -> str:
    """Render a non-negative ``timedelta`` as an ISO 8601 duration: ``P14D``, ``PT1H``, ``P1DT2H30M``, ``PT0.5S``.

    This is the form of the Log Analytics ``timespan`` body field. Zero is ``PT0S``.

    Raises:
        InvalidInputError: ``value`` is negative or not a timedelta.
    """
    if not isinstance(value, timedelta):
        raise InvalidInputError(f"expected a datetime.timedelta, got {value!r}")
    if value < timedelta(0):
        raise InvalidInputError(f"a duration must not be negative, got {value!r}")
    days, rest = value.days, value.seconds
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    micro = value.microseconds
    out = "P"
    if days:
        out += f"{days}D"
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if seconds or micro:
        time += f"{seconds}.{micro:06d}".rstrip("0").rstrip(".") + "S" if micro else f"{seconds}S"
    if time:
        out += "T" + time
    return out if out != "P" else "PT0S"
