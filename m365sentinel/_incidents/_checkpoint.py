"""The stream's checkpoint: a plain JSON value, and the pure rules that move it (case B5).

Shape (``Checkpoint.to_json()``)::

    {"v": 2,                                                  # 1: the same without "identity" (0.1.0)
     "identity": {"workspace": "/subscriptions/.../workspaces/<ws>", "kind": "arm/incidents",
                  "filters": {"providers": ..., "severities": [...], ...}},   # the stream it belongs to
     "watermark": "2025-11-20T11:55:00.0000000Z" | null,      # next poll asks lastModifiedTimeUtc >= this
     "seen": [[incident id, lastModifiedTimeUtc, etag], ...],  # changes delivered at or after the watermark
     "pass": null | {"upper": ..., "upper_ids": [...], "next_watermark": ...}}   # a cut-short pass's position

How a poll moves it (``PassState``): the poll lists ``lastModifiedTimeUtc >= watermark`` and trusts neither the
service's order, nor its filter, nor its page layout for what it delivers. A served change is delivered when it
lies at or after the watermark and is newer than the change delivered for its incident. A checkpoint taken
mid-pass is compact while the pass has verified that the service serves it newest first: the watermark, the
overlap-window changes and the pass position (``pass``: everything newer than ``upper``, and the ``upper_ids``
at it, was delivered), so a commit costs the same at the first item and the 100,000th. Once an item was served
out of order, it is the record instead: the watermark plus every change delivered since it (a commit then costs
O(changes in the pass)). A resumed pass lists the window again and skips what the position and the record
cover; if its own listing is out of order, it does not trust the position (the cut-short listing may have been
out of order after its cut) and lists the window once more without it: at-least-once, never a loss.

Identity and clock (``Checkpoint.for_stream``, ``Checkpoint.check_clock``): a checkpoint is refused at stream start
when it belongs to another workspace, kind or filters, or when its watermark lies ahead of the service's clock,
since either would skip changes silently. One without identity is adopted by the stream that runs it.


When a pass completes, the watermark moves to the poll start minus the lag (bounded by the service's ``Date``;
without it, by the newest change on the first page), and ``seen`` keeps only the changes at or after it, so the
next poll's overlap re-reads and skips them. A change is delivered again only when its lastModified or etag
differs (a reopened incident, case B5a). An incident that becomes visible late, with a lastModified older than
one already delivered, is still found as long as the delay is within ``lag`` (B5b). A pass served out of the
requested newest-first order does not move the watermark unless an audit vouched for it (``PassState``). The
assumptions and their checks: ``docs/assumptions.md``.
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
from ._seen import SeenMap

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
    "SeenMap",
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
    """A pass cut short while verified newest first: every change newer than ``upper`` (and those at ``upper`` in
    ``upper_ids``) was delivered; ``next_watermark`` bounds where the resumed pass may move the watermark."""

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

    ``watermark`` (aware UTC or None = from the beginning), ``seen`` ((id, lastModified, etag) delivered at or
    after the watermark that a resume must skip), ``pending`` (the position of a pass that was cut short, or None),
    ``identity`` (the stream it belongs to, or None: a checkpoint built by hand or written by m365sentinel 0.1.0,
    adopted by the first stream that runs it).
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

    Taking it is O(1): it records how far the pass's logs had grown and the pass position. Building it costs
    what it holds: while the pass is compact (``PassState``), the checkpoint it started from plus the changes of the
    overlap window; once the record is needed, every change delivered since the watermark.
    """

    __slots__ = ("_built", "_mark", "_state")

    def __init__(self, state: PassState) -> None:
        self._state = state
        # One tuple per delivery, of what the mode needs: compact, the overlap log's length and the position
        # (``upper_ids`` is replaced, never shrunk, when ``upper`` moves); the record, where the seen map's log ends.
        self._mark: tuple[int, datetime | None, list[str], int] | int = (
            (len(state.log), state.upper, state.upper_ids, len(state.upper_ids)) if state.compact else state.seen.mark()
        )
        self._built: Checkpoint | None = None

    def checkpoint(self) -> Checkpoint:
        if self._built is None:
            state = self._state
            pending = state.resume  # the record mode keeps the position a resumed pass inherited
            mark = self._mark
            if isinstance(mark, tuple):  # compact
                log_len, upper, upper_ids, ids_len = mark
                seen = {i: (t, e) for i, t, e in state.base}
                for incident_id, modified, etag in state.log[:log_len]:
                    seen[incident_id] = (modified, etag)
                changes = tuple((i, t, e) for i, (t, e) in seen.items())
                if upper is not None:
                    pending = PendingPass(upper, tuple(upper_ids[:ids_len]), state.bound())
            else:
                changes = state.seen.as_of(mark)
            if pending is not None:
                pending = attrs.evolve(pending, next_watermark=state.bound())
            self._built = Checkpoint(watermark=state.lower, seen=changes, pending=pending, identity=state.identity)
        return self._built


