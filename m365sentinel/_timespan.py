"""The Log Analytics query API's ``timespan``: an ISO 8601 duration (``P14D``) or interval (``start/end``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ._errors import InvalidInputError
from .models._time import format_datetime, format_iso_duration, parse_datetime, parse_timespan

__all__ = ["to_timespan"]

_EXPECTED = "a timedelta, a (start, end) pair of aware datetimes, or an ISO 8601 duration such as 'P14D'"


def to_timespan(value: object) -> str:
    """``timedelta`` → ``P14D``; ``(start, end)`` aware datetimes → ``start/end`` in UTC (7 digits); an ISO 8601
    duration or interval string is checked and passed as is.

    Raises InvalidInputError naming the value and the expected form (naive datetimes, empty or reversed spans).
    """
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise InvalidInputError(f"timespan must be positive, got {value!r}")
        return format_iso_duration(value)
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, datetime) for v in value):
        start, end = value
        s, e = format_datetime(start), format_datetime(end)  # raises on naive datetimes
        if end <= start:
            raise InvalidInputError(f"timespan end {end!r} is not after start {start!r}")
        return f"{s}/{e}"
    if isinstance(value, str):
        try:
            if "/" in value:
                start_text, end_text = value.split("/")
                if parse_datetime(start_text) < parse_datetime(end_text):
                    return value
            elif value.upper().startswith("P") and parse_timespan(value) > timedelta(0):
                return value
        except (InvalidInputError, ValueError):
            pass
    raise InvalidInputError(f"invalid timespan {value!r}; expected {_EXPECTED}")
