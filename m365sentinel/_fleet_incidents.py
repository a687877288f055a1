"""Incidents across a fleet: one ``IncidentStream`` per workspace, one checkpoint each, merged delivery.

What both faces share lives here: the fluent configuration (``IncidentStream``'s own methods, on a template
stream), the per-workspace streams and their stores (checked before any request), the merge (``Merge``: which
workspace's item goes next, I/O-free) and the pass-end rule (``settle``). Each face only pumps the streams: worker
threads on the sync face, asyncio tasks on ``m365sentinel.aio``, ``concurrency`` workspaces at a time.

Rules: a workspace's stream runs as it would alone (its own checkpoint store, identity check, filters, retries);
items are interleaved round robin over the workspaces with an item ready, so none starves another; a workspace
whose stream fails is reported at the end of the pass (``FleetIncidentsError``) after the others were delivered,
and its checkpoint holds only what the caller committed.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

import attrs

from ._errors import FleetIncidentsError, InvalidInputError
from ._incidents._checkpoint import Checkpoint
from ._incidents._stores import CheckpointStore
from ._incidents._stream import IncidentRun, IncidentStream, RunState, StreamedIncident, _built, _Committer
from ._inputs import check_callable, check_int

if TYPE_CHECKING:
    from ._fleet import FleetCore, FleetTarget
    from .models import Entity, Incident, IncidentAlert

__all__ = ["FleetIncident", "FleetIncidentRun", "FleetIncidents", "FleetIncidentsCore", "Merge", "settle"]

_NOT_COMMITTED = Checkpoint()  # never any item's checkpoint
DEFAULT_BUFFER = 100  # items read ahead per workspace, waiting for the caller
Stores = Callable[[str], CheckpointStore] | Mapping[str, CheckpointStore]


@attrs.frozen
class FleetIncident:
    """One delivered change of one workspace: ``workspace`` (its resource id), ``tenant_id`` (as the fleet lists
    it), the ``StreamedIncident`` fields (``incident``, ``alerts``, ``entities``, ``id``, ``checkpoint``) and
    ``commit()``, which compare-and-swaps ``checkpoint`` into that workspace's store only."""

    workspace: str
    tenant_id: str | None
    item: StreamedIncident = attrs.field(repr=False)
    _guard: AbstractContextManager[Any] = attrs.field(repr=False, eq=False, alias="guard")

    @property
    def incident(self) -> Incident:
        return self.item.incident

    @property
    def alerts(self) -> tuple[IncidentAlert, ...] | None:
        return self.item.alerts

    @property
    def entities(self) -> tuple[Entity, ...] | None:
        return self.item.entities

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def checkpoint(self) -> Checkpoint:
        """Where this workspace's stream resumes once this item is handled (``StreamedIncident.checkpoint``)."""
        with self._guard:  # the workspace's stream may be reading ahead in a worker: build it between its steps
            return self.item.checkpoint

    def commit(self) -> None:
        """``StreamedIncident.commit`` for this item's workspace: InvalidInputError without stores,
        CheckpointConflictError when another worker advanced that workspace's checkpoint."""
        with self._guard:
            self.item.commit()


@attrs.frozen
class End:
    """The end of one workspace's pass, queued after its last item: ``error`` (None: the pass completed)."""

    error: Exception | None
    committer: _Committer | None = None
    run: RunState | None = None
    last: StreamedIncident | None = None


class Merge:
    """Which workspace's item goes next (I/O-free, shared by both faces; the caller holds the face's lock).

    Each workspace has a queue of at most ``capacity`` entries (items, then its ``End``); ``take`` serves the
    workspaces round robin, starting after the one served last and skipping those with nothing ready, so a slow
    workspace delays no other and a busy one cannot starve the rest."""

    def __init__(self, workspaces: int, capacity: int) -> None:
        self.queues: list[deque[Any]] = [deque() for _ in range(workspaces)]
        self.capacity = capacity
        self.ended = 0  # End entries taken
        self._next = 0

    def room(self, i: int) -> bool:
        return len(self.queues[i]) < self.capacity

    def put(self, i: int, entry: Any) -> None:
        self.queues[i].append(entry)

    def take(self) -> tuple[int, Any] | None:
        """The next ``(workspace index, entry)``, or None while no workspace has one ready."""
        n = len(self.queues)
        for k in range(n):
            i = (self._next + k) % n
            if self.queues[i]:
                self._next = (i + 1) % n
                entry = self.queues[i].popleft()
                if isinstance(entry, End):
                    self.ended += 1
                return i, entry
        return None

    @property
    def finished(self) -> bool:
        return self.ended == len(self.queues)


