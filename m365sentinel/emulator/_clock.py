"""The emulator's clock: pinned or live, always timezone-aware UTC, movable by tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from m365sentinel._errors import InvalidInputError

__all__ = ["Clock", "as_utc"]


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
            pinned = as_utc(now, "now")
            self._source = lambda: pinned
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """The current emulator time (aware, UTC)."""
        return as_utc(self._source(), "now") + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by *delta* (tokens expire, new data may be added); returns the new now."""
        if not isinstance(delta, timedelta):
            raise InvalidInputError(f"delta={delta!r}: expected a datetime.timedelta")
        self._offset += delta
        return self.now()

    def set(self, when: datetime) -> None:
        """Pin the clock to *when* from now on."""
        pinned = as_utc(when, "when")
        self._source = lambda: pinned
        self._offset = timedelta(0)
