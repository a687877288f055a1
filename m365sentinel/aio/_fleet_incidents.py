"""``m365sentinel.aio`` fleet incidents: the async shell over ``FleetIncidentsCore`` (the same streams, stores,
merge and pass-end rule as ``m365sentinel.FleetIncidents``; each workspace read by an asyncio task,
``concurrency`` at a time)."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Self

from .._fleet_incidents import End, FleetIncident, FleetIncidentsCore, Merge, ended, failure
from ._incidents import IncidentRun

if TYPE_CHECKING:
    from .._fleet import FleetTarget
    from .._incidents._stream import IncidentStream, StreamedIncident

__all__ = ["FleetIncidentRun", "FleetIncidents"]


class FleetIncidents(FleetIncidentsCore):
    """The async ``m365sentinel.FleetIncidents`` (``aio.Fleet.incidents()``): the same fluent calls, stores,
    merge and errors; iterated with ``async for`` (each pass an async ``FleetIncidentRun``).

    ::

        async for item in fleet.incidents().since(stores).with_alerts():
            await handle(item.workspace, item.incident)
            item.commit()
    """

    def __aiter__(self) -> FleetIncidentRun:
        return self.run()

    def run(self) -> FleetIncidentRun:
        """One pass over every workspace (``async for item in run``); ``await run.aclose()`` ends it early."""
        return FleetIncidentRun(self, self._plans())


class _Pump:
    """The tasks' side of an async run (held apart from the run, so a dropped run cancels its tasks)."""

    def __init__(self, core: FleetIncidents, plans: list[tuple[FleetTarget, IncidentStream]]) -> None:
        self.core = core
        self.plans = plans
        self.merge = Merge(len(plans), core._buffer)
        self.tasks: list[asyncio.Task[None]] = []
        self.changed = asyncio.Event()

    def start(self) -> None:
        gate = asyncio.Semaphore(self.core._concurrency(len(self.plans)))
        self.tasks = [asyncio.ensure_future(self.one(i, gate)) for i in range(len(self.plans))]

    def cancel(self) -> None:
        for t in self.tasks:
            with contextlib.suppress(RuntimeError):  # the loop is closed already: nothing runs any more
                t.cancel()

    async def wait(self) -> None:
        await self.changed.wait()
        self.changed.clear()

    async def one(self, i: int, gate: asyncio.Semaphore) -> None:
        async with gate:
            end = await self.read(i)
        self.merge.put(i, end)
        self.changed.set()

    async def read(self, i: int) -> End:
        target, stream = self.plans[i]
        run: IncidentRun | None = None
        last: StreamedIncident | None = None
        try:
            committer, start = self.core._start(stream)
            run = IncidentRun(stream, committer, start)  # type: ignore[arg-type]
            async for item in run:
                last = item
                while not self.merge.room(i):
                    await self.wait()
                ws = target.workspace.resource_id
                self.merge.put(i, FleetIncident(ws, target.tenant_id, item, guard=contextlib.nullcontext()))
                self.changed.set()
            return End(None, committer, run, last)
        except Exception as exc:  # this workspace's failure: reported at the end of the pass
            return End(exc)
        finally:
            if run is not None:
                await run.aclose()


class FleetIncidentRun(AsyncIterator[FleetIncident]):
    """One pass of an async fleet stream; ``delivered``, ``errors`` as on ``m365sentinel.FleetIncidentRun``. The
    workspace tasks start at the first ``__anext__`` (in the running loop); a run dropped unfinished cancels them."""

    def __init__(self, core: FleetIncidents, plans: list[tuple[FleetTarget, IncidentStream]]) -> None:
        self._pump: _Pump | None = None
        self._closed = False
        self._core, self._plans = core, plans
        self._ids = [t.workspace.resource_id for t, _ in plans]
        self.delivered: dict[str, int] = dict.fromkeys(self._ids, 0)
        self.errors: dict[str, Exception] = {}

    async def __anext__(self) -> FleetIncident:
        if self._pump is None:
            self._pump = _Pump(self._core, self._plans)
            self._pump.start()
            weakref.finalize(self, self._pump.cancel)
        pump = self._pump
        if self._closed:  # closed: what was read ahead is not handed over
            raise StopAsyncIteration
        while True:
            while (got := pump.merge.take()) is None and not pump.merge.finished:
                await pump.wait()
            pump.changed.set()  # room in a queue
            if got is None:
                await self.aclose()
                if self.errors:
                    raise failure(self.errors)
                raise StopAsyncIteration
            i, entry = got
            if isinstance(entry, FleetIncident):
                self.delivered[self._ids[i]] += 1
                return entry
            if (error := ended(entry, contextlib.nullcontext())) is not None:
                self.errors[self._ids[i]] = error

    async def aclose(self) -> None:
        """End the pass (idempotent): the workspace tasks are cancelled; what was committed stays."""
        self._closed = True
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(*self._pump.tasks, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
