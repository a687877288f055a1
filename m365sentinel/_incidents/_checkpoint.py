"""The stream's checkpoint: a plain JSON value, and the pure rules that move it (case B5).

Shape (``Checkpoint.to_json()``)::

    {"v": 2,                                                  # 1: the same without "identity" (0.1.0)
     "identity": {"workspace": "/subscriptions/.../workspaces/<ws>", "kind": "arm/incidents",
                  "filters": {"providers": ..., "severities": [...], ...}},   # the stream it belongs to
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

Identity and clock (``Checkpoint.for_stream``, ``Checkpoint.check_clock``): a checkpoint is refused at stream start
when it belongs to another workspace, kind or filters, or when its watermark lies ahead of the service's clock,
since either would skip changes silently. One without identity is adopted by the stream that runs it.

Newest-first matters: a change made during a pass moves its incident to the front of the list, which shifts
later offset pages right (a duplicate at a page boundary, skipped here) and never left (a skip).
"""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from .._errors import CheckpointError, InvalidInputError
from .._providers import provider_names
from ..models._time import format_datetime, parse_datetime, shift, to_utc

if TYPE_CHECKING:
    from ._filters import Filters

__all__ = [
    "ARM_INCIDENTS",
    "CLOCK_TOLERANCE",
    "DEFAULT_LAG",
    "GRAPH_ALERTS",
    "GRAPH_INCIDENTS",
    "Checkpoint",
    "CheckpointIdentity",
    "PassState",
    "Snapshot",
    "arm_incidents_identity",
    "service_time",
    "stream_identity",
]

# The visibility-delay bound: an incident that becomes visible in the list API up to this long after its
# lastModifiedTimeUtc is still delivered (case B5b). Longer delays need a larger lag (``IncidentStream.lag``).
DEFAULT_LAG = timedelta(minutes=5)


_ZONED = re.compile(r".*(?:[Zz]|[+-]\d{2}:?\d{2})")

# How far a checkpoint's watermark may lie ahead of the service's clock before the stream refuses it: the ``Date``
# header has whole seconds (truncated, so up to 1 s behind the service) plus 1 s for the clocks of different front
# ends. The stream itself writes watermarks at or below ``Date - lag``; one further ahead came from another clock
# or workspace, and the changes between the service's "now" and it would never be listed.
CLOCK_TOLERANCE = timedelta(seconds=2)

# Stream kinds a checkpoint can belong to.
ARM_INCIDENTS = "arm/incidents"
GRAPH_INCIDENTS = "graph/incidents"
GRAPH_ALERTS = "graph/alerts"
_KINDS = (ARM_INCIDENTS, GRAPH_INCIDENTS, GRAPH_ALERTS)
_VERSIONS = (1, 2)  # 1: no identity (m365sentinel 0.1.0); 2: with identity


def _instant(value: Any) -> datetime:
    # Checkpoints are written with "Z"; a time without a zone was edited by hand and is ambiguous: refuse it.
    if not isinstance(value, str) or not _ZONED.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not a timestamp with a zone (expected e.g. 2025-11-20T11:55:00Z)")
    try:
        return parse_datetime(value)
    except InvalidInputError as exc:
        raise ValueError(str(exc)) from None


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {value!r}")
    return value


def _seen_tuple(value: Any) -> tuple[tuple[str, datetime, str | None], ...]:
    return tuple(sorted(value, key=lambda s: (s[1], s[0])))


@attrs.frozen
class PendingPass:
    """A pass cut short: every change newer than ``upper`` (and those at ``upper`` in ``upper_ids``) was delivered."""

    upper: datetime
    upper_ids: tuple[str, ...]
    next_watermark: datetime


@attrs.frozen
class CheckpointIdentity:
    """The stream a checkpoint belongs to: ``workspace`` (ARM resource id, compared case-insensitively), ``kind``
    (``"arm/incidents"``, ``"graph/incidents"``, ``"graph/alerts"``) and ``filters`` (the canonical JSON text of
    the filters that select the stream's items; ``stream_identity`` builds it)."""

    workspace: str
    kind: str
    filters: str

    def to_json(self) -> dict[str, Any]:
        return {"workspace": self.workspace, "kind": self.kind, "filters": json.loads(self.filters)}

    @classmethod
    def from_json(cls, doc: Any) -> CheckpointIdentity:
        if not isinstance(doc, Mapping):
            raise ValueError(f"identity must be an object, got {doc!r}")
        kind = _text(doc.get("kind"), "identity.kind")
        if kind not in _KINDS:
            raise ValueError(f"identity.kind {kind!r} is not one of {', '.join(_KINDS)}")
        filters = doc.get("filters")
        if not isinstance(filters, Mapping):
            raise ValueError(f"identity.filters must be an object, got {filters!r}")
        return cls(_text(doc.get("workspace"), "identity.workspace"), kind, _canonical_json(filters))


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def stream_identity(workspace: str, kind: str, filters: Mapping[str, Any]) -> CheckpointIdentity:
    """The identity of a stream; ``filters``: JSON-able values that define which items it selects (value order
    and case do not matter for set-like lists: the caller passes them canonical)."""
    return CheckpointIdentity(workspace, kind, _canonical_json(filters))


