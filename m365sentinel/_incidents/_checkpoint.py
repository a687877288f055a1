"""The stream's checkpoint: a plain JSON value, and the pure rules that move it (case B5).

Shape (``Checkpoint.to_json()``)::

    {"v": 1,
     "watermark": "2025-11-20T11:55:00.0000000Z" | null,      # next poll asks lastModifiedTimeUtc >= this
     "seen": [[incident id, lastModifiedTimeUtc, etag], ...],  # changes delivered at or after the watermark
     "pass": null}                                             # written by older versions only (not trusted)

How a poll moves it (``PassState``): the poll lists ``lastModifiedTimeUtc >= watermark`` and trusts neither the
service's order, nor its filter, nor its page layout. A served change is delivered when it lies at or after the
watermark and is newer than the change ``seen`` holds for its incident; ``seen`` records every delivery. A
checkpoint taken mid-pass keeps the watermark and every change delivered since it, so a resumed pass lists the
window again and skips exactly what was delivered. When a pass completes, the watermark moves to the poll start
minus the lag (bounded by the service's ``Date``; without it, by the newest change on the first page), and
``seen`` keeps only the changes at or after it, so the next poll's overlap re-reads and skips them. A change is
delivered again only when its lastModified or etag differs (a reopened incident, case B5a). An incident that
becomes visible late, with a lastModified older than one already delivered, is still found as long as the delay
is within ``lag`` (B5b). A pass served out of the requested newest-first order does not move the watermark
unless an audit vouched for it (``PassState``). The assumptions and their checks: ``docs/assumptions.md``.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from .._errors import InvalidInputError
from ..models._time import format_datetime, parse_datetime

__all__ = ["DEFAULT_LAG", "Checkpoint", "PassState", "SeenMap", "Snapshot", "service_time"]

# The visibility-delay bound: an incident that becomes visible in the list API up to this long after its
# lastModifiedTimeUtc is still delivered (case B5b). Longer delays need a larger lag (``IncidentStream.lag``).
DEFAULT_LAG = timedelta(minutes=5)


_ZONED = re.compile(r".*(?:[Zz]|[+-]\d{2}:?\d{2})")


def _instant(value: Any) -> datetime:
    # Checkpoints are written with "Z"; a time without a zone was edited by hand and is ambiguous: refuse it.
    if not isinstance(value, str) or not _ZONED.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not a timestamp with a zone (expected e.g. 2025-11-20T11:55:00Z)")
    return parse_datetime(value)


def _seen_tuple(value: Any) -> tuple[tuple[str, datetime, str | None], ...]:
    return tuple(sorted(value, key=lambda s: (s[1], s[0])))


@attrs.frozen
class PendingPass:
    """A pass cut short: every change newer than ``upper`` (and those at ``upper`` in ``upper_ids``) was delivered."""

    upper: datetime
    upper_ids: tuple[str, ...]
    next_watermark: datetime


@attrs.frozen
class Checkpoint:
    """Where a stream resumes. Immutable; serialise with ``to_json()``/``dumps()``, restore with ``from_json``.

    ``watermark`` (aware UTC or None = from the beginning), ``seen`` ((id, lastModified, etag) delivered inside the
    overlap window), ``pending`` (a pass that was cut short, or None).
    """

    watermark: datetime | None = None
    seen: tuple[tuple[str, datetime, str | None], ...] = attrs.field(default=(), converter=_seen_tuple)
    pending: PendingPass | None = None

    @classmethod
    def starting_at(cls, when: datetime) -> Checkpoint:
        """A checkpoint that delivers changes made at or after ``when`` (an aware datetime)."""
        if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
            raise InvalidInputError(
                f"since= expects a Checkpoint, a checkpoint JSON value or an aware datetime, got {when!r}"
            )
        return cls(watermark=when)

    def to_json(self) -> dict[str, Any]:
        p = self.pending
        return {
            "v": 1,
            "watermark": format_datetime(self.watermark) if self.watermark else None,
            "seen": [[i, format_datetime(t), e] for i, t, e in self.seen],
            "pass": None
            if p is None
            else {
                "upper": format_datetime(p.upper),
                "upper_ids": list(p.upper_ids),
                "next_watermark": format_datetime(p.next_watermark),
            },
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> Checkpoint:
        """Parse ``to_json()`` output (a dict or its JSON text). Raises InvalidInputError for anything else."""
        try:
            doc = json.loads(data) if isinstance(data, str) else data
            if not isinstance(doc, Mapping) or doc.get("v") != 1:
                raise ValueError("not a version-1 checkpoint")
            wm = doc.get("watermark")
            raw_pass = doc.get("pass")
            pending = None
            if raw_pass is not None:
                pending = PendingPass(
                    _instant(raw_pass["upper"]),
                    tuple(str(i) for i in raw_pass["upper_ids"]),
                    _instant(raw_pass["next_watermark"]),
                )
            seen = tuple((str(i), _instant(t), None if e is None else str(e)) for i, t, e in doc.get("seen", []))
            return cls(watermark=_instant(wm) if wm else None, seen=seen, pending=pending)
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(
                f"not a checkpoint value ({exc}); expected the JSON of Checkpoint.to_json(): "
                '{"v": 1, "watermark": ..., "seen": [...], "pass": ...}'
            ) from exc

    def __repr__(self) -> str:
        wm = format_datetime(self.watermark) if self.watermark else None
        return f"Checkpoint(watermark={wm}, seen={len(self.seen)}, pending={self.pending is not None})"


def service_time(headers: Mapping[str, str]) -> datetime | None:
    """The service's clock from an HTTP ``Date`` header (RFC 9110 IMF-fixdate, whole seconds), aware UTC; None
    when absent or malformed."""
    value = headers.get("date")
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.astimezone(UTC) if when.tzinfo is not None else None


_DAY1 = datetime(1, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
Change = tuple[datetime, str | None]


def _pack(modified: datetime, etag: str | None) -> bytes:
    """(lastModified, etag) as one bytes value: microseconds since year 1, then the etag's UTF-8 (a leading 0 byte
    marks no etag). 80 bytes in memory instead of 190 for a tuple of a datetime and a string."""
    head = ((modified - _DAY1) // _US).to_bytes(8, "big")
    return head + b"\0" if etag is None else head + b"\1" + etag.encode()


def _unpack(value: bytes) -> Change:
    modified = _DAY1 + timedelta(microseconds=int.from_bytes(value[:8], "big"))
    return modified, (value[9:].decode() if value[8] else None)


class SeenMap:
    """Incident id -> the newest change delivered, packed (a pass of 100,000 changes holds them all), in
    insertion order, with the log of overwritten values that snapshots need."""

    __slots__ = ("_map", "overwritten")

    def __init__(self, changes: tuple[tuple[str, datetime, str | None], ...] = ()) -> None:
        self._map: dict[str, bytes] = {i: _pack(t, e) for i, t, e in changes}
        self.overwritten: list[tuple[str, bytes]] = []

    def __len__(self) -> int:
        return len(self._map)

    def get(self, incident_id: str) -> Change | None:
        value = self._map.get(incident_id)
        return None if value is None else _unpack(value)

    def put(self, incident_id: str, modified: datetime, etag: str | None) -> None:
        old = self._map.get(incident_id)
        if old is not None:
            self.overwritten.append((incident_id, old))  # dict order keeps the id's first place
        self._map[incident_id] = _pack(modified, etag)

    def as_of(self, size: int, overwritten: int) -> tuple[tuple[str, datetime, str | None], ...]:
        """The entries as they were when the map held ``size`` ids and ``overwritten`` log entries."""
        view = dict(itertools.islice(self._map.items(), size))
        for incident_id, old in reversed(self.overwritten[overwritten:]):
            if incident_id in view:
                view[incident_id] = old
        return tuple((i, *_unpack(v)) for i, v in view.items())

    def items(self) -> Iterator[tuple[str, datetime, str | None]]:
        for incident_id, value in self._map.items():
            yield (incident_id, *_unpack(value))


class Snapshot:
    """The checkpoint as of one delivery, built only when asked for (``checkpoint()``, cached).

    Taking it is O(1): it records how far the pass's ``seen`` and its overwrite log had grown. Building a
    ``Checkpoint`` for every delivered item would copy and sort ``seen`` each time, O(N^2) for a pass of N changes;
    a caller that never commits an item never pays for it.
    """

    __slots__ = ("_built", "_overwritten", "_size", "_state")

    def __init__(self, state: PassState) -> None:
        self._state = state
        self._size = len(state.seen)
        self._overwritten = len(state.seen.overwritten)
        self._built: Checkpoint | None = None

    def checkpoint(self) -> Checkpoint:
        if self._built is None:
            # The watermark stays where the pass began: a resumed pass lists the whole window again and skips,
            # by ``seen``, what this one delivered (whatever order and page layout the service serves).
            seen = self._state.seen.as_of(self._size, self._overwritten)
            self._built = Checkpoint(watermark=self._state.lower, seen=seen)
        return self._built


@attrs.define
class PassState:
    """One poll in progress (mutable, in memory): which served items to deliver, and what to checkpoint.

    It trusts no order, no filter and no page layout. ``seen`` maps an incident id to the newest change of it
    delivered since the watermark (the checkpoint's, then this pass's). A served change is delivered when it lies
    at or after the watermark (``in_window``: the service may ignore the ``$filter`` bound) and is newer than the
    change in ``seen`` (the same time with another etag counts as newer). So each change is delivered once per
    committed checkpoint, in any order, and an older state served after a newer one is never delivered again.
    Each step is O(1); a mid-pass checkpoint holds every change delivered since the watermark (resume lists the
    window again and skips them).

    The next watermark (``finished``) is the earliest of: the poll start minus the lag; the service's clock (the
    first page's ``Date``) minus the lag, or without a usable ``Date`` the newest ``lastModifiedTimeUtc`` of the
    first page minus the lag (never the local clock alone); never below the current watermark. A pass that
    served items out of the requested newest-first order cannot show that its offset pages missed nothing (a
    change may shift them left), so unless an audit (``audited``) confirmed it, its watermark does not advance.
    """

    lower: datetime | None
    start_bound: datetime | None  # poll start (caller's clock) - lag
    seen: SeenMap
    lag: timedelta = DEFAULT_LAG
    pages: int = 0
    service_start: datetime | None = None  # the first page's Date
    first_newest: datetime | None = None  # the newest lastModified on the first page
    previous: datetime | None = None  # the last served lastModified (the order check)
    out_of_order: bool = False
    audited: bool = False
    served: dict[str, datetime] | None = None  # id -> newest lastModified served, kept for an audit only

    @classmethod
    def begin(cls, checkpoint: Checkpoint, now: datetime, lag: timedelta, *, audit: bool = False) -> PassState:
        """A pass from the checkpoint's watermark, started at ``now`` (the caller's clock). A checkpoint's legacy
        ``pending`` position (written by versions that trusted the service's order) is not trusted: the pass
        lists the whole window and skips what ``seen`` holds."""
        return cls(checkpoint.watermark, now - lag, SeenMap(checkpoint.seen), lag=lag, served={} if audit else None)

    def page(self, service_now: datetime | None) -> None:
        """A page arrived; ``service_now`` is its ``Date`` (None when absent or malformed)."""
        self.pages += 1
        if self.pages == 1:
            self.service_start = service_now

    def in_window(self, incident_id: str, modified: datetime) -> bool:
        """Record a served item (order check, clock evidence, audit); False when it lies before the watermark
        (the service ignored the ``$filter`` bound): such an item is not delivered."""
        prev = self.previous
        if prev is not None and modified > prev:
            self.out_of_order = True  # newest first was asked for
        self.previous = modified
        if self.pages == 1 and (self.first_newest is None or modified > self.first_newest):
            self.first_newest = modified
        if self.lower is not None and modified < self.lower:
            return False
        served = self.served
        if served is not None:
            key = incident_id.lower()
            if key not in served or served[key] < modified:
                served[key] = modified
        return True

    def should_deliver(self, incident_id: str, modified: datetime, etag: str | None) -> bool:
        """True for a change newer than the one ``seen`` holds for this incident (or at the same time with
        another etag); False for that change again or an older one."""
        known = self.seen.get(incident_id)
        return known is None or modified > known[0] or (modified == known[0] and etag != known[1])

    def delivered(self, incident_id: str, modified: datetime, etag: str | None) -> Snapshot:
        """Record a delivery; return the (lazy) checkpoint to commit once the caller has handled it."""
        self.seen.put(incident_id, modified, etag)
        return Snapshot(self)

    def checkpoint(self) -> Checkpoint:
        """The checkpoint as of the latest delivery (or of the pass's start)."""
        return Snapshot(self).checkpoint()

    @property
    def next_watermark(self) -> datetime | None:
        """Where the watermark moves when this pass completes (class docstring)."""
        if (self.out_of_order or self.served is not None) and not self.audited:
            return self.lower  # unordered, or an audit was asked for and did not vouch for the window
        return self.clock_bound()

    def clock_bound(self) -> datetime | None:
        """The next watermark by the clocks alone (the audit window's end)."""
        if self.service_start is not None:
            clock = self.service_start - self.lag
        elif self.first_newest is not None:
            clock = self.first_newest - self.lag
        else:
            return self.lower  # no evidence of the service's time: stay
        nxt = clock if self.start_bound is None or clock < self.start_bound else self.start_bound
        if self.lower is not None and nxt < self.lower:
            nxt = self.lower  # never move back: seen was pruned at the current watermark
        return nxt

    def finished(self) -> Checkpoint:
        """The checkpoint after a complete pass: the next watermark, ``seen`` pruned to the changes at or after it."""
        nxt = self.next_watermark
        keep = tuple((i, t, e) for i, t, e in self.seen.items() if nxt is None or t >= nxt)
        return Checkpoint(watermark=nxt, seen=keep, pending=None)
