"""Fleet: one desired state planned, applied, checked and verified over many workspaces, possibly in many tenants.

What both faces share lives here: the workspace list (parsed and checked before any request), the desired state
(``ConnectorCore``'s own fluent methods, on a connector that holds it), the per-workspace flow, and the report. Each
face only runs the flows with bounded concurrency: threads on the sync face, asyncio tasks on ``m365sentinel.aio``.
One workspace failing never aborts or hides the others: its error is its result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import attrs

from ._api_versions import ApiVersions
from ._connector import ConnectorCore, ConnectorStatus, _Desired
from ._errors import InvalidInputError
from ._ids import WorkspaceId, validate_guid
from ._inputs import check_callable, check_int
from ._plan import ApplyResult, Plan
from ._transport._flow import Flow

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from ._fleet_incidents import FleetIncidents
    from ._fleet_query import FleetQueryResult
    from ._session import Session  # noqa: F401 (named in the base class FleetCore["Session"])
    from ._verify import VerificationReport

__all__ = ["Fleet", "FleetReport", "FleetTarget", "WorkspaceResult", "parse_workspaces"]

SessionT = TypeVar("SessionT")
OPERATIONS = ("plan", "apply", "status", "verify")
DEFAULT_CONCURRENCY = 16


@attrs.frozen
class FleetTarget:
    """One workspace of a fleet and, when known, its tenant (the Defender tenant of ``Connector(tenant_id=)``)."""

    workspace: WorkspaceId
    tenant_id: str | None = None


def parse_workspaces(text: str) -> list[FleetTarget]:
    """A workspaces file: one ARM workspace resource id a line, optionally a tenant id (GUID) after it (blank-
    separated); ``#`` starts a comment; blank lines are skipped. InvalidInputError naming the line for a malformed
    id, tenant or extra field, and for a workspace listed twice."""
    if not isinstance(text, str):
        raise InvalidInputError(f"text={text!r:.100}: expected the workspaces file's text")
    found: list[FleetTarget] = []
    text = text.removeprefix("\ufeff")  # a byte-order mark (Windows PowerShell writes one) is not part of line 1
    for number, raw in enumerate(text.splitlines(), 1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) > 2:
            raise InvalidInputError(
                f"line {number}: {raw.strip()!r:.200}: expected '<workspace resource id> [<tenant id>]'"
            )
        try:
            found.append(_target((fields[0], fields[1] if len(fields) == 2 else None)))
        except InvalidInputError as exc:
            raise InvalidInputError(f"line {number}: {exc}") from None
    return _unique(found)


def _target(item: object) -> FleetTarget:
    if isinstance(item, FleetTarget):
        return item
    if isinstance(item, tuple) and len(item) == 2:
        tenant = validate_guid(item[1], "tenant_id") if item[1] is not None else None
        return FleetTarget(WorkspaceId.parse(item[0]), tenant)
    if isinstance(item, str | WorkspaceId):
        return FleetTarget(WorkspaceId.parse(item))
    raise InvalidInputError(
        f"workspace {item!r:.200}: expected a resource id, a WorkspaceId or a (resource id, tenant id) pair"
    )


def _unique(targets: list[FleetTarget]) -> list[FleetTarget]:
    seen: set[str] = set()
    for t in targets:
        key = t.workspace.resource_id.lower()
        if key in seen:
            raise InvalidInputError(f"workspace {t.workspace.resource_id!r} is listed twice; list each workspace once")
        seen.add(key)
    if not targets:
        raise InvalidInputError("no workspaces: expected at least one workspace resource id")
    return targets


@attrs.frozen
class WorkspaceResult:
    """One workspace's outcome: ``value`` (a ``Plan``, ``ApplyResult``, ``ConnectorStatus`` or
    ``VerificationReport``, by operation) or ``error`` (the exception the operation raised; nothing else of the
    fleet is affected)."""

    workspace: str
    tenant_id: str | None
    operation: str
    value: Plan | ApplyResult | ConnectorStatus | VerificationReport | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def due(self) -> bool:
        """Something needs doing: a plan with changes or manual steps, a connector not connected, a verification
        not all ingesting. False for a failed workspace (see ``error``) and after ``apply``."""
        v = self.value
        if isinstance(v, Plan):
            return not v.is_empty
        if isinstance(v, ConnectorStatus):
            return not v.connected
        if v is not None and not isinstance(v, ApplyResult):
            return not v.all_ingesting
        return False

    def summary(self) -> str:
        """One line: the verdict for this workspace."""
        if self.error is not None:
            return f"FAILED {type(self.error).__name__}: {_one_line(str(self.error))}"
        v = self.value
        if isinstance(v, Plan):
            head = f"{len(v.changes)} change(s), {len(v.manual_steps)} manual step(s)"
            return head + (f", {len(v.blockers)} blocker(s)" if v.blockers else "")
        if isinstance(v, ApplyResult):
            return f"applied {v.writes} change(s)"
        if isinstance(v, ConnectorStatus):
            return f"onboarded {'yes' if v.onboarded else 'no'}, connected {'yes' if v.connected else 'no'}"
        if v is not None:
            return "all ingesting" if v.all_ingesting else "not all ingesting"
        return "no result"

    def to_dict(self) -> dict[str, Any]:
        v = self.value
        if isinstance(v, ApplyResult):
            body: Any = {"applied": [c.to_dict() for c in v.applied], "etags": list(v.etags)}
        elif isinstance(v, ConnectorStatus):
            body = {"onboarded": v.onboarded, "connected": v.connected, "text": str(v)}
        else:
            body = v.to_dict() if v is not None else None
        error = None
        if self.error is not None:
            error = {"type": type(self.error).__name__, "message": str(self.error)}
        return {
            "workspace": self.workspace,
            "tenantId": self.tenant_id,
            "ok": self.ok,
            "due": self.due,
            "summary": self.summary(),
            "error": error,
            "result": body,
        }


def _one_line(text: str) -> str:
    return "; ".join(part.strip(" -") for part in text.splitlines() if part.strip(" -"))


@attrs.frozen
class FleetReport:
    """Every workspace's ``WorkspaceResult``, in the order the fleet lists them."""

    operation: str
    results: tuple[WorkspaceResult, ...]

    @property
    def failed(self) -> tuple[WorkspaceResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    @property
    def due(self) -> tuple[WorkspaceResult, ...]:
        return tuple(r for r in self.results if r.due)

    @property
    def exit_code(self) -> int:
        """1 when any workspace failed, else 3 when anything is due, else 0 (the CLI's exit code)."""
        return 1 if self.failed else 3 if self.due else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "total": len(self.results),
            "failed": len(self.failed),
            "due": len(self.due),
            "workspaces": [r.to_dict() for r in self.results],
        }

    def to_json(self) -> str:
        """``to_dict()`` as JSON text (``m365sentinel plan --workspaces FILE --json``)."""
        return json.dumps(self.to_dict(), indent=2, default=str)

    def __str__(self) -> str:
        lines = [f"{self.operation} over {len(self.results)} workspace(s)"]
        lines += [f"  {r.workspace}: {r.summary()}" for r in self.results]
        return "\n".join(lines)


