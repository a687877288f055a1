"""The async incident objects: ``IncidentStream`` (``async for``, ``follow()``), its run, handles, the Graph side.

Each is the sync class over the same flows (``_transport._flow``), driven by the async client; what differs is
only how a caller waits: ``await`` and ``async for``. Checkpoint stores stay synchronous (local files, SQLite,
memory: quick calls), so ``item.commit()`` is a plain call on both faces.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

import attrs

from .._errors import InvalidInputError
from .._incidents._checkpoint import Checkpoint
from .._incidents._graph import DefenderIncidents as _SyncDefenderIncidents
from .._incidents._handle import IncidentHandle as _SyncIncidentHandle
from .._incidents._handle import UpdateResult
from .._incidents._reconcile import ReconcileReport, reconcile_flow
from .._incidents._stream import IncidentStream as _SyncIncidentStream
from .._incidents._stream import RunState, StreamedIncident, _Committer, _stopper, check_follow_args

if TYPE_CHECKING:
    from ..models import Entity, GraphAlert, GraphIncident, Incident, IncidentAlert, IncidentComment

__all__ = ["DefenderIncidents", "IncidentHandle", "IncidentRun", "IncidentStream"]

P = ParamSpec("P")
R = TypeVar("R")


def _same_arguments(
    sync: Callable[Concatenate[Any, P], Any],
) -> Callable[[Callable[..., Awaitable[R]]], Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]]:
    """Give an async method the parameters of its sync twin, the one definition of them (type checkers and
    ``inspect.signature`` see the sync keywords; the async body passes them on)."""

    def adopt(method: Callable[..., Awaitable[R]]) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]:
        method.__signature__ = inspect.signature(sync).replace(  # type: ignore[attr-defined]
            return_annotation=inspect.signature(method).return_annotation
        )
        return cast("Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]", method)

    return adopt


class IncidentRun(RunState, AsyncIterator[StreamedIncident]):
    """One pass of an async stream (``async for item in stream``); ``checkpoint``, ``stopped_early`` and
    ``delivered`` as on ``m365sentinel.IncidentRun``. ``aclose()`` ends it early (what was handled stays covered)."""

    def __init__(self, stream: IncidentStream, committer: _Committer, start: Checkpoint) -> None:
        super().__init__(start)
        self._gen: AsyncIterator[StreamedIncident] = stream.session.http.iterate(stream._pass(start, committer, self))

    def __anext__(self) -> Awaitable[StreamedIncident]:
        return self._gen.__anext__()  # the generator's own awaitable: no coroutine frame per item

    async def aclose(self) -> None:
        """End the pass early (``m365sentinel.IncidentRun.close``'s twin): what was committed stays."""
        await self._gen.aclose()  # type: ignore[attr-defined]


async def _wait_thread_event(event: threading.Event, seconds: float) -> None:
    """Wait ``seconds`` or until ``event`` (set from another thread) is set, as the sync face's ``event.wait``
    does. Polled in short sleeps: a worker thread blocked in ``event.wait`` would outlive a cancelled task and
    hold up the loop's shutdown for the rest of the interval."""
    deadline = time.monotonic() + seconds
    while not event.is_set() and (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(left, _EVENT_POLL))


_EVENT_POLL = 0.05  # seconds between looks at a threading.Event during follow()'s wait


@attrs.frozen(kw_only=True)
class IncidentStream(_SyncIncidentStream):
    """The async ``m365sentinel.IncidentStream``: the same fluent calls, checks and guarantees; iterate it with
    ``async for`` (each pass an async ``IncidentRun``), poll with ``async for item in stream.follow(...)``.

    ::

        async for item in connector.incidents().since(store).with_alerts():
            await handle(item.incident, item.alerts)
            item.commit()
    """

    def __iter__(self) -> Any:
        raise TypeError("an m365sentinel.aio IncidentStream is iterated with 'async for'")

    def __aiter__(self) -> IncidentRun:
        return self.run()

    def run(self) -> IncidentRun:  # type: ignore[override]
        """One poll (see ``m365sentinel.IncidentStream.run``), iterated with ``async for``."""
        committer = _Committer(self.store)
        return IncidentRun(self, committer, self._start_checkpoint(committer))

    def follow(  # type: ignore[override]
        self,
        *,
        interval: float = 60.0,
        stop: asyncio.Event | threading.Event | Callable[[], bool] | None = None,
        sleep: Callable[[float], Awaitable[None] | None] | None = None,
    ) -> AsyncIterator[StreamedIncident]:
        """``m365sentinel.IncidentStream.follow`` as ``async for``: one pass, then wait ``interval`` seconds, until
        ``stop`` (an ``asyncio.Event``, a ``threading.Event`` set from another thread, or a callable returning True) is
        set or the loop is left; setting either Event also ends the wait early. ``sleep`` (seconds; may return an
        awaitable) replaces the wait. Arguments are checked here, before any request (InvalidInputError)."""
        check_follow_args(interval, stop, sleep, asyncio.Event, threading.Event)

        async def wait(seconds: float) -> None:
            if sleep is not None:
                waited = sleep(seconds)
                if inspect.isawaitable(waited):
                    await waited
            elif isinstance(stop, asyncio.Event):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), seconds)
            elif isinstance(stop, threading.Event):
                await _wait_thread_event(stop, seconds)
            else:
                await asyncio.sleep(seconds)

        committer = _Committer(self.store)
        flow = self._follow_flow(committer, self._start_checkpoint(committer), float(interval), _stopper(stop))
        return cast("AsyncIterator[StreamedIncident]", self.session.http.iterate(flow, wait=wait))

    def get(self, incident_id: str) -> IncidentHandle:
        """An async ``m365sentinel.IncidentStream.get``: a handle on one incident (no request yet)."""
        return IncidentHandle(self.session, incident_id)

    def defender(self) -> DefenderIncidents:
        """An async ``m365sentinel.IncidentStream.defender``: the Defender XDR side over Microsoft Graph."""
        return DefenderIncidents(self.session)

    async def reconcile(  # type: ignore[override]
        self, *, grace: timedelta = timedelta(minutes=15), repair: bool = False
    ) -> ReconcileReport:
        """``m365sentinel.IncidentStream.reconcile``, awaited."""
        if not isinstance(repair, bool):
            raise InvalidInputError(f"repair={repair!r}: expected True or False")
        if not isinstance(grace, timedelta) or not timedelta(0) <= grace <= timedelta(days=365):
            raise InvalidInputError(f"grace={grace!r}: expected a non-negative timedelta (at most 365 days)")
        report: ReconcileReport = await self.session.run(reconcile_flow(self, grace=grace, repair=repair))
        return report


