"""The Log Analytics query API's ``timespan``: an ISO 8601 duration (``P14D``) or interval (``start/end``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ._errors import InvalidInputError
from .models._time import format_datetime, format_iso_duration, parse_datetime, parse_timespan

__all__ = ["to_timespan"]

_EXPECTED = "a timedelta, a (start, end) pair of aware datetimes, or an ISO 8601 duration such as 'P14D'"


def _has_zone(text: str) -> bool:
    text = text.strip()
    return text.upper().endswith("Z") or (len(text) > 6 and text[-6] in "+-" and text[-3] == ":")


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
            if "/" in value:  # start/end or start/duration; a bare time would be read in the service's zone
                start_text, end_text = value.split("/")
                if not _has_zone(start_text) or not (end_text.upper().startswith("P") or _has_zone(end_text)):
                    raise InvalidInputError(f"timespan {value!r} has a time without a zone; add Z or an offset")
                if end_text.upper().startswith("P"):
                    if parse_timespan(end_text) > timedelta(0):
                        parse_datetime(start_text)
                        return value
                elif parse_datetime(start_text) < parse_datetime(end_text):
                    return value
            elif value.upper().startswith("P") and parse_timespan(value) > timedelta(0):
                return value
        except InvalidInputError as exc:
            if "without a zone" in str(exc):
                raise
        except ValueError:
            pass
    raise InvalidInputError(f"invalid timespan {value!r}; expected {_EXPECTED}")