def settle(end: End) -> None:
    """The pass-end checkpoint of one workspace, committed once the caller committed the workspace's last item
    (as ``IncidentStream`` does when the caller comes back for more); never past an item not committed. A pass
    that delivered nothing committed its end itself; a pass cut short by ``max_items`` keeps its position."""
    committer, run, last = end.committer, end.run, end.last
    if committer is None or run is None or last is None or committer.store is None or run.stopped_early:
        return
    done = run.checkpoint
    if committer.last_committed is not done and committer.last_committed is _built(last._position):
        committer.commit(done)


def ended(end: End, guard: AbstractContextManager[Any]) -> Exception | None:
    """A workspace's pass as the merge reaches its ``End``: its error, or the pass-end commit's (under ``guard``,
    the workspace's lock on the sync face), or None."""
    if end.error is not None:
        return end.error
    try:
        with guard:
            settle(end)
    except Exception as exc:  # a conflict committing the pass end: this workspace's failure
        return exc
    return None


def failure(errors: dict[str, Exception]) -> FleetIncidentsError:
    lines = "".join(f"\n - {ws}: {type(e).__name__}: {e}" for ws, e in errors.items())
    return FleetIncidentsError(
        f"{len(errors)} workspace(s) failed; the others were delivered, their checkpoints stand:{lines}", errors=errors
    )


