"""The stream's checkpoint: a plain JSON value, and the pure rules that move it (case B5).

Shape (``Checkpoint.to_json()``)::

    {"v": 1,
     "watermark": "2025-11-20T11:55:00.0000000Z" | null,      # next poll asks lastModifiedTimeUtc >= this
     "seen": [[incident id, lastModifiedTimeUtc, etag], ...],  # changes delivered at or after the watermark
     "pass": null | {"upper": ..., "upper_ids": [...], "next_watermark": ...}}   # a poll cut short

How a poll moves it (``PassState``): the poll starts at ``now`` and lists ``lastModifiedTimeUtc >= watermark``
newest first. Each delivered change records ``upper`` (its lastModified: everything newer was delivered in this
pass) and, when it falls inside the overlap window, its (id, lastModified, etag) in ``seen``. When the pass ends
the watermark becomes ``now - lag`` (never the newest change seen), and ``seen`` keeps only the changes at or
after it, so the next poll's overlap re-reads them and skips them. A change is delivered again only when its
lastModified or etag differs (a reopened incident, case B5a). An incident that becomes visible late, with a
lastModified older than one already delivered, is still found as long as the delay is within ``lag`` (B5b).

Newest-first matters: a change made during a pass moves its incident to the front of the list, which shifts
later offset pages right (a duplicate at a page boundary, skipped here) and never left (a skip).
"""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from .._errors import InvalidInputError
from ..models._time import format_datetime, parse_datetime, shift, to_utc

__all__ = ["DEFAULT_LAG", "Checkpoint", "PassState", "Snapshot", "service_time"]

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
        return cls(watermark=to_utc(when))

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


class Snapshot:
    """The checkpoint as of one delivery, built only when asked for (``checkpoint()``, cached).

    Taking it is O(1): it records how far the pass's append-only logs had grown. Building a ``Checkpoint`` for
    every delivered item would copy and sort ``seen`` each time, O(N^2) for a burst of N changes inside the
    overlap window; a caller that never commits an item never pays for it.
    """

    __slots__ = ("_built", "_ids_len", "_log_len", "_state", "_upper", "_upper_ids")

    def __init__(self, state: PassState) -> None:
        self._state = state
        self._log_len = len(state.seen_log)
        self._upper = state.upper
        self._upper_ids = state.upper_ids  # replaced, never shrunk, when ``upper`` moves
        self._ids_len = len(state.upper_ids)
        self._built: Checkpoint | None = None

    def checkpoint(self) -> Checkpoint:
        if self._built is None:
            state = self._state
            seen = dict(state.seen_base)
            for incident_id, modified, etag in state.seen_log[: self._log_len]:
                seen[incident_id] = (modified, etag)
            pending = None
            if self._upper is not None:
                pending = PendingPass(self._upper, tuple(self._upper_ids[: self._ids_len]), state.next_watermark)
            self._built = Checkpoint(
                watermark=state.lower, seen=tuple((i, t, e) for i, (t, e) in seen.items()), pending=pending
            )
        return self._built


@attrs.define
class PassState:
    """One poll in progress (mutable, in memory). Decides which items to deliver and what to checkpoint.

    ``upper``/``upper_ids``: the oldest lastModified delivered in this pass (or in the cut-short pass it resumes)
    and the ids delivered at it. The list is newest first, so everything served newer than ``upper`` was passed
    already: re-served by a page shift (however many incidents changed meanwhile), or changed after the pass
    began (the next pass lists it). ``seen``: the checkpoint's overlap-window changes plus this pass's
    (``seen_base`` + the append-only ``seen_log``, what snapshots are built from).
    """

    lower: datetime | None
    next_watermark: datetime
    upper: datetime | None
    upper_ids: list[str]
    seen_base: dict[str, tuple[datetime, str | None]]
    seen: dict[str, tuple[datetime, str | None]] = attrs.field(factory=dict)
    seen_log: list[tuple[str, datetime, str | None]] = attrs.field(factory=list)
    lag: timedelta = DEFAULT_LAG
    resumed: bool = False
    at_upper: set[str] = attrs.field(factory=set)  # upper_ids as a set: a tie group can be large

    def __attrs_post_init__(self) -> None:
        self.seen = dict(self.seen_base)
        self.at_upper = set(self.upper_ids)

    @classmethod
    def begin(cls, checkpoint: Checkpoint, now: datetime, lag: timedelta) -> PassState:
        """Resume the checkpoint's cut-short pass, or start a new one at ``now`` (next watermark ``now - lag``)."""
        seen = {i: (t, e) for i, t, e in checkpoint.seen}
        p = checkpoint.pending
        if p is not None:
            return cls(checkpoint.watermark, p.next_watermark, p.upper, list(p.upper_ids), seen, lag=lag, resumed=True)
        nxt = shift(now, -lag)
        if checkpoint.watermark is not None and nxt < checkpoint.watermark:
            nxt = checkpoint.watermark  # never move back: seen was pruned at the old watermark
        return cls(checkpoint.watermark, nxt, None, [], seen, lag=lag)

    def bound_by_service_time(self, service_now: datetime | None) -> None:
        """Keep the next watermark at or below the service's clock minus the lag (the first page's ``Date``).

        A caller clock running ahead of the service would otherwise put the watermark past changes the service
        has not made yet, and skip them. Call it before the first delivery; a resumed pass keeps the bound it
        persisted, and the watermark never moves back.
        """
        if service_now is None or self.resumed or self.upper is not None:
            return
        bound = shift(service_now, -self.lag)
        if self.lower is not None and bound < self.lower:
            bound = self.lower
        if bound < self.next_watermark:
            self.next_watermark = bound

    def should_deliver(self, incident_id: str, modified: datetime, etag: str | None) -> bool:
        """False for a change already delivered: at or before this pass's position (``upper``), or in seen."""
        upper = self.upper
        if upper is not None and (modified > upper or (modified == upper and incident_id in self.at_upper)):
            return False
        return self.seen.get(incident_id) != (modified, etag)

    def delivered(self, incident_id: str, modified: datetime, etag: str | None) -> Snapshot:
        """Record a delivery; return the (lazy) checkpoint to commit once the caller has handled it."""
        if self.upper is not None and modified == self.upper:
            self.upper_ids.append(incident_id)
            self.at_upper.add(incident_id)
        elif self.upper is None or modified < self.upper:
            self.upper, self.upper_ids, self.at_upper = modified, [incident_id], {incident_id}
        if modified >= self.next_watermark:
            self.seen[incident_id] = (modified, etag)
            self.seen_log.append((incident_id, modified, etag))
        return Snapshot(self)

    def checkpoint(self) -> Checkpoint:
        """The checkpoint as of the latest delivery (or of the pass's start)."""
        return Snapshot(self).checkpoint()

    def finished(self) -> Checkpoint:
        """The checkpoint after a complete pass: watermark = poll start - lag, seen pruned to the overlap window."""
        keep = tuple((i, t, e) for i, (t, e) in self.seen.items() if t >= self.next_watermark)
        return Checkpoint(watermark=self.next_watermark, seen=keep, pending=None)