# Served items in the requested order before a pass claims a position: a shuffled list serves its first k items
# newest first by chance with probability 1/k!, so a service ignoring ``$orderby`` is caught before any claim.
VERIFIED_RUN = 64


@attrs.define
class PassState:
    """One poll in progress (mutable, in memory): which served items to deliver, and what to checkpoint.

    Delivery trusts no order, no filter and no page layout. ``seen`` maps an incident id to the newest change of it
    delivered since the watermark (the checkpoint's, then this pass's, all kept in memory). A served change is
    delivered when it lies at or after the watermark (``in_window``: the service may ignore the ``$filter``
    bound) and is newer than the change in ``seen`` (the same time with another etag counts as newer), and, in a
    resumed pass, is not covered by the position it resumes (``resume``). Each step is O(1).

    What a mid-pass checkpoint holds depends on the order check (``in_window``: each served lastModified at or
    below the previous one):

    * compact, while the pass has served its items newest first, at least ``verified`` of them (not with an
      audit, which must tell what a cut-short pass delivered): the watermark, the overlap-window changes (at or
      after ``bound()``) and the position (``upper``: the oldest lastModified delivered, ``upper_ids``: the ids
      delivered at it). Its size does not grow with the pass. A pass resumed from it skips what is newer than
      the position, or at it with a delivered id (passed in the verified listing), and changes made after the
      cut-short pass began have a lastModified at or after the position's ``next_watermark``, so the next poll
      lists them;
    * the record, once an item was served out of order (or before ``verified`` items): the watermark and every
      change delivered since it (O(pass) per checkpoint), plus the position a resumed pass inherited.

    A compact position rests on the cut-short listing staying newest first after the cut, which nobody read.
    A resumed pass checks its own listing: when that is out of order and it skipped a change by the position,
    the position is dropped and the window listed again (``refuted``): what it skipped is delivered unless the
    record holds it (at-least-once, never a loss).

    The next watermark (``finished``) is the earliest of: the poll start minus the lag; the service's clock (the
    first page's ``Date``) minus the lag, or without a usable ``Date`` the newest ``lastModifiedTimeUtc`` of the
    first page minus the lag (never the local clock alone); the resumed position's ``next_watermark``; never below
    the current watermark. A pass that served items out of the requested newest-first order cannot show that its
    offset pages missed nothing (a change may shift them left), so unless an audit (``audited``) confirmed it,
    its watermark does not advance.
    """

    lower: datetime | None
    start_bound: datetime  # poll start (caller's clock) - lag
    base: tuple[tuple[str, datetime, str | None], ...]  # the checkpoint's seen
    seen: SeenMap
    resume: PendingPass | None = None  # the cut-short pass's position (skip rule)
    lag: timedelta = DEFAULT_LAG
    verified: int = VERIFIED_RUN
    upper: datetime | None = None
    upper_ids: list[str] = attrs.field(factory=list)
    log: list[tuple[str, datetime, str | None]] = attrs.field(factory=list)  # overlap-window deliveries
    pages: int = 0
    in_order: int = 0  # items served so far, while in order
    service_start: datetime | None = None  # the first page's Date
    first_newest: datetime | None = None  # the newest lastModified on the first page
    previous: datetime | None = None  # the last served lastModified (the order check)
    out_of_order: bool = False
    skipped: bool = False  # a change was skipped by the resumed position
    audited: bool = False
    served: dict[str, datetime] | None = None  # id -> newest lastModified served, kept for an audit only
    at_resume: frozenset[str] = frozenset()
    identity: CheckpointIdentity | None = None  # carried into every checkpoint the pass builds

    def __attrs_post_init__(self) -> None:
        r = self.resume
        if r is not None:
            self.upper, self.upper_ids, self.at_resume = r.upper, list(r.upper_ids), frozenset(r.upper_ids)

    @classmethod
    def begin(
        cls, checkpoint: Checkpoint, now: datetime, lag: timedelta, *, audit: bool = False, verified: int = VERIFIED_RUN
    ) -> PassState:
        """A pass from the checkpoint's watermark started at ``now`` (the caller's clock), resuming the
        checkpoint's cut-short position if it has one."""
        return cls(
            checkpoint.watermark,
            shift(now, -lag),
            checkpoint.seen,
            SeenMap(checkpoint.seen),
            checkpoint.pending,
            lag=lag,
            verified=verified,
            served={} if audit else None,
            identity=checkpoint.identity,
        )

    @property
    def compact(self) -> bool:
        """Whether a checkpoint taken now holds the position instead of the record (class docstring)."""
        return not self.out_of_order and self.served is None and self.in_order >= self.verified

    @property
    def refuted(self) -> bool:
        """The resumed position skipped a change, and this pass's own listing was out of order: the cut-short
        listing may have been too, after its cut, so the position may cover changes it never delivered."""
        return self.resume is not None and self.skipped and self.out_of_order

    def drop_position(self) -> None:
        """Stop skipping by the resumed position (``refuted``); list the window again after this."""
        self.resume, self.at_resume, self.upper, self.upper_ids, self.skipped = None, frozenset(), None, [], False

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
        elif not self.out_of_order:
            self.in_order += 1
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
        """False for a change the resumed position covers, for that change again or an older one (``seen``);
        True for a change newer than the one ``seen`` holds (or at the same time with another etag)."""
        r = self.resume
        if r is not None and (modified > r.upper or (modified == r.upper and incident_id in self.at_resume)):
            self.skipped = True
            return False
        known = self.seen.get(incident_id)
        return known is None or modified > known[0] or (modified == known[0] and etag != known[1])

    def delivered(self, incident_id: str, modified: datetime, etag: str | None) -> Snapshot:
        """Record a delivery; return the (lazy) checkpoint to commit once the caller has handled it."""
        self.seen.put(incident_id, modified, etag)
        if not self.out_of_order:  # the position and the overlap log describe an ordered pass only
            upper = self.upper
            if upper is not None and modified == upper:
                self.upper_ids.append(incident_id)
            elif upper is None or modified < upper:
                self.upper, self.upper_ids = modified, [incident_id]
            if modified >= self.bound():
                self.log.append((incident_id, modified, etag))
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
        """The next watermark by the clocks alone (the audit window's end); the current watermark without
        evidence of the service's time."""
        return self.lower if self._evidence() is None else self.bound()

    def bound(self) -> datetime:
        """The poll start minus the lag, bounded by the clocks' evidence, the resumed position's
        ``next_watermark`` and, from below, the current watermark (class docstring)."""
        nxt = self.start_bound
        clock = self._evidence()
        if clock is not None and clock < nxt:
            nxt = clock
        r = self.resume
        if r is not None and r.next_watermark < nxt:
            nxt = r.next_watermark
        if self.lower is not None and nxt < self.lower:
            nxt = self.lower  # never move back: seen was pruned at the current watermark
        return nxt

    def _evidence(self) -> datetime | None:
        if self.service_start is not None:
            return shift(self.service_start, -self.lag)
        if self.first_newest is not None:
            return shift(self.first_newest, -self.lag)
        return None

    def finished(self) -> Checkpoint:
        """The checkpoint after a complete pass: the next watermark, ``seen`` pruned to the changes at or after it."""
        nxt = self.next_watermark
        keep = tuple(self.seen.items(since=nxt))
        return Checkpoint(watermark=nxt, seen=keep, pending=None, identity=self.identity)
