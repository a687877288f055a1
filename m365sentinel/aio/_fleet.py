"""``m365sentinel.aio.Fleet``: the async shell over ``FleetCore`` (the same targets, desired state, flows and
report as ``m365sentinel.Fleet``; workspaces run as asyncio tasks, ``concurrency`` at a time)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from .._connector import ConnectorCore
from .._fleet import (
    FleetCore,
    FleetReport,
    FleetTarget,
    WorkspaceResult,
    _check_operation,
    workspace_flow,
)
from .._fleet_query import FleetQuery, FleetQueryResult
from ._fleet_incidents import FleetIncidents
from ._incidents import IncidentStream
from ._session import Session

__all__ = ["Fleet"]


class Fleet(FleetCore[Session]):
    """The async ``m365sentinel.Fleet``: the same constructor (``session`` an ``aio.Session``; ``credentials``
    values ``azure.identity.aio`` credentials), fluent calls and ``FleetReport``; terminal calls are awaited.

    ::

        async with aio.Session(credential=credential) as session:
            report = await aio.Fleet(workspace_ids, session=session).incidents_and_alerts().plan()
    """

    @staticmethod
    def _face() -> tuple[type, type[ConnectorCore]]:
        from ._connector import Connector

        return Session, Connector

    async def plan(self) -> FleetReport:
        """``m365sentinel.Fleet.plan``, awaited; each ``aio.Plan`` can be applied (``await plan.apply()``)."""
        return await self.run("plan")

    async def apply(self) -> FleetReport:
        """``m365sentinel.Fleet.apply``, awaited."""
        return await self.run("apply")

    async def status(self) -> FleetReport:
        """``m365sentinel.Fleet.status``, awaited."""
        return await self.run("status")

    async def verify(self, *, days: int = 14) -> FleetReport:
        """``m365sentinel.Fleet.verify``, awaited."""
        return await self.run("verify", days=days)

    def incidents(self) -> FleetIncidents:
        """``m365sentinel.Fleet.incidents`` as an async stream (``async for``; sends nothing yet)."""
        return FleetIncidents(self, IncidentStream.for_session(self._connector(self._targets[0])._session))

    async def run(self, operation: str, *, days: int = 14) -> FleetReport:
        """``m365sentinel.Fleet.run``, awaited."""
        _check_operation(operation, days)
        total = len(self._targets)
        gate = asyncio.Semaphore(self._concurrency)
        done = 0

        async def one(target: FleetTarget) -> WorkspaceResult:
            nonlocal done
            async with gate:
                try:
                    c = self._connector(target)
                    value, error = await c._run(workspace_flow(c, operation, days)), None
                except Exception as exc:  # this workspace's result; the others go on
                    value, error = None, exc
            result = self._result(target, operation, value, error)
            done += 1
            if self._progress is not None:
                self._progress(done, total, result)
            return result

        results = await asyncio.gather(*(one(t) for t in self._targets))
        return FleetReport(operation, tuple(results))

    async def query(
        self,
        query: Any,
        *,
        timespan: timedelta | tuple[datetime, datetime] | str | None = None,
        batch_size: int = 10,
    ) -> FleetQueryResult:
        """``m365sentinel.Fleet.query``, awaited (the same batches, requests and result)."""
        job = FleetQuery(self, query, timespan, batch_size)
        cids = await self._gather(job.resolve_jobs())
        return job.result(cids, await self._gather(job.batch_jobs(cids)))

    async def _gather(self, jobs: list[tuple[Callable[[Any], Awaitable[Any]], Any]]) -> list[Any]:
        gate = asyncio.Semaphore(self._concurrency)

        async def one(job: tuple[Callable[[Any], Awaitable[Any]], Any]) -> Any:
            async with gate:
                try:
                    return await job[0](job[1])
                except Exception as exc:  # that job's result; the others go on
                    return exc

        return list(await asyncio.gather(*(one(j) for j in jobs)))
