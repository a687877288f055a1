"""Parsing of request inputs: ISO datetimes, ISO 8601 durations and the Log Analytics ``timespan``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["parse_datetime", "parse_duration", "parse_timespan"]

_DT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_DUR = re.compile(
    r"^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


def parse_datetime(text: str) -> datetime:
    """ISO 8601 date/datetime, 0-9 fractional digits, no zone = UTC. Raises ValueError."""
    m = _DT.match(text.strip())
    if not m:
        raise ValueError(f"not an ISO 8601 datetime: {text!r}")
    year, month, day, hh, mm, ss, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    value = datetime(int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), micro, tzinfo=UTC)
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        value -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value


def parse_duration(text: str) -> timedelta:
    """ISO 8601 duration without years/months (``P14D``, ``PT12H``, ``P1DT2H30M``). Raises ValueError."""
    m = _DUR.match(text.strip())
    if not m or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def parse_timespan(text: str, now: datetime) -> tuple[datetime, datetime]:
    """The Log Analytics ``timespan``: ``<duration>`` (ending now), ``<start>/<end>``, ``<start>/<duration>``
    or ``<duration>/<end>``. Returns the inclusive (start, end). Raises ValueError (also for a span reaching past
    year 1 or 9999, which the service cannot represent either: a 400, never a 500 the client would retry)."""
    try:
        return _parse_timespan(text, now)
    except OverflowError as exc:
        raise ValueError(f"timespan {text!r:.80} reaches outside 0001-01-01..9999-12-31") from exc


def _parse_timespan(text: str, now: datetime) -> tuple[datetime, datetime]:
    if "/" not in text:
        return now - parse_duration(text), now
    left, _, right = text.partition("/")
    left_is_dur = left.strip().upper().startswith("P")
    right_is_dur = right.strip().upper().startswith("P")
    if left_is_dur and right_is_dur:
        raise ValueError(f"timespan {text!r} has two durations")
    if left_is_dur:
        end = parse_datetime(right)
        return end - parse_duration(left), end
    start = parse_datetime(left)
    end = start + parse_duration(right) if right_is_dur else parse_datetime(right)
    if end < start:
        raise ValueError(f"timespan {text!r} ends before it starts")
    return start, end
