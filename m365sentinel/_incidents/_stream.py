"""``IncidentStream``: resumable, de-duplicated streaming of Sentinel incidents (ARM side).

Delivery guarantee, relative to committed checkpoints:

* at-least-once: every change of a matching incident (its state at poll time: polling sees states, not each
  intermediate edit) is delivered to the caller's code at least once;
* exactly-once per change when the caller commits ``item.checkpoint`` (``item.commit()`` with a store) after
  handling the item: a committed change is never delivered again, and a change whose handling was not committed
  (a crash between delivery and commit) is delivered again on restart.

Neither rests on the service's order, filter or page layout within a pass: the rules are in ``_checkpoint``
(``PassState``), the assumptions and their run-time checks in ``docs/assumptions.md``. A pass resumed after a
crash or ``max_items`` from a compact checkpoint (taken while the list was verified newest first) trusts that the
cut-short listing stayed so after its cut; if its own listing is out of order it lists the window again without
that trust, so a committed change may then come again (at-least-once), never be lost.

Bounded delivery: with ``.audit()``, the latest state of every matching incident reaches the caller by the first
completed poll that starts at least ``lag`` after its change (service clock), whatever the service's order,
filter handling or mid-pass deletions, given the ``Date`` header and ``SecurityIncident`` rows ingested within
``lag`` (both checked: without them the watermark holds and the window is polled again). Without the audit, an
incident hidden by a page shift (a neighbour deleted mid-pass) is found again only while its change is inside the
overlap window. Why severity, status, owner, label and modified-before filters are applied client-side:
``_filters``.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

import attrs

from .._errors import CheckpointError, InvalidInputError, SerializationError
from .._inputs import check_callable
from .._providers import provider_names
from .._transport._flow import Flow, PageReader, Sleep, send_json, send_query
from ._checkpoint import (
    DEFAULT_LAG,
    Checkpoint,
    CheckpointIdentity,
    PassState,
    Snapshot,
    arm_incidents_identity,
    service_time,
)
from ._filters import Filters, render_arm_filter
from ._requests import IncidentRequests
from ._stores import CheckpointStore, StoredCheckpoint

if TYPE_CHECKING:
    from ..models import Entity, Incident, IncidentAlert
    from ._graph import DefenderIncidents
    from ._handle import IncidentHandle
    from ._reconcile import ReconcileReport

__all__ = ["IncidentRun", "IncidentStream", "StreamedIncident"]

LOGGER = logging.getLogger("m365sentinel")
_ORDER = "properties/lastModifiedTimeUtc desc"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_AUDIT_HORIZON = timedelta(days=30)  # the shortest Log Analytics retention a Sentinel workspace can have
_MAX_LAG = timedelta(days=7)  # a visibility delay beyond this is an outage, not a lag to poll around


def _utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.frozen
class StreamedIncident:
    """One delivered change: the typed ``incident``; ``alerts``/``entities`` (tuples) when asked for, else None;
    ``checkpoint``: commit it after handling this item (``commit()`` does that when the stream has a store)."""

    incident: Incident
    alerts: tuple[IncidentAlert, ...] | None
    entities: tuple[Entity, ...] | None
    _position: Snapshot = attrs.field(repr=False, eq=False, alias="position")
    _commit: Callable[[Checkpoint], None] | None = attrs.field(default=None, repr=False, eq=False, alias="commit_fn")

    @property
    def id(self) -> str:
        return self.incident.name or ""

    @property
    def checkpoint(self) -> Checkpoint:
        """Where to resume once this item is handled (built on first access: O(size of ``seen``))."""
        return self._position.checkpoint()

    def commit(self) -> None:
        """Compare-and-swap ``checkpoint`` into the stream's store. Raises InvalidInputError without a store and
        CheckpointConflictError when another worker advanced the checkpoint.

        Compare-and-swap protects the checkpoint, not the handling: a second worker on the same store has
        already handled its item when its commit fails, so run one worker per store (shard by provider or
        created window for more).

        Each commit writes the whole checkpoint. While the pass has verified that the service serves the list
        newest first (its first 64 items and every one since; not with ``.audit()``), the checkpoint is compact:
        the watermark, the changes inside the overlap window (the lag: 5 minutes by default, up to 7 days) and the
        pass position, so a commit per item costs the same at the 100th item and the 100,000th. Once an item was
        served out of order, it holds every change delivered since the watermark (a resume then trusts no order),
        and a commit per item during a pass of N changes writes O(N) each, O(N^2) in all: commit every k-th
        item, or at the end of the run (``run.checkpoint``), to bound that. What was delivered after the last
        commit is delivered again after a crash (at-least-once), and nothing committed is, except after a resume
        that found the list out of order (``_checkpoint``: what the cut-short pass delivered above its position
        may come again)."""
        if self._commit is None:
            raise InvalidInputError("this stream has no checkpoint store: persist item.checkpoint yourself")
        self._commit(self.checkpoint)


class _Committer:
    """Tracks the stored version so successive commits of one run swap in order."""

    def __init__(self, store: CheckpointStore | None) -> None:
        self.store = store
        self.version: str | None = None
        self.last_committed: Checkpoint | None = None

    def load(self) -> Checkpoint | None:
        if self.store is None:
            return None
        stored = self.store.load()
        if stored is not None and not (
            isinstance(stored, StoredCheckpoint) and isinstance(stored.checkpoint, Checkpoint)
        ):
            raise CheckpointError(f"{type(self.store).__name__}.load() returned {stored!r}, not a StoredCheckpoint")
        self.version = stored.version if stored else None
        return stored.checkpoint if stored else None

    def commit(self, checkpoint: Checkpoint) -> None:
        if self.store is None:
            raise InvalidInputError("this stream has no checkpoint store")
        self.version = self.store.compare_and_swap(self.version, checkpoint)
        self.last_committed = checkpoint


class RunState:
    """Where one pass stands (shared by both faces' runs): the position the caller came back from, how many items
    it covers, whether ``max_items`` cut the pass short."""

    def __init__(self, start: Checkpoint) -> None:
        self._position: Checkpoint | Snapshot = start
        self.stopped_early = False
        self.delivered = 0

    @property
    def checkpoint(self) -> Checkpoint:
        p = self._position
        return p if isinstance(p, Checkpoint) else p.checkpoint()


class IncidentRun(RunState, Iterator[StreamedIncident]):
    """One iteration over the stream (``iter(stream)``): yields ``StreamedIncident``.

    ``checkpoint`` is where the next run starts: the pass-end checkpoint once the run ends, else the checkpoint of
    the last item the caller came back from (asked for the next one, or ended the loop normally); an item whose
    handler raised, or that the caller left with ``break``, is not covered and is delivered again from it. For
    exactly-once per item, commit ``item.checkpoint`` instead. ``stopped_early`` says whether ``max_items`` cut the
    run short (case B1); ``delivered`` counts the items covered by ``checkpoint``.
    """

    def __init__(self, stream: IncidentStream, committer: _Committer, start: Checkpoint) -> None:
        super().__init__(start)
        self._gen: Iterator[StreamedIncident] = stream.session.http.iterate(stream._pass(start, committer, self))

    def __next__(self) -> StreamedIncident:
        return next(self._gen)

    def close(self) -> None:
        """End the pass early (``break`` does the same once the run is dropped): what was committed stays."""
        self._gen.close()  # type: ignore[attr-defined]


def _since_value(value: object) -> tuple[Checkpoint | None, CheckpointStore | None]:
    if value is None:
        return Checkpoint(), None
    if isinstance(value, Checkpoint):
        return value, None
    if isinstance(value, datetime):
        return Checkpoint.starting_at(value), None
    if isinstance(value, dict | str):
        return Checkpoint.from_json(value), None
    if isinstance(value, CheckpointStore):
        return None, value
    raise InvalidInputError(
        f"since= expects a Checkpoint, its JSON value, an aware datetime or a CheckpointStore, got {value!r}"
    )


@attrs.frozen(kw_only=True)
class IncidentStream:
    """Sentinel incidents as a resumable stream (immutable: every fluent call returns a new stream).

    ::

        store = FileCheckpointStore("incidents.checkpoint.json")
        for item in connector.incidents().since(store).with_alerts().severity("High", "Medium"):
            handle(item.incident, item.alerts)
            item.commit()                      # exactly-once per change

    Requests: GET ``{ws}/incidents`` (api-version ``incidents``, 2025-09-01) with ``$filter`` (provider names,
    created window, ``lastModifiedTimeUtc ge`` the watermark; the other filters are applied client-side),
    ``$orderby=properties/lastModifiedTimeUtc desc``, ``$top``; each ``nextLink`` followed
    verbatim. ``with_alerts``/``with_entities``: one Log Analytics query per page (``SecurityIncident.AlertIds``
    joined to ``SecurityAlert``; a partial answer is split or raised, and incidents Log Analytics has not ingested
    whole yet take the per-incident calls), or the per-incident POST calls with
    ``source="per_incident"`` (rate-limited by the service: about 100 per 5 minutes).
    Checkpoint checks at start, before any item (CheckpointError): the store's checkpoint must be readable and of a
    known version, belong to this stream (``identity()``: workspace, ``arm/incidents``, filters; see ``since``'s
    ``reuse_filters``), and its watermark must not lie ahead of the service's clock (the first response's ``Date``).
    ``audit()``: one Log Analytics query per pass, plus GET ``{ws}/incidents/{id}`` for each incident the list
    missed.
    Raises APIStatusError subclasses, TransportError, QueryError, CheckpointError, CheckpointConflictError.
    """

    session: Any = attrs.field(repr=False)
    filters: Filters
    start: Checkpoint | None = attrs.field(default=None, repr=False)
    store: CheckpointStore | None = None
    alerts_source: str | None = None  # None: no alerts; else "log_analytics" or "per_incident"
    entities_source: str | None = None
    limit: int | None = None
    page_size: int = 1000
    lag_: timedelta = DEFAULT_LAG
    clock_: Callable[[], datetime] = attrs.field(default=_utc_now, repr=False)
    prefetch_: bool = True
    reuse_filters_: bool = False
    audit_: bool = False

    @classmethod
    def for_session(cls, session: Any) -> Self:
        """The default stream of a Connector session: Defender XDR provider names, from the beginning."""
        return cls(session=session, filters=Filters(providers=provider_names().incident_providers))

    # --- fluent --------------------------------------------------------------------------------------------
    def since(
        self,
        checkpoint: Checkpoint | CheckpointStore | datetime | dict[str, Any] | str | None,
        *,
        initial: datetime | None = None,
        reuse_filters: bool = False,
    ) -> Self:
        """Resume from a ``Checkpoint`` (or its JSON), a ``CheckpointStore`` (loaded at iteration, committed by
        ``item.commit()``), or an aware datetime (changes at or after it). ``None``: from the beginning.

        ``initial`` (with a store only): where to start while the store holds no checkpoint yet, e.g.
        ``since(store, initial=now - timedelta(days=1))`` instead of the whole history.

        The checkpoint is checked when iteration starts, before any item (CheckpointError): it must belong to this
        stream (workspace, kind, filters; one without identity, written by 0.1.0 or built by hand, is adopted and
        gets this stream's identity at the next commit) and its watermark must not lie ahead of the service's
        clock (``Date`` of the first response, 2 s tolerance). ``reuse_filters=True`` resumes from a checkpoint
        written under other filters: changes at or after its watermark are delivered by the new filters (a
        cut-short pass restarts from the watermark, so some may come again), changes before it are not."""
        if not isinstance(reuse_filters, bool):
            raise InvalidInputError(f"reuse_filters={reuse_filters!r}: expected True or False")
        cp, store = _since_value(checkpoint)
        if initial is not None:
            if store is None:
                raise InvalidInputError("since(..., initial=) applies to a CheckpointStore only")
            if not isinstance(initial, datetime) or initial.tzinfo is None or initial.utcoffset() is None:
                raise InvalidInputError(f"initial={initial!r}: expected a timezone-aware datetime")
            cp = Checkpoint.starting_at(initial)
        return attrs.evolve(self, start=cp, store=store, reuse_filters_=reuse_filters)

    def with_alerts(self, *, source: str = "log_analytics") -> Self:
        """Attach each incident's alerts. ``source``: ``"log_analytics"`` (bulk, default) or ``"per_incident"``."""
        return attrs.evolve(self, alerts_source=_source(source))

    def with_entities(self, *, source: str = "log_analytics") -> Self:
        """Attach each incident's entities (from its alerts' ``Entities``, or POST .../entities per incident);
        ``source`` as for ``with_alerts``, chosen independently."""
        return attrs.evolve(self, entities_source=_source(source))

    def severity(self, *values: str) -> Self:
        return attrs.evolve(self, filters=attrs.evolve(self.filters, severities=Filters.severities_of(values)))

    def status(self, *values: str) -> Self:
        return attrs.evolve(self, filters=attrs.evolve(self.filters, statuses=Filters.statuses_of(values)))

    def owner(self, *values: str) -> Self:
        """Owner UPN / e-mail, or Entra object id (GUID)."""
        return attrs.evolve(self, filters=attrs.evolve(self.filters, owners=Filters.texts_of(values, "owner")))

    def labels(self, *values: str) -> Self:
        """Incidents carrying any of these labels."""
        return attrs.evolve(self, filters=attrs.evolve(self.filters, labels=Filters.texts_of(values, "label")))

    def provider(self, *names: str | None) -> Self:
        """Provider names (default: ``m365sentinel.provider_names().incident_providers``); ``provider(None)``: all."""
        if names == (None,):
            return attrs.evolve(self, filters=attrs.evolve(self.filters, providers=()))
        if None in names:
            raise InvalidInputError(f"provider{names!r}: None alone means every provider; it cannot join names")
        texts = Filters.texts_of(names, "provider name")  # type: ignore[arg-type]  # None excluded just above
        return attrs.evolve(self, filters=attrs.evolve(self.filters, providers=texts))

    def created_between(self, start: datetime | None, end: datetime | None) -> Self:
        """``createdTimeUtc`` in ``[start, end)`` (aware datetimes; either may be None)."""
        window = Filters.window_of(start, end, "created_between")
        return attrs.evolve(self, filters=attrs.evolve(self.filters, created=window))

    def modified_between(self, start: datetime | None, end: datetime | None) -> Self:
        window = Filters.window_of(start, end, "modified_between")
        return attrs.evolve(self, filters=attrs.evolve(self.filters, modified=window))

    def max_items(self, n: int) -> Self:
        """Stop after ``n`` items; the run then says so (``IncidentRun.stopped_early``) and logs it."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise InvalidInputError(f"max_items={n!r}: expected a positive integer")
        return attrs.evolve(self, limit=n)

    def page(self, size: int) -> Self:
        """``$top`` per request (1..1000; the service may serve smaller pages)."""
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 1000:
            raise InvalidInputError(f"page size {size!r}: expected an integer from 1 to 1000")
        return attrs.evolve(self, page_size=size)

    def lag(self, value: timedelta) -> Self:
        """The overlap window: how far behind the poll start the watermark stays (the visibility-delay bound)."""
        if not isinstance(value, timedelta) or not timedelta(0) <= value <= _MAX_LAG:
            raise InvalidInputError(f"lag={value!r}: expected a timedelta from 0 to {_MAX_LAG.days} days")
        return attrs.evolve(self, lag_=value)

    def prefetch(self, enabled: bool) -> Self:
        """Request the next page while your code handles this one (default: on). The service's latency then
        overlaps your handling; the guarantees, order, checkpoints and errors are the same either way. A page is
        read one page earlier, so an incident your handler changes may still arrive in the state read before the
        change (as it can within one page); the next poll brings its current state. With ``max_items``, a page is
        prefetched only when the limit reaches past the current one."""
        if not isinstance(enabled, bool):
            raise InvalidInputError(f"prefetch={enabled!r}: expected True or False")
        return attrs.evolve(self, prefetch_=enabled)

    def audit(self, enabled: bool = True) -> Self:
        """Audit each pass for completeness (default: off): after the list, one Log Analytics query reads the
        newest ``SecurityIncident`` change of every incident modified in ``[watermark, next watermark)``; an
        incident the list did not serve there (offset pages shifted by a deletion during the pass, or a service
        ignoring ``$orderby``) is read with GET .../incidents/{id} and delivered in the same pass.

        Changes more than 30 days before the window's end are not audited (retention of ``SecurityIncident``).
        The window ends ``lag`` before the service's clock, which is how the audit waits out the Log Analytics
        ingestion delay: set ``lag`` to at least that delay. When a change the list served in the window has no
        row yet, or the answer is partial, the audit is unproven and the watermark does not advance (logged).
        Cost: one query per pass (plus one GET per missed incident). Needs read access to the workspace's
        ``SecurityIncident`` table (off by default for that reason)."""
        if not isinstance(enabled, bool):
            raise InvalidInputError(f"audit={enabled!r}: expected True or False")
        return attrs.evolve(self, audit_=enabled)

    def clock(self, now: Callable[[], datetime]) -> Self:
        """Where the poll start time comes from (default: the system clock, UTC).

        The next watermark becomes the earlier of this clock and the service's (the first page's ``Date``
        header), minus the lag, so a host clock running ahead of the service does not skip changes. Against the
        emulator with a pinned clock, pass ``.clock(emu.clock.now)``. Must return an aware datetime
        (InvalidInputError before any request otherwise)."""
        check_callable(now, "clock", 0, "a callable returning an aware datetime")
        return attrs.evolve(self, clock_=now)

    # --- terminal ----------------------------------------------------------------------------------------------
    def __iter__(self) -> IncidentRun:
        return self.run()

    def run(self) -> IncidentRun:
        """One poll: resume a cut-short pass if the checkpoint has one, else list changes since the watermark."""
        committer = _Committer(self.store)
        return IncidentRun(self, committer, self._start_checkpoint(committer))

    def identity(self) -> CheckpointIdentity:
        """What this stream's checkpoints are tied to: the workspace, ``arm/incidents`` and the filters."""
        return arm_incidents_identity(self.session.routes.workspace.resource_id, self.filters)

    def _start_checkpoint(self, committer: _Committer) -> Checkpoint:
        # The store's checkpoint (or the given one) checked against this stream before any request.
        start = (committer.load() if self.store is not None else None) or self.start or Checkpoint()
        if self.store is not None and start.identity is None and committer.version is not None:
            LOGGER.info("the stored checkpoint has no identity (format 1): adopted, the next commit records it")
        return start.for_stream(self.identity(), reuse_filters=self.reuse_filters_)

    def follow(
        self,
        *,
        interval: float = 60.0,
        stop: threading.Event | Callable[[], bool] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> Iterator[StreamedIncident]:
        """Poll forever: one pass, then wait ``interval`` seconds, until ``stop`` is set (a ``threading.Event``
        or a callable returning True) or the generator is closed (``break`` out of the loop).

        ``stop`` is checked after every item and between passes; waiting on an Event wakes up as soon as it is
        set. ``sleep`` (seconds) replaces the wait, e.g. in tests. Arguments are checked here, before any request
        (InvalidInputError)."""
        check_follow_args(interval, stop, sleep, threading.Event)
        return self._follow(float(interval), stop, sleep)

    def _follow(
        self,
        interval: float,
        stop: threading.Event | Callable[[], bool] | None,
        sleep: Callable[[float], None] | None,
    ) -> Iterator[StreamedIncident]:
        def wait(seconds: float) -> None:
            if sleep is not None:
                sleep(seconds)
            elif isinstance(stop, threading.Event):
                stop.wait(seconds)
            else:
                time.sleep(seconds)

        committer = _Committer(self.store)
        flow = self._follow_flow(committer, self._start_checkpoint(committer), interval, _stopper(stop))
        return self.session.http.iterate(flow, wait=wait)  # type: ignore[no-any-return]

    def _follow_flow(
        self, committer: _Committer, checkpoint: Checkpoint, interval: float, stopped: Callable[[], bool]
    ) -> Generator[Any, Any, None]:
        """``follow`` as a listing flow: passes until ``stopped()`` (checked after every item and between passes),
        a ``Sleep(interval)`` between them (the face waits, waking early on its stop event)."""
        while not stopped():
            run = RunState(checkpoint)
            if (yield from self._pass(checkpoint, committer, run, stopped)):
                return  # stopped mid-pass: what was committed is where the next start resumes
            checkpoint = run.checkpoint
            if run.stopped_early or stopped():
                return
            yield Sleep(interval)

    def get(self, incident_id: str) -> IncidentHandle:
        """A handle on one incident (no request yet): ``update``, ``close``, ``alerts``, ``entities``, ``comments``."""
        from ._handle import IncidentHandle

        return IncidentHandle(self.session, incident_id)

    def defender(self) -> DefenderIncidents:
        """The Defender XDR side of the same tenant over Microsoft Graph."""
        from ._graph import DefenderIncidents

        return DefenderIncidents(self.session)

    def reconcile(self, *, grace: timedelta = timedelta(minutes=15), repair: bool = False) -> ReconcileReport:
        """Compare Sentinel and Defender for this stream's incidents (one full pass, no checkpoint): a
        ``ReconcileReport`` of the status, classification, owner and label differences. A difference counts only
        when both sides were last changed more than ``grace`` ago (sync in flight is not drift). Read-only unless
        ``repair=True``: then PATCHes Defender to match Sentinel for the drifted fields and re-reads."""
        from ._reconcile import reconcile

        if not isinstance(repair, bool):
            raise InvalidInputError(f"repair={repair!r}: expected True or False")
        if not isinstance(grace, timedelta) or not timedelta(0) <= grace <= timedelta(days=365):
            raise InvalidInputError(f"grace={grace!r}: expected a non-negative timedelta (at most 365 days)")
        return reconcile(self, grace=grace, repair=repair)

    # --- the pass (I/O) ----------------------------------------------------------------------------------------
    def _requests(self) -> IncidentRequests:
        return IncidentRequests(self.session.routes)

    def list_spec(self, state: PassState) -> Any:
        """The first request of a pass (I/O-free; exposed for tests)."""
        # A resumed pass lists from the top too: bounded above by where it stopped, the incidents it already
        # delivered and that change meanwhile (your own updates) would leave the list and shift it left.
        flt = render_arm_filter(self.filters, modified_from=state.lower)
        return self._requests().list(filter=flt, orderby=_ORDER, top=self.page_size)

    def _pass(
        self, start: Checkpoint, committer: _Committer, run: RunState, stopped: Callable[[], bool] | None = None
    ) -> Generator[Any, Any, bool]:
        """One pass as a listing flow (``_transport._flow``): yields its requests and the ``StreamedIncident``s;
        returns True when ``stopped()`` said so after an item (the pass ends there, its end not committed)."""
        from ..models import Incident

        now = self.clock_()
        if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
            raise InvalidInputError(f"the stream's clock must return an aware datetime, got {now!r}")
        state = PassState.begin(start, now, self.lag_, audit=self.audit_)
        halted = False
        commit_fn = committer.commit if committer.store is not None else None
        matches = self.filters.matcher()
        from_json = Incident.from_json
        related = self.alerts_source is not None or self.entities_source is not None

        def candidates(values: Iterable[Any]) -> Iterator[tuple[Incident, tuple[str, datetime, str | None]]]:
            for value in values:
                inc = from_json(value)
                key = _key(inc)
                if state.in_window(key[0], key[1]) and matches(inc) and state.should_deliver(*key):
                    yield inc, key

        def next_page_needed(page: dict[str, Any]) -> bool:
            if not self.prefetch_:
                return False
            return self.limit is None or run.delivered + len(page.get("value") or ()) < self.limit

        def deliver(
            fresh: Iterator[tuple[Incident, tuple[str, datetime, str | None]]], more: bool
        ) -> Generator[Any, Any, bool]:
            """Yield ``fresh`` items (with their related data); True when ``max_items`` cut the pass short
            (``more``: whether anything is left to read after them) or ``stopped()`` said so."""
            nonlocal halted
            alerts: dict[str, tuple[IncidentAlert, ...]] | None = None
            entities: dict[str, tuple[Entity, ...]] | None = None
            if related:
                remaining = None if self.limit is None else self.limit - run.delivered
                batch = list(itertools.islice(fresh, remaining))  # related data only for what can be delivered
                alerts, entities = yield from self._related([inc for inc, _ in batch])
                fresh = itertools.chain(batch, fresh)
            for inc, key in fresh:
                if related and not state.should_deliver(*key):
                    continue  # the same change twice in the batch (the lazy path checked it just now)
                position = state.delivered(*key)
                if related:
                    name = key[0].lower()
                    yield StreamedIncident(
                        inc,
                        alerts.get(name, ()) if alerts is not None else None,
                        entities.get(name, ()) if entities is not None else None,
                        position=position,
                        commit_fn=commit_fn,
                    )
                else:
                    yield StreamedIncident(inc, None, None, position=position, commit_fn=commit_fn)
                # The caller came back for more: this item is handled, and the run's checkpoint may pass it.
                run._position = position
                run.delivered += 1
                if stopped is not None and stopped():
                    halted = True
                    return True
                # Cut short only if something is left: the rest of this batch, or more to read.
                if self.limit is not None and run.delivered >= self.limit and (next(fresh, None) is not None or more):
                    run.stopped_early = True
                    LOGGER.info("incident stream stopped at max_items=%d; resume from the run's checkpoint", self.limit)
                    return True
            return False

        def listing() -> Generator[Any, Any, bool]:
            reader = PageReader(self.list_spec(state))
            while (got := (yield from reader.next(next_page_needed))) is not None:
                page, response = got
                state.page(service_time(response.headers))
                if state.pages == 1:  # before the first delivery: a watermark ahead of the service's clock skips
                    start.check_clock(service_time(response.headers) or now)
                # One incident at a time: holding a page of typed incidents makes the garbage collector re-scan
                # them on every young collection (it doubled the cost per incident). Related data needs the batch.
                more = bool(page.get("nextLink")) or self.audit_ or state.refuted
                if (yield from deliver(candidates(_values(page)), more)):
                    return True
            return False

        if (yield from listing()):
            return halted
        if state.refuted:
            LOGGER.warning(
                "incident stream: a resumed pass found the list out of order, so the position it resumed from is "
                "not trusted; listing the window again (changes delivered before the cut may be delivered again)"
            )
            state.drop_position()
            if (yield from listing()):
                return halted
        if self.audit_:
            found = yield from self._audit(state)
            if (yield from deliver(candidates(found), False)):
                return halted
        if state.out_of_order and not state.audited:
            LOGGER.warning(
                "incident stream: the service did not serve the list newest first; the watermark stays at %s "
                "(enable .audit() to confirm such passes)",
                state.lower,
            )
        done = state.finished()
        # The pass-end checkpoint is committed for the caller only when it committed the last delivered item
        # (its handling is then complete), so a crash never commits past unhandled work.
        if committer.store is not None and (run.delivered == 0 or committer.last_committed is _built(run._position)):
            committer.commit(done)
        run._position = done
        return False

    def _audit(self, state: PassState) -> Flow[list[Any]]:
        """The completeness audit (``_audit``): one Log Analytics query, then GET each incident the list missed.
        Marks ``state.audited`` when the audit source vouches for the whole window."""
        from .._errors import NotFoundError
        from ..models import QueryResult
        from ._audit import audit_kql, reconcile_audit

        upper = state.clock_bound()
        if upper is None or (state.lower is not None and upper <= state.lower):
            state.audited = True  # an empty window: the watermark cannot move anyway
            return []
        # Log Analytics keeps SecurityIncident for its retention only: older changes are not audited.
        lower = max(state.lower or upper - _AUDIT_HORIZON, upper - _AUDIT_HORIZON)
        reqs = self._requests()
        span_end = max(upper, state.start_bound or upper) + timedelta(days=1)
        customer_id = yield from self.session.customer_id()
        spec = reqs.audit(customer_id, audit_kql(lower, upper), lower, span_end)
        result = QueryResult.from_json((yield from send_query(spec)))
        if result.is_partial or not result.tables:
            LOGGER.warning("incident stream audit: partial or empty answer; the watermark stays")
            return []
        verdict = reconcile_audit(result.tables[0].iter_dicts(), state.served or {}, self.filters, lower, upper)
        found: list[Any] = []
        for name in verdict.missing:
            try:
                found.append((yield from send_json(reqs.get(name))))
            except NotFoundError:
                continue  # deleted since: its latest state is gone
        if verdict.unproven:
            LOGGER.warning(
                "incident stream audit: %d changes the list served are not in SecurityIncident yet (ingestion "
                "slower than the lag?); the watermark stays",
                verdict.unproven,
            )
        else:
            state.audited = True
        if found:
            LOGGER.warning("incident stream audit: the list missed %d incidents; delivering them now", len(found))
        return found

    def _related(
        self, incidents: Sequence[Incident]
    ) -> Flow[tuple[dict[str, tuple[IncidentAlert, ...]] | None, dict[str, tuple[Entity, ...]] | None]]:
        """Alerts and entities per incident name (lower case), each from its chosen source; None when not asked."""
        bulk_alerts: dict[str, tuple[IncidentAlert, ...]] = {}
        bulk_entities: dict[str, tuple[Entity, ...]] = {}
        if incidents and "log_analytics" in (self.alerts_source, self.entities_source):
            bulk_alerts, bulk_entities = yield from self._bulk_related(incidents)
        alerts: dict[str, tuple[Any, ...]] | None = None
        entities: dict[str, tuple[Any, ...]] | None = None
        if self.alerts_source is not None:
            alerts = (
                bulk_alerts
                if self.alerts_source == "log_analytics"
                else (yield from self._per_incident(incidents, "alerts"))
            )
        if self.entities_source is not None:
            entities = (
                bulk_entities
                if self.entities_source == "log_analytics"
                else (yield from self._per_incident(incidents, "entities"))
            )
        return alerts, entities

    def _per_incident(self, incidents: Sequence[Incident], what: str) -> Flow[dict[str, tuple[Any, ...]]]:
        """POST .../alerts or .../entities for each incident (rate-limited by the service: about 100 per 5 min)."""
        from ..models import IncidentAlert, IncidentEntities

        reqs = self._requests()
        out: dict[str, tuple[Any, ...]] = {}
        for inc in incidents:
            name = inc.name or ""
            if what == "alerts":
                body = yield from send_json(reqs.alerts(name))
                out[name.lower()] = IncidentAlert.list_from_json(body or {"value": []})
            else:
                body = yield from send_json(reqs.entities(name))
                out[name.lower()] = IncidentEntities.from_json(body or {}).entities
        return out

    def _bulk_related(
        self, incidents: Sequence[Incident]
    ) -> Flow[tuple[dict[str, tuple[IncidentAlert, ...]], dict[str, tuple[Entity, ...]]]]:
        """The alerts (and their entities) of a page of incidents from Log Analytics, complete (``_alerts``)."""
        from ._alerts import bulk_related

        customer_id = yield from self.session.customer_id()
        return (
            yield from bulk_related(
                self._requests(),
                customer_id,
                incidents,
                now=self.clock_(),
                per_incident=self._per_incident,
                alerts=self.alerts_source == "log_analytics",
                entities=self.entities_source == "log_analytics",
            )
        )


def check_follow_args(interval: Any, stop: Any, sleep: Any, *events: type) -> None:
    """``follow``'s arguments (``events``: the Event types the face accepts), InvalidInputError before any request."""
    if (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not math.isfinite(interval)
        or interval < 0
    ):
        raise InvalidInputError(f"interval={interval!r}: expected a finite number of seconds >= 0")
    if stop is not None and not isinstance(stop, events):
        names = " or ".join(f"{e.__module__.split('.')[0]}.{e.__name__}" for e in events)
        check_callable(stop, "stop", 0, f"a {names} or a callable returning a bool")
    if sleep is not None:
        check_callable(sleep, "sleep", 1, "a callable taking seconds")


def _stopper(stop: Any) -> Callable[[], bool]:
    """``stop`` (None, an Event of either face, or a callable) as a check."""
    if stop is None:
        return lambda: False
    if callable(getattr(stop, "is_set", None)):
        return stop.is_set  # type: ignore[no-any-return]
    return lambda: bool(stop())


def _source(value: str) -> str:
    if value not in ("log_analytics", "per_incident"):
        raise InvalidInputError(f"source={value!r}: expected 'log_analytics' or 'per_incident'")
    return value


def _values(page: Any) -> list[Any]:
    values = page.get("value", [])
    if not isinstance(values, list):
        raise SerializationError(f"an incidents page's 'value' must be an array, got {type(values).__name__}")
    return values


def _built(position: Checkpoint | Snapshot) -> Checkpoint | None:
    # The checkpoint of the last delivery if anybody asked for it (a commit did), without building it otherwise.
    return position if isinstance(position, Checkpoint) else position._built


def _key(incident: Incident) -> tuple[str, datetime, str | None]:
    # The name (from the id when the body left it out: the converter) is what dedupe, checkpoints and reads go by:
    # nameless incidents would all be one incident, and every one after the first skipped.
    if not incident.name:
        raise SerializationError(
            f"an incident in the list has no name and no id to take it from (id={incident.id!r}, "
            f"title={incident.title!r}): it cannot be deduplicated, checkpointed or read again"
        )
    modified = incident.last_modified_time_utc or incident.created_time_utc or _EPOCH
    return incident.name, modified, incident.etag