Progress = Callable[[int, int, WorkspaceResult], Any]


def _check_operation(operation: str, days: int) -> None:
    if operation not in OPERATIONS:
        raise InvalidInputError(f"operation={operation!r}: expected one of {', '.join(OPERATIONS)}")
    check_int(days, "days", 1, 90)


def workspace_flow(c: ConnectorCore, operation: str, days: int) -> Flow[Any]:
    """One workspace's operation as a flow, driven alike by both faces.

    It reads the workspace first (GET workspace, resolving its ``customerId`` that queries need anyway): a missing
    workspace is NotFoundError here, where the Sentinel routes alone would read it as "not onboarded"."""
    yield from c._session.customer_id()
    if operation == "plan":
        return (yield from c._plan_flow(lambda p: c._run(c._apply_flow(p))))
    if operation == "apply":
        plan = yield from c._plan_flow(lambda p: None)
        return (yield from c._apply_flow(plan))
    if operation == "status":
        return (yield from c._status_flow())
    return (yield from c._verify_flow(days))


class FleetCore(Generic[SessionT]):
    """What ``Fleet`` and ``m365sentinel.aio.Fleet`` share: the constructor and its checks, the targets, the desired
    state and the connectors. The fluent methods are ``Connector``'s own (the same checks, the same desired state):
    each returns a new fleet.
    """

    @staticmethod
    def _face() -> tuple[type, type[ConnectorCore]]:
        """The face's Session and Connector types (imported when used: the face modules import this one)."""
        raise NotImplementedError

    _connector_type: type[ConnectorCore]

    def __init__(
        self,
        workspaces: Iterable[str | WorkspaceId | tuple[str, str | None] | FleetTarget],
        *,
        session: SessionT,
        credentials: Mapping[str, Any] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        api_versions: ApiVersions | None = None,
        progress: Progress | None = None,
    ) -> None:
        session_type, self._connector_type = self._face()
        if not isinstance(session, session_type):
            face = "m365sentinel.aio" if session_type.__module__.startswith("m365sentinel.aio") else "m365sentinel"
            raise InvalidInputError(f"session must be a {face}.Session, got {session!r:.100}")
        if isinstance(workspaces, str | bytes) or not isinstance(workspaces, Iterable):
            raise InvalidInputError(
                f"workspaces={workspaces!r:.100}: expected a list of resource ids, not one string or a non-list "
                "(a workspaces file: parse_workspaces(text))"
            )
        self._targets = _unique([_target(w) for w in workspaces])
        self._session = session
        self._http = session._http  # type: ignore[attr-defined]
        if credentials is not None and not isinstance(credentials, Mapping):
            raise InvalidInputError(f"credentials={credentials!r:.100}: expected {{tenant id: credential}} or None")
        # One client twin per tenant credential, sharing the session's pool and token cache (checked here).
        self._twins: dict[str, Any] = {}
        for tenant, credential in (credentials or {}).items():
            key = validate_guid(tenant, "credentials tenant id")
            self._twins[key] = self._http.with_credential(credential, tenant_id=key)
        self._concurrency = check_int(concurrency, "concurrency", 1, 256)
        if api_versions is not None and not isinstance(api_versions, ApiVersions):
            raise InvalidInputError(f"api_versions must be a m365sentinel.ApiVersions or None, got {api_versions!r}")
        self._api_versions = api_versions
        if progress is not None:
            check_callable(progress, "progress", 3, "a callable progress(done, total, result) or None")
        self._progress = progress
        # The desired state is held by a connector of the first workspace: its fluent methods check and build it.
        self._desired_by = self._connector_type._of_session(self._http, self._targets[0].workspace, None, api_versions)

    @property
    def workspaces(self) -> tuple[FleetTarget, ...]:
        return tuple(self._targets)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._targets)} workspaces, concurrency={self._concurrency})"

    def _evolve(self, desired_by: ConnectorCore) -> Self:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._desired_by = desired_by
        return new

    # --- fluent desired state: Connector's methods (docstrings there) -------------------------------------------
    def incidents_and_alerts(self, **kwargs: Any) -> Self:
        """``Connector.incidents_and_alerts`` for every workspace."""
        return self._evolve(self._desired_by.incidents_and_alerts(**kwargs))

    def entities(self, **kwargs: Any) -> Self:
        """``Connector.entities`` for every workspace."""
        return self._evolve(self._desired_by.entities(**kwargs))

    def events(self, *tables: Any, **kwargs: Any) -> Self:
        """``Connector.events`` for every workspace."""
        return self._evolve(self._desired_by.events(*tables, **kwargs))

    def solution(self) -> Self:
        """``Connector.solution`` for every workspace."""
        return self._evolve(self._desired_by.solution())

    def analytics_rules(self, *rules: Any, **kwargs: Any) -> Self:
        """``Connector.analytics_rules`` for every workspace."""
        return self._evolve(self._desired_by.analytics_rules(*rules, **kwargs))

    # --- per workspace ---------------------------------------------------------------------------------------
    def _client_for(self, target: FleetTarget) -> Any:
        return self._twins.get(target.tenant_id or "", self._http)

    def _connector(self, target: FleetTarget) -> ConnectorCore:
        c = self._connector_type._of_session(
            self._client_for(target), target.workspace, target.tenant_id, self._api_versions
        )
        desired: _Desired = self._desired_by._desired
        return c._with(**attrs.asdict(desired, recurse=False))

    def _result(self, target: FleetTarget, operation: str, value: Any, error: Exception | None) -> WorkspaceResult:
        return WorkspaceResult(target.workspace.resource_id, target.tenant_id, operation, value, error)