class IncidentHandle(_SyncIncidentHandle):
    """The async ``m365sentinel`` incident handle: the same methods, requests and errors, awaited."""

    async def get(self) -> Incident:  # type: ignore[override]
        """``m365sentinel.IncidentHandle.get``, awaited: GET {ws}/incidents/{id} -> ``Incident``. Raises
        NotFoundError, APIStatusError, TransportError."""
        return cast("Incident", await self._session.run(self._get()))

    @_same_arguments(_SyncIncidentHandle.update)
    async def update(self, **changes: Any) -> UpdateResult:  # type: ignore[override]
        """``m365sentinel.IncidentHandle.update`` (the same typed keyword arguments, checks and errors), awaited ->
        ``UpdateResult``."""
        return cast(UpdateResult, await cast(Any, super().update(**changes)))

    async def close(  # type: ignore[override]
        self,
        *,
        classification: str,
        reason: str | None = None,
        comment: str | None = None,
        base: Incident | None = None,
        mirror_to_defender: bool = False,
    ) -> UpdateResult:
        """``m365sentinel.IncidentHandle.close`` (a classification and a reason that fits it), awaited ->
        ``UpdateResult``."""
        result = super().close(
            classification=classification,
            reason=reason,
            comment=comment,
            base=base,
            mirror_to_defender=mirror_to_defender,
        )
        return cast(UpdateResult, await cast(Any, result))

    async def alerts(self) -> tuple[IncidentAlert, ...]:  # type: ignore[override]
        """``m365sentinel.IncidentHandle.alerts``, awaited: POST {ws}/incidents/{id}/alerts -> ``IncidentAlert``s."""
        return cast("tuple[IncidentAlert, ...]", await self._session.run(self._alerts()))

    async def entities(self) -> tuple[Entity, ...]:  # type: ignore[override]
        """``m365sentinel.IncidentHandle.entities``, awaited: POST {ws}/incidents/{id}/entities -> ``Entity``s."""
        return cast("tuple[Entity, ...]", await self._session.run(self._entities()))

    async def comments(self) -> tuple[IncidentComment, ...]:  # type: ignore[override]
        """``m365sentinel.IncidentHandle.comments``, awaited: GET {ws}/incidents/{id}/comments (every page) ->
        ``IncidentComment``s."""
        return cast("tuple[IncidentComment, ...]", await self._session.run(self._comments()))

    async def add_comment(self, message: str, *, comment_id: str | None = None) -> IncidentComment:  # type: ignore[override]
        """``m365sentinel.IncidentHandle.add_comment``, awaited: PUT {ws}/incidents/{id}/comments/{commentId} ->
        ``IncidentComment``."""
        return cast("IncidentComment", await cast(Any, super().add_comment(message, comment_id=comment_id)))


class DefenderIncidents(_SyncDefenderIncidents):
    """The async Defender XDR side over Graph: listings are async iterators, single calls are awaited."""

    def incidents(  # type: ignore[override]
        self, *, since: datetime | None = None, with_alerts: bool = False
    ) -> AsyncIterator[GraphIncident]:
        """``m365sentinel.DefenderIncidents.incidents`` as an ``async for`` over ``GraphIncident``s updated at or
        after ``since``."""
        return cast("AsyncIterator[GraphIncident]", super().incidents(since=since, with_alerts=with_alerts))

    def alerts(self, *, since: datetime | None = None) -> AsyncIterator[GraphAlert]:  # type: ignore[override]
        """``m365sentinel.DefenderIncidents.alerts`` as an ``async for`` over ``GraphAlert``s (``alerts_v2``)
        updated at or after ``since``."""
        return cast("AsyncIterator[GraphAlert]", super().alerts(since=since))

    async def get(self, incident_id: str, *, with_alerts: bool = False) -> GraphIncident:  # type: ignore[override]
        """``m365sentinel.DefenderIncidents.get``, awaited: GET /v1.0/security/incidents/{id} -> ``GraphIncident``."""
        return cast("GraphIncident", await cast(Any, super().get(incident_id, with_alerts=with_alerts)))

    async def patch(self, incident_id: str, body: Mapping[str, Any]) -> GraphIncident:  # type: ignore[override]
        """``m365sentinel.DefenderIncidents.patch``, awaited: PATCH then GET /v1.0/security/incidents/{id} ->
        ``GraphIncident``."""
        return cast("GraphIncident", await cast(Any, super().patch(incident_id, body)))
