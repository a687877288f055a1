"""The emulator's clock: pinned or live, always timezone-aware UTC, movable by tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from m365sentinel._errors import InvalidInputError

__all__ = ["Clock", "as_utc"]


def check_year(value: datetime, name: str) -> datetime:
    """The emulator's data spans years around its clock (a 400-day-old workspace, 16 days of rows): years 1900 to
    9000 leave that room on both sides of the datetime range."""
    if not 1900 <= value.year <= 9000:
        raise InvalidInputError(f"{name}={value.isoformat()}: the emulator clock runs from year 1900 to 9000")
    return value


def as_utc(value: datetime, name: str = "datetime") -> datetime:
    """Return *value* in UTC; a naive datetime is refused (the project never guesses a zone)."""
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{name}={value!r}: expected a timezone-aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{name}={value!r}: expected a timezone-aware datetime (UTC), got a naive one")
    return value.astimezone(UTC)


class Clock:
    """``now()`` = the pinned instant (or the callable's / wall clock's value) plus everything ``advance`` added."""

    def __init__(self, now: datetime | Callable[[], datetime] | None = None) -> None:
        self._source: Callable[[], datetime]
        if now is None:
            self._source = lambda: datetime.now(UTC)
        elif callable(now) and not isinstance(now, datetime):
            self._source = now
        else:
            pinned = check_year(as_utc(now, "now"), "now")
            self._source = lambda: pinned
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """The current emulator time (aware, UTC)."""
        return as_utc(self._source(), "now") + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by *delta* (tokens expire, new data may be added); returns the new now."""
        if not isinstance(delta, timedelta):
            raise InvalidInputError(f"delta={delta!r}: expected a datetime.timedelta")
        try:
            check_year(self.now() + delta, "now + delta")
        except OverflowError:
            raise InvalidInputError(f"delta={delta!r}: moves the clock out of the datetime range") from None
        self._offset += delta
        return self.now()

    def set(self, when: datetime) -> None:
        """Pin the clock to *when* from now on."""
        pinned = as_utc(when, "when")
        self._source = lambda: pinned
        self._offset = timedelta(0)
