"""The Log Analytics query API's ``timespan``: an ISO 8601 duration (``P14D``) or interval (``start/end``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ._errors import InvalidInputError

__all__ = ["to_timespan"]

_ISO = re.compile(r"^P(?!$)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")


def _duration(td: timedelta) -> str:
    if td <= timedelta(0):
        raise InvalidInputError(f"timespan must be positive, got {td!r}")
    seconds = td.total_seconds()
    days, rest = divmod(seconds, 86400)
    out = f"P{int(days)}D" if days else "P"
    if rest:
        text = f"{rest:.6f}".rstrip("0").rstrip(".")
        out += f"T{text}S"
    return out


def _instant(dt: datetime) -> str:
    if not isinstance(dt, datetime) or dt.tzinfo is None or dt.utcoffset() is None:
        raise InvalidInputError(f"timespan bounds must be timezone-aware datetimes, got {dt!r}")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_timespan(value: object) -> str:
    """``timedelta`` → ``P14D``; ``(start, end)`` aware datetimes → ``start/end`` in UTC; an ISO 8601 string as is.

    Raises InvalidInputError naming the value and the expected form.
    """
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, tuple) and len(value) == 2:
        start, end = value
        s, e = _instant(start), _instant(end)
        if end <= start:
            raise InvalidInputError(f"timespan end {end!r} is not after start {start!r}")
        return f"{s}/{e}"
    if isinstance(value, str) and (_ISO.match(value) or value.count("/") == 1):
        return value
    raise InvalidInputError(
        f"invalid timespan {value!r}; expected a timedelta, a (start, end) pair of aware datetimes, "
        "or an ISO 8601 duration such as 'P14D'"
    )