def arm_incidents_identity(workspace: str, filters: Filters) -> CheckpointIdentity:
    """The identity of an ARM incident stream: set-like filters sorted (case-folded where matching ignores case),
    the default Defender XDR provider list recorded by name, so a release that adds a provider name keeps it."""
    default = filters.providers == provider_names().incident_providers

    def window(pair: tuple[datetime | None, datetime | None]) -> list[str | None]:
        return [None if t is None else format_datetime(t) for t in pair]

    return stream_identity(
        workspace,
        ARM_INCIDENTS,
        {
            "providers": "defender-xdr" if default else sorted({p.casefold() for p in filters.providers}),
            "severities": sorted(filters.severities),
            "statuses": sorted(filters.statuses),
            "owners": sorted({o.casefold() for o in filters.owners}),
            "labels": sorted(filters.labels),
            "created": window(filters.created),
            "modified": window(filters.modified),
        },
    )


@attrs.frozen
class Checkpoint:
    """Where a stream resumes. Immutable; serialise with ``to_json()``/``dumps()``, restore with ``from_json``.

    ``watermark`` (aware UTC or None = from the beginning), ``seen`` ((id, lastModified, etag) delivered inside the
    overlap window), ``pending`` (a pass that was cut short, or None), ``identity`` (the stream it belongs to, or
    None: a checkpoint built by hand or written by m365sentinel 0.1.0, adopted by the first stream that runs it).
    """

    watermark: datetime | None = None
    seen: tuple[tuple[str, datetime, str | None], ...] = attrs.field(default=(), converter=_seen_tuple)
    pending: PendingPass | None = None
    identity: CheckpointIdentity | None = None

    @classmethod
    def starting_at(cls, when: datetime) -> Checkpoint:
        """A checkpoint that delivers changes made at or after ``when`` (an aware datetime)."""
        if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
            raise InvalidInputError(
                f"since= expects a Checkpoint, a checkpoint JSON value or an aware datetime, got {when!r}"
            )
        return cls(watermark=to_utc(when))

    def to_json(self) -> dict[str, Any]:
        """Version 2 with ``identity``; a checkpoint without one is written as version 1 (the 0.1.0 form)."""
        p = self.pending
        doc: dict[str, Any] = {"v": 1}
        if self.identity is not None:
            doc = {"v": 2, "identity": self.identity.to_json()}
        doc["watermark"] = format_datetime(self.watermark) if self.watermark else None
        doc["seen"] = [[i, format_datetime(t), e] for i, t, e in self.seen]
        doc["pass"] = (
            None
            if p is None
            else {
                "upper": format_datetime(p.upper),
                "upper_ids": list(p.upper_ids),
                "next_watermark": format_datetime(p.next_watermark),
            }
        )
        return doc

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> Checkpoint:
        """Parse ``to_json()`` output (a dict or its JSON text), version 1 or 2. Raises InvalidInputError naming
        what is wrong for anything else (an unknown version, a missing or mistyped field)."""
        try:
            return cls._parse(json.loads(data) if isinstance(data, str) else data)
        except (ValueError, TypeError, RecursionError) as exc:
            raise InvalidInputError(
                f"not a checkpoint value ({exc}); expected the JSON of Checkpoint.to_json(): "
                '{"v": 2, "identity": {...}, "watermark": ..., "seen": [...], "pass": ...}'
            ) from exc

    @classmethod
    def _parse(cls, doc: Any) -> Checkpoint:
        if not isinstance(doc, Mapping):
            raise ValueError(f"a checkpoint is a JSON object, got {type(doc).__name__}")
        version = doc.get("v")
        if type(version) is not int or version not in _VERSIONS:  # not True, not 1.0
            raise ValueError(
                f"unknown checkpoint version {version!r} (this release reads {' and '.join(map(str, _VERSIONS))}; "
                "written by a newer m365sentinel?)"
            )
        for key in ("watermark", "seen", "pass"):
            if key not in doc:
                raise ValueError(f"missing field {key!r}")
        identity = None
        if version == 2:
            identity = CheckpointIdentity.from_json(doc.get("identity"))
        wm = doc["watermark"]
        raw_pass = doc["pass"]
        pending = None
        if raw_pass is not None:
            if not isinstance(raw_pass, Mapping):
                raise ValueError(f"pass must be an object or null, got {raw_pass!r}")
            ids = raw_pass.get("upper_ids")
            if not isinstance(ids, list):
                raise ValueError(f"pass.upper_ids must be a list of ids, got {ids!r}")
            pending = PendingPass(
                _instant(raw_pass.get("upper")),
                tuple(_text(i, "pass.upper_ids[]") for i in ids),
                _instant(raw_pass.get("next_watermark")),
            )
        raw_seen = doc["seen"]
        if not isinstance(raw_seen, list):
            raise ValueError(f"seen must be a list, got {raw_seen!r}")
        seen = []
        for entry in raw_seen:
            if not isinstance(entry, list) or len(entry) != 3:
                raise ValueError(f"seen entry {entry!r} is not [id, lastModified, etag]")
            i, t, e = entry
            seen.append((_text(i, "seen id"), _instant(t), None if e is None else _text(e, "seen etag")))
        return cls(watermark=None if wm is None else _instant(wm), seen=seen, pending=pending, identity=identity)

    def for_stream(self, identity: CheckpointIdentity, *, reuse_filters: bool = False) -> Checkpoint:
        """This checkpoint, checked against the stream about to run it (pure; the stream calls it at start).

        No identity (built by hand, or written by 0.1.0): adopted, the next commit records ``identity``. Another
        workspace or kind: CheckpointError. Other filters: CheckpointError unless ``reuse_filters``; reused, the
        checkpoint takes the new identity and drops a cut-short pass (its position was taken under the old
        filters), so the pass restarts from the watermark: every change at or after it that matches the new
        filters is delivered (some a second time), none before it."""
        mine = self.identity
        if mine is None:
            return attrs.evolve(self, identity=identity)
        if mine.workspace.casefold() != identity.workspace.casefold():
            raise CheckpointError(
                f"the checkpoint belongs to workspace {mine.workspace}, this stream reads {identity.workspace}: "
                "use the checkpoint (store) of this workspace's stream, or start a new one"
            )
        if mine.kind != identity.kind:
            raise CheckpointError(f"the checkpoint belongs to a {mine.kind} stream, this stream is {identity.kind}")
        if mine.filters != identity.filters:
            if not reuse_filters:
                raise CheckpointError(
                    f"the checkpoint was written by a stream with other filters ({_diff(mine, identity)}); "
                    "pass since(..., reuse_filters=True) to resume from it anyway (changes before its watermark "
                    "that only the new filters select are not delivered), or start a new checkpoint"
                )
            return attrs.evolve(self, identity=identity, pending=None)
        return self

    def check_clock(self, service_now: datetime, tolerance: timedelta = CLOCK_TOLERANCE) -> None:
        """CheckpointError when the watermark (or a cut-short pass's next one) lies ahead of ``service_now`` (the
        service's clock: the first response's ``Date``) by more than ``tolerance``: the changes in between would
        never be listed. Pure; the stream calls it before the first delivery."""
        limit = shift(service_now, tolerance)
        marks = [("watermark", self.watermark)]
        if self.pending is not None:
            marks.append(("next watermark of its cut-short pass", self.pending.next_watermark))
        for what, mark in marks:
            if mark is not None and mark > limit:
                raise CheckpointError(
                    f"the checkpoint's {what} {format_datetime(mark)} is ahead of the service's clock "
                    f"({format_datetime(service_now)}, tolerance {tolerance.total_seconds():g} s): changes made "
                    "before it would be skipped. Was it written by another workspace or a host with a fast clock? "
                    "Start from since(<aware datetime>) instead"
                )

    def __repr__(self) -> str:
        wm = format_datetime(self.watermark) if self.watermark else None
        kind = self.identity.kind if self.identity else None
        return f"Checkpoint(watermark={wm}, seen={len(self.seen)}, pending={self.pending is not None}, stream={kind})"