class FleetIncidentsCore:
    """What ``Fleet.incidents()`` and ``aio.Fleet.incidents()`` share (immutable: every fluent call returns a new
    one). The fluent methods are ``IncidentStream``'s own, applied to every workspace's stream."""

    def __init__(self, fleet: FleetCore[Any], template: IncidentStream) -> None:
        self._fleet = fleet
        self._template = template
        self._stores: Stores | None = None
        self._buffer = DEFAULT_BUFFER

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._fleet._targets)} workspaces, filters={self._template.filters!r})"

    def _evolve(self, **changes: Any) -> Self:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for name, value in changes.items():
            setattr(new, "_" + name, value)
        return new

    def _t(self, template: IncidentStream) -> Self:
        return self._evolve(template=template)

    # --- fluent: IncidentStream's methods (docstrings there) ------------------------------------------------------
    def since(
        self,
        stores: Stores | datetime | None,
        *,
        initial: datetime | None = None,
        reuse_filters: bool = False,
    ) -> Self:
        """Where each workspace's stream starts: ``stores``, a ``{workspace resource id: CheckpointStore}`` mapping
        listing every workspace, or a callable ``store_for(resource id) -> CheckpointStore`` (called once per
        workspace and pass, before any request; e.g. ``lambda ws: SQLiteCheckpointStore(db, name=ws)``); each
        ``item.commit()`` swaps into its workspace's store only, and each store's checkpoint must belong to its
        workspace (CheckpointError for that workspace otherwise). An aware datetime: every workspace from then,
        no store. ``initial`` and ``reuse_filters``: as ``IncidentStream.since``, for every workspace. A single
        ``Checkpoint`` belongs to one workspace: InvalidInputError."""
        if isinstance(stores, Checkpoint | CheckpointStore | str | dict) and not isinstance(stores, Mapping):
            raise InvalidInputError(
                f"stores={stores!r:.100}: a checkpoint belongs to one workspace; expected "
                "{workspace resource id: CheckpointStore}, a callable(resource id) -> CheckpointStore, an aware "
                "datetime or None"
            )
        if isinstance(stores, Mapping) or callable(stores):
            if isinstance(stores, Mapping):
                self._check_mapping(stores)
            else:
                check_callable(stores, "stores", 1, "a callable(resource id) -> CheckpointStore")
            template = self._template.since(_Placeholder(), initial=initial, reuse_filters=reuse_filters)
            return self._evolve(stores=stores, template=template)
        if initial is not None:
            raise InvalidInputError("since(..., initial=) applies to checkpoint stores only")
        return self._evolve(stores=None, template=self._template.since(stores, reuse_filters=reuse_filters))

    def _check_mapping(self, stores: Mapping[Any, Any]) -> None:
        by_key = {str(k).lower(): v for k, v in stores.items()}
        listed = [t.workspace.resource_id for t in self._fleet._targets]
        missing = [ws for ws in listed if ws.lower() not in by_key]
        extra = sorted(set(by_key) - {ws.lower() for ws in listed})
        if missing or extra:
            raise InvalidInputError(
                f"stores: expected one CheckpointStore per fleet workspace; missing {missing[:3]!r}, "
                f"not in the fleet {extra[:3]!r}"
            )

    def with_alerts(self, *, source: str = "log_analytics") -> Self:
        """``IncidentStream.with_alerts`` for every workspace."""
        return self._t(self._template.with_alerts(source=source))

    def with_entities(self, *, source: str = "log_analytics") -> Self:
        """``IncidentStream.with_entities`` for every workspace."""
        return self._t(self._template.with_entities(source=source))

    def severity(self, *values: str) -> Self:
        return self._t(self._template.severity(*values))

    def status(self, *values: str) -> Self:
        return self._t(self._template.status(*values))

    def owner(self, *values: str) -> Self:
        return self._t(self._template.owner(*values))

    def labels(self, *values: str) -> Self:
        return self._t(self._template.labels(*values))

    def provider(self, *names: str | None) -> Self:
        return self._t(self._template.provider(*names))

    def created_between(self, start: datetime | None, end: datetime | None) -> Self:
        return self._t(self._template.created_between(start, end))

    def modified_between(self, start: datetime | None, end: datetime | None) -> Self:
        return self._t(self._template.modified_between(start, end))

    def max_items(self, n: int) -> Self:
        """``IncidentStream.max_items``, per workspace: each workspace's stream stops after ``n`` items."""
        return self._t(self._template.max_items(n))

    def page(self, size: int) -> Self:
        return self._t(self._template.page(size))

    def lag(self, value: timedelta) -> Self:
        return self._t(self._template.lag(value))

    def prefetch(self, enabled: bool) -> Self:
        return self._t(self._template.prefetch(enabled))

    def audit(self, enabled: bool = True) -> Self:
        return self._t(self._template.audit(enabled))

    def clock(self, now: Callable[[], datetime]) -> Self:
        return self._t(self._template.clock(now))

    def buffer(self, items: int) -> Self:
        """Items read ahead per workspace while the caller handles others (1-10,000, default 100): memory is at
        most ``concurrency`` x (``buffer`` + one page)."""
        return self._evolve(buffer=check_int(items, "buffer", 1, 10_000))

    # --- per workspace ---------------------------------------------------------------------------------------
    def _plans(self) -> list[tuple[FleetTarget, IncidentStream]]:
        """Each workspace's stream over its own client, with its store; InvalidInputError before any request for a
        store that is not a CheckpointStore or serves two workspaces."""
        plans: list[tuple[FleetTarget, IncidentStream]] = []
        by_key = {str(k).lower(): v for k, v in self._stores.items()} if isinstance(self._stores, Mapping) else None
        seen: dict[int, str] = {}
        for target in self._fleet._targets:
            ws = target.workspace.resource_id
            stream = attrs.evolve(self._template, session=self._fleet._connector(target)._session)
            if self._stores is not None:
                store = by_key[ws.lower()] if by_key is not None else _call_store_for(self._stores, ws)
                if not isinstance(store, CheckpointStore):
                    raise InvalidInputError(f"the store for {ws}: {store!r:.100} is not a CheckpointStore")
                if id(store) in seen:
                    raise InvalidInputError(
                        f"one store serves workspaces {seen[id(store)]} and {ws}: expected one store per workspace "
                        "(e.g. SQLiteCheckpointStore(db, name=<resource id>))"
                    )
                seen[id(store)] = ws
                stream = attrs.evolve(stream, store=store)
            plans.append((target, stream))
        return plans

    def _start(self, stream: IncidentStream) -> tuple[_Committer, Checkpoint]:
        """A workspace's committer and its checked start (store loaded, identity checked; CheckpointError)."""
        committer = _Committer(stream.store)
        start = stream._start_checkpoint(committer)
        # The stream commits its pass end when the caller "came back" from its last item without committing it,
        # and the caller here is the worker reading ahead: only a commit by the caller may count (``settle``).
        committer.last_committed = _NOT_COMMITTED
        return committer, start

    def _concurrency(self, total: int) -> int:
        return min(self._fleet._concurrency, total)


def _call_store_for(store_for: Any, ws: str) -> Any:
    try:
        return store_for(ws)
    except Exception as exc:  # the caller's function: its failure is bad input, named, before any request
        raise InvalidInputError(
            f"stores({ws!r}) raised {type(exc).__name__}: {exc}: expected a callable(resource id) -> CheckpointStore"
        ) from exc


class _Placeholder:
    """Stands for the per-workspace stores in the template (replaced per workspace before any pass)."""

    def load(self) -> None:  # pragma: no cover - never loaded: every workspace's stream gets its own store
        raise AssertionError("placeholder store")

    def compare_and_swap(self, expected_version: str | None, checkpoint: Checkpoint) -> str:  # pragma: no cover
        raise AssertionError("placeholder store")