class Fleet(FleetCore["Session"]):
    """Many workspaces, possibly in many tenants, configured and checked together over one ``Session``.

    ::

        from m365sentinel import Fleet, Session

        with Session(credential=credential) as session:
            fleet = Fleet(workspace_ids, session=session, concurrency=16).incidents_and_alerts().events(
                "DeviceEvents")
            report = fleet.plan()
            print(report)             # one line per workspace
            print(report.to_json())   # the JSON report

    Parameters:
        workspaces: resource ids, ``WorkspaceId``s, ``(resource id, tenant id)`` pairs or ``FleetTarget``s
            (``parse_workspaces(text)`` reads a workspaces file). A tenant id given is the workspace's Defender
            tenant (as ``Connector(tenant_id=)``).
        session: the ``Session`` whose pool and token cache every workspace shares (not closed by the fleet).
        credentials: ``{tenant id: TokenCredential}`` for workspaces of tenants the session's credential cannot
            reach (tokens asked for that tenant, over the same pool). Azure Lighthouse delegates Azure RBAC only:
            plan, status, verify and tables work through it; connecting the Defender XDR connector needs a Global or
            Security Administrator of the workspace's tenant (plan() reports it as a blocker before any write).
        concurrency: workspaces in flight at once (1-256, default 16; threads).
        progress: ``progress(done, total, result)`` after each workspace, from the calling thread.

    ``plan()``, ``apply()``, ``status()``, ``verify()`` return a ``FleetReport``: one ``WorkspaceResult`` per
    workspace, in order; a workspace's error (any SentinelError, NotFoundError for a missing workspace) is its
    result and never stops the others. Raises InvalidInputError for bad input, before any request.
    """

    @staticmethod
    def _face() -> tuple[type, type[ConnectorCore]]:
        from ._connector import Connector
        from ._session import Session

        return Session, Connector

    def plan(self) -> FleetReport:
        """Each workspace's ``Connector.plan()`` (reads only; plus GET workspace). Each ``Plan`` can be applied."""
        return self.run("plan")

    def apply(self) -> FleetReport:
        """Each workspace's ``Connector.apply()``: a fresh plan, applied (PreflightError while it has blockers)."""
        return self.run("apply")

    def status(self) -> FleetReport:
        """Each workspace's ``Connector.status()``."""
        return self.run("status")

    def verify(self, *, days: int = 14) -> FleetReport:
        """Each workspace's ``Connector.verify(days=)``."""
        return self.run("verify", days=days)

    def incidents(self) -> FleetIncidents:
        """Every workspace's ``IncidentStream``, merged into one stream (``FleetIncidents``; sends nothing yet)."""
        from ._fleet_incidents import FleetIncidents
        from ._incidents import IncidentStream

        return FleetIncidents(self, IncidentStream.for_session(self._connector(self._targets[0])._session))

    def run(self, operation: str, *, days: int = 14) -> FleetReport:
        """``operation`` ("plan", "apply", "status" or "verify") over every workspace, ``concurrency`` at a time."""
        _check_operation(operation, days)
        total = len(self._targets)
        results: list[WorkspaceResult | None] = [None] * total

        def one(i: int) -> int:
            target = self._targets[i]
            try:
                c = self._connector(target)
                value, error = c._run(workspace_flow(c, operation, days)), None
            except Exception as exc:  # this workspace's result; the others go on
                value, error = None, exc
            results[i] = self._result(target, operation, value, error)
            return i

        with ThreadPoolExecutor(max_workers=min(self._concurrency, total), thread_name_prefix="fleet") as pool:
            futures = [pool.submit(one, i) for i in range(total)]
            for done, future in enumerate(as_completed(futures), 1):
                i = future.result()
                if self._progress is not None:
                    self._progress(done, total, results[i])  # type: ignore[arg-type]
        return FleetReport(operation, tuple(r for r in results if r is not None))

    def query(
        self,
        query: Any,
        *,
        timespan: timedelta | tuple[datetime, datetime] | str | None = None,
        batch_size: int = 10,
    ) -> FleetQueryResult:
        """One KQL query over every workspace: Log Analytics cross-workspace queries (POST
        /v1/workspaces/{customerId}/query, no api-version, the ``workspaces`` body parameter listing the batch's
        others), ``batch_size`` workspaces a request (1-100, default 10), ``concurrency`` requests at a time.

        ``query``: KQL text or a ``m365sentinel.kql`` query that starts with one table and reads no other (the SDK
        wraps it as ``workspace("<id>").<query> | extend WorkspaceId = "<id>"`` per workspace, so each row says
        where it came from); ``timespan`` as for ``Connector.query``. A batch the service refuses as too large, or
        cuts at the result size limit, is asked again in halves (see ``FleetQueryResult.batches``).

        Returns a ``FleetQueryResult``: per workspace its ``QueryResult`` (with the ``WorkspaceId`` column) or its
        error (NotFoundError for a missing workspace, QueryError for a workspace the service could not query or a
        partial answer naming no workspace), plus ``combined``. Raises InvalidInputError before any request.
        """
        from ._fleet_query import FleetQuery

        job = FleetQuery(self, query, timespan, batch_size)
        cids = self._gather(job.resolve_jobs())
        return job.result(cids, self._gather(job.batch_jobs(cids)))

    def _gather(self, jobs: list[tuple[Callable[[Any], Any], Any]]) -> list[Any]:
        """Each ``run(flow)`` of ``jobs``, ``concurrency`` at a time: its value or the exception it raised."""

        def one(job: tuple[Callable[[Any], Any], Any]) -> Any:
            try:
                return job[0](job[1])
            except Exception as exc:  # that job's result; the others go on
                return exc

        if not jobs:
            return []
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(jobs)), thread_name_prefix="fleet") as pool:
            return list(pool.map(one, jobs))