def _diff(old: CheckpointIdentity, new: CheckpointIdentity) -> str:
    a, b = json.loads(old.filters), json.loads(new.filters)
    keys = sorted(k for k in {*a, *b} if a.get(k) != b.get(k))
    return "; ".join(f"{k}: {a.get(k)!r} then, {b.get(k)!r} now" for k in keys)


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
                watermark=state.lower,
                seen=tuple((i, t, e) for i, (t, e) in seen.items()),
                pending=pending,
                identity=state.identity,
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
    identity: CheckpointIdentity | None = None  # carried into every checkpoint the pass builds

    def __attrs_post_init__(self) -> None:
        self.seen = dict(self.seen_base)
        self.at_upper = set(self.upper_ids)

    @classmethod
    def begin(cls, checkpoint: Checkpoint, now: datetime, lag: timedelta) -> PassState:
        """Resume the checkpoint's cut-short pass, or start a new one at ``now`` (next watermark ``now - lag``)."""
        seen = {i: (t, e) for i, t, e in checkpoint.seen}
        p = checkpoint.pending
        if p is not None:
            return cls(
                checkpoint.watermark,
                p.next_watermark,
                p.upper,
                list(p.upper_ids),
                seen,
                lag=lag,
                resumed=True,
                identity=checkpoint.identity,
            )
        nxt = shift(now, -lag)
        if checkpoint.watermark is not None and nxt < checkpoint.watermark:
            nxt = checkpoint.watermark  # never move back: seen was pruned at the old watermark
        return cls(checkpoint.watermark, nxt, None, [], seen, lag=lag, identity=checkpoint.identity)

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
        return Checkpoint(watermark=self.next_watermark, seen=keep, pending=None, identity=self.identity)