class FleetIncidents(FleetIncidentsCore):
    """Incidents of every workspace of a ``Fleet`` as one resumable stream (``fleet.incidents()``): one
    ``IncidentStream`` per workspace (same fluent configuration, each its own checkpoint), merged.

    ::

        stores = lambda ws: SQLiteCheckpointStore("fleet.db", name=ws)   # one checkpoint per workspace
        for item in fleet.incidents().since(stores).with_alerts().severity("High"):
            handle(item.workspace, item.incident, item.alerts)
            item.commit()                      # that workspace's checkpoint only: exactly-once per change

    Requests: each workspace's ``IncidentStream`` requests (GET ``{ws}/incidents``, api-version ``incidents``,
    2025-09-01; its Log Analytics queries for alerts/entities), over the fleet's session and per-tenant
    credentials. ``concurrency`` workspaces are read at once, each in a worker thread that reads up to ``buffer``
    items (and its stream's prefetched page) ahead; items are handed over round robin over the workspaces with
    one ready, in each workspace's own order. A workspace whose stream fails (any error, CheckpointError for a
    foreign or corrupt checkpoint included) is reported, the others go on, and the pass ends with
    ``FleetIncidentsError`` (``errors`` by workspace) after every other item was handed over. A workspace's pass-end
    checkpoint is committed once its last item was committed, as ``IncidentStream`` does.
    Raises InvalidInputError (bad stores) before any request.
    """

    def __iter__(self) -> FleetIncidentRun:
        return self.run()

    def run(self) -> FleetIncidentRun:
        """One pass over every workspace (``for item in run``); ``close()`` (or ``with``) ends it early."""
        return FleetIncidentRun(self, self._plans())


class _Pump:
    """The workers' side of a sync run (held apart from the run, so a dropped run stops its workers)."""

    def __init__(self, core: FleetIncidentsCore, plans: list[tuple[FleetTarget, IncidentStream]]) -> None:
        self.core = core
        self.plans = plans
        self.merge = Merge(len(plans), core._buffer)
        self.cond = threading.Condition()
        self.locks = [threading.Lock() for _ in plans]
        self.todo = deque(range(len(plans)))
        self.stopped = False

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()

    def work(self) -> None:
        while True:
            with self.cond:
                if self.stopped or not self.todo:
                    return
                i = self.todo.popleft()
            end = self.one(i)
            with self.cond:
                self.merge.put(i, end)
                self.cond.notify_all()

    def one(self, i: int) -> End:
        target, stream = self.plans[i]
        lock = self.locks[i]
        run: IncidentRun | None = None
        last: StreamedIncident | None = None
        try:
            committer, start = self.core._start(stream)
            run = IncidentRun(stream, committer, start)
            while True:
                with lock:  # the stream's state moves only under the lock an item's checkpoint is built under
                    item = next(run, None)
                if item is None:
                    return End(None, committer, run, last)
                last = item
                wrapped = FleetIncident(target.workspace.resource_id, target.tenant_id, item, guard=lock)
                with self.cond:
                    while not self.stopped and not self.merge.room(i):
                        self.cond.wait()
                    if self.stopped:
                        return End(None)
                    self.merge.put(i, wrapped)
                    self.cond.notify_all()
        except Exception as exc:  # this workspace's failure: reported at the end of the pass
            return End(exc)
        finally:
            if run is not None:
                with lock:
                    run.close()


class FleetIncidentRun(Iterator[FleetIncident]):
    """One pass of a fleet stream: yields ``FleetIncident``s of every workspace, merged. ``delivered``: items
    handed over per workspace; ``errors``: the failed workspaces (raised as ``FleetIncidentsError`` when the pass
    ends). ``close()`` ends it early (what was committed stays; the workers stop after their request in flight)."""

    def __init__(self, core: FleetIncidents, plans: list[tuple[FleetTarget, IncidentStream]]) -> None:
        self._pump = _Pump(core, plans)
        self._ids = [t.workspace.resource_id for t, _ in plans]
        self.delivered: dict[str, int] = dict.fromkeys(self._ids, 0)
        self.errors: dict[str, Exception] = {}
        self._threads = [
            threading.Thread(target=self._pump.work, name=f"fleet-incidents-{k}", daemon=True)
            for k in range(core._concurrency(len(plans)))
        ]
        weakref.finalize(self, self._pump.stop)
        for t in self._threads:
            t.start()

    def __next__(self) -> FleetIncident:
        pump = self._pump
        if pump.stopped:  # closed: what was read ahead is not handed over
            raise StopIteration
        while True:
            with pump.cond:
                while (got := pump.merge.take()) is None and not pump.merge.finished:
                    pump.cond.wait()
                pump.cond.notify_all()  # room in a queue
            if got is None:
                self.close()
                if self.errors:
                    raise failure(self.errors)
                raise StopIteration
            i, entry = got
            if isinstance(entry, FleetIncident):
                self.delivered[self._ids[i]] += 1
                return entry
            if (error := ended(entry, pump.locks[i])) is not None:
                self.errors[self._ids[i]] = error

    def close(self) -> None:
        """End the pass (idempotent): the workers stop; what was committed stays."""
        self._pump.stop()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
