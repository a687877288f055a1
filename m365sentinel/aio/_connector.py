"""``m365sentinel.aio.Connector`` and its ``Plan``: the async shell over ``ConnectorCore``'s flows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from .._api_versions import ApiVersions
from .._connector import ConnectorCore, ConnectorStatus, DisconnectResult, _KqlText, _query_text_and_span
from .._ids import WorkspaceId
from .._plan import ApplyResult
from .._plan import Plan as _SyncPlan
from .._transport import Cloud, RetryPolicy
from ._session import Session

if TYPE_CHECKING:
    from .._content import RuleTemplate
    from .._verify import VerificationReport
    from ..models import QueryResult
    from ._incidents import IncidentStream

__all__ = ["Connector", "Plan"]


@attrs.frozen(eq=False)
class Plan(_SyncPlan):
    """``m365sentinel.Plan`` whose ``apply()`` is awaited (same changes, order, checks and errors)."""

    _turns: list[asyncio.Lock] = attrs.field(factory=list, repr=False, init=False)  # one lock, made on first apply

    async def apply(self) -> ApplyResult:  # type: ignore[override]
        """``m365sentinel.Plan.apply``, awaited: send the changes in order (see ``Connector.plan``); idempotent: an
        applied plan returns its result.

        Tasks applying one plan at once take turns: the first writes, the others get its result (or, when it
        failed, try again as a later call would).

        Raises PreflightError (blockers), StalePlanError, PartialApplyError, APIStatusError subclasses."""
        if self._applier is None:
            raise RuntimeError("this plan is not bound to a connector")
        if not self._turns:
            self._turns.append(asyncio.Lock())
        async with self._turns[0]:
            if self._result:
                return self._result[0]
            result: ApplyResult = await self._applier(self)  # type: ignore[misc]
            self._result.append(result)
            return result


class Connector(ConnectorCore):
    """The async ``m365sentinel.Connector``: the same constructor, fluent calls and results; terminal calls are
    awaited, and ``incidents()`` is an async stream.

    ::

        from azure.identity.aio import DefaultAzureCredential
        from m365sentinel.aio import Connector

        async with DefaultAzureCredential() as credential, Connector(workspace, credential=credential) as connector:
            plan = await connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True).plan()
            await plan.apply()
            async for item in connector.incidents().since(store):
                ...

    Parameters as ``m365sentinel.Connector``'s, except: ``credential`` is an ``azure.identity.aio`` credential (or
    a mapping ``{Audience: credential}`` of them; a sync credential is InvalidInputError; ``None``:
    ``azure.identity.aio.DefaultAzureCredential``, closed with the connector: it needs aiohttp, the ``aio`` extra,
    else MissingExtraError), ``transport`` an
    ``httpx.AsyncBaseTransport`` (the emulator's ``async_transport()``), ``sleep`` may return an awaitable
    (default ``asyncio.sleep``).
    """

    __slots__ = ()

    def __init__(
        self,
        workspace: str | WorkspaceId,
        *,
        credential: Any = None,
        tenant_id: str | None = None,
        cloud: str | Cloud = "AzureCloud",
        graph: str | None = None,
        api_versions: ApiVersions | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: Any = None,
        sleep: Callable[[float], Awaitable[None] | None] | None = None,
    ) -> None:
        self._own(
            Session, workspace, tenant_id, api_versions, credential, cloud, graph, retry, timeout, transport, sleep
        )

    # --- lifecycle -------------------------------------------------------------------------------------------
    async def close(self) -> None:
        """``m365sentinel.Connector.close``, awaited: close the HTTP client every fluent copy shares (and the default
        credential it made); for a connector from ``aio.Session.connector``, nothing (the session owns the pool)."""
        if self._session.owns_http:
            await self._session.http.aclose()

    async def __aenter__(self) -> Connector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- terminal calls (docstrings: m365sentinel.Connector) ----------------------------------------------------
    def _plan_type(self) -> type[_SyncPlan]:
        return Plan

    async def plan(self) -> Plan:
        """``m365sentinel.Connector.plan``, awaited; ``await plan.apply()`` sends the changes."""
        plan: Plan = await self._run(self._plan_flow(lambda p: self._run(self._apply_flow(p))))
        return plan

    async def apply(self) -> ApplyResult:
        """``m365sentinel.Connector.apply``: ``await (await plan()).apply()`` in one call -> ``ApplyResult``."""
        return await (await self.plan()).apply()

    async def status(self) -> ConnectorStatus:
        """``m365sentinel.Connector.status``, awaited."""
        status: ConnectorStatus = await self._run(self._status_flow())
        return status

    async def list_tables(self) -> list[dict[str, Any]]:
        """``m365sentinel.Connector.list_tables``, awaited."""
        tables: list[dict[str, Any]] = await self._run(self._list(self._session.routes.list_tables()))
        return tables

    async def verify(self, *, days: int = 14) -> VerificationReport:
        """``m365sentinel.Connector.verify``, awaited."""
        report: VerificationReport = await self._run(self._verify_flow(days))
        return report

    async def disconnect(self) -> DisconnectResult:
        """``m365sentinel.Connector.disconnect``, awaited."""
        result: DisconnectResult = await self._run(self._disconnect_flow())
        return result

    async def query(
        self, query: str | _KqlText, *, timespan: timedelta | tuple[datetime, datetime] | str | None = None
    ) -> QueryResult:
        """``m365sentinel.Connector.query``, awaited (InvalidInputError before any request)."""
        text, span = _query_text_and_span(query, timespan)
        result: QueryResult = await self._run(self._run_query(text, span))
        return result

    async def run_hunting_query(
        self, kql: str | _KqlText, *, timespan: timedelta | tuple[datetime, datetime] | str | None = None
    ) -> QueryResult:
        """``m365sentinel.Connector.run_hunting_query``, awaited (InvalidInputError before any request)."""
        result: QueryResult = await self._run(self._hunting_query_flow(kql, timespan))
        return result

    async def list_rule_templates(self, *, connector_id: str = "MicrosoftThreatProtection") -> list[RuleTemplate]:
        """``m365sentinel.Connector.list_rule_templates``, awaited."""
        templates: list[RuleTemplate] = await self._run(self._rule_templates_flow(connector_id))
        return templates

    def incidents(self) -> IncidentStream:
        """An async ``m365sentinel.Connector.incidents``: an ``aio.IncidentStream`` (``async for``) over this
        workspace's incidents; sends nothing yet."""
        from ._incidents import IncidentStream

        return IncidentStream.for_session(self._session)
