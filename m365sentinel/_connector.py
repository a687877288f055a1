"""Connector: the Microsoft 365 Defender (Defender XDR) data connector of one Sentinel workspace.

Immutable and fluent: ``incidents_and_alerts(...)`` returns a new Connector carrying the desired state; nothing is
sent until a terminal call (``plan``, ``apply``, ``status``, ``disconnect``, ``query``). Fluent copies share one HTTP
session (one httpx client, token caches, the resolved workspace GUID), closed by ``close()`` or ``with``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ._api_versions import ApiVersions
from ._errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PartialApplyError,
    PreconditionFailedError,
    PreflightError,
    StalePlanError,
)
from ._ids import WorkspaceId, validate_guid
from ._plan import (
    MTP_KIND,
    ApplyResult,
    Change,
    IncidentsAndAlerts,
    Observed,
    Plan,
    compute_changes,
)
from ._providers import provider_names
from ._routes import Routes
from ._timespan import to_timespan
from ._transport import Audience, Cloud, HttpClient, RetryPolicy

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from .models import (
        AlertRule,
        DataConnector,
        MicrosoftSecurityIncidentCreationRule,
        MicrosoftThreatProtectionConnector,
        QueryResult,
    )

__all__ = ["Connector", "ConnectorStatus", "DisconnectResult", "RuleStatus"]


class _KqlText(Protocol):
    def to_kql(self) -> str: ...


@attrs.frozen
class RuleStatus:
    """A Microsoft incident creation rule (``rule``: the typed model) and whether Defender XDR already creates
    incidents for its product (``covered``: then an enabled rule duplicates incidents)."""

    rule: MicrosoftSecurityIncidentCreationRule
    covered: bool

    @property
    def duplicates_incidents(self) -> bool:
        return self.covered and self.rule.enabled is True


@attrs.frozen
class ConnectorStatus:
    """``Connector.status()``: Sentinel onboarding, the MicrosoftThreatProtection connector (``None`` when not
    connected), the Microsoft incident creation rules, and evidence of unified Defender portal management."""

    workspace: str
    onboarded: bool
    connector: MicrosoftThreatProtectionConnector | None
    creation_rules: tuple[RuleStatus, ...]
    unified_portal_evidence: tuple[str, ...]

    @property
    def connected(self) -> bool:
        """True when the connector streams incidents (``dataTypes.incidents.state == Enabled``)."""
        return self.connector is not None and self.connector.incidents_state == "Enabled"

    def __str__(self) -> str:
        lines = [f"Workspace {self.workspace}", f"  Sentinel onboarded: {'yes' if self.onboarded else 'no'}"]
        c = self.connector
        if c is None:
            lines.append("  Microsoft 365 Defender connector: not connected")
        else:
            lines.append(
                f"  Microsoft 365 Defender connector {c.name}: incidents {c.incidents_state}, "
                f"alerts {c.alerts_state}, tenant {c.tenant_id}"
            )
        for r in self.creation_rules:
            flag = "enabled " if r.rule.enabled else "disabled"
            warn = "  <- duplicates Defender XDR incidents" if r.duplicates_incidents else ""
            lines.append(f"  incident creation rule {flag} {r.rule.display_name} [{r.rule.product_filter}]{warn}")
        lines += [f"  unified Defender portal: {e}" for e in self.unified_portal_evidence]
        return "\n".join(lines)


@attrs.frozen
class DisconnectResult:
    """``Connector.disconnect()``: ``deleted`` is False when there was no connector to delete (idempotent)."""

    deleted: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"Disconnected: deleted {', '.join(self.deleted)}" if self.deleted else "Disconnected: nothing to delete."
        )


class _Session:
    """State shared by a Connector and its fluent copies: the HTTP client and values resolved once."""

    def __init__(self, http: HttpClient, routes: Routes) -> None:
        self.http = http
        self.routes = routes
        self._lock = threading.Lock()
        self._customer_id: str | None = None
        self._home_tenant: str | None = None

    def customer_id(self) -> str:
        """The workspace GUID for the Log Analytics query API (``properties.customerId``), resolved once."""
        with self._lock:
            if self._customer_id is None:
                ws = self.http.send_json(self.routes.get_workspace())
                self._customer_id = validate_guid(
                    (ws.get("properties") or {}).get("customerId"), "workspace customerId"
                )
            return self._customer_id

    def home_tenant(self) -> str:
        """The tenant of the workspace's subscription (GET /subscriptions/{id} → ``tenantId``), resolved once."""
        with self._lock:
            if self._home_tenant is None:
                sub = self.http.send_json(self.routes.get_subscription())
                self._home_tenant = validate_guid(sub.get("tenantId"), "subscription tenantId")
            return self._home_tenant


class Connector:
    """The Microsoft 365 Defender data connector on one Sentinel workspace.

    ::

        from azure.identity import DefaultAzureCredential
        from m365sentinel import Connector

        workspace = "/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<ws>"
        with Connector(workspace,
                       credential=DefaultAzureCredential()) as connector:
            plan = connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True).plan()
            print(plan)
            plan.apply()

    Parameters:
        workspace: the workspace's ARM resource id (validated; InvalidInputError names a malformed one).
        credential: an azure-identity ``TokenCredential``, or a mapping ``{Audience: TokenCredential}`` when the
            audiences (ARM, Log Analytics, Graph) need different credentials. ``None``: ``DefaultAzureCredential``.
        tenant_id: the Defender tenant (GUID). Default: the workspace's home tenant (its subscription's tenant);
            a different one is a preflight blocker.
        cloud: ``"AzureCloud"`` or ``"AzureUSGovernment"``, or a ``Cloud`` (``Cloud.custom(...)`` for private clouds or
            the loopback emulator). ``graph``: the Microsoft 365 environment (``"Global"``, ``"GCC"``, ``"GCCHigh"``,
            ``"DoD"``). Azure China is refused (UnsupportedCloudError).
        api_versions, retry, timeout (seconds), transport (any httpx transport; the emulator plugs in here),
        sleep (how retries wait; injectable for tests, default ``time.sleep``).
    """

    __slots__ = ("_desired", "_session", "_tenant_id", "_workspace")
    _desired: IncidentsAndAlerts | None
    _session: _Session
    _tenant_id: str | None
    _workspace: WorkspaceId

    def __init__(
        self,
        workspace: str | WorkspaceId,
        *,
        credential: TokenCredential | Mapping[Audience, TokenCredential] | None = None,
        tenant_id: str | None = None,
        cloud: str | Cloud = "AzureCloud",
        graph: str | None = None,
        api_versions: ApiVersions | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: Any = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        ws = WorkspaceId.parse(workspace)
        tenant = validate_guid(tenant_id, "tenant_id") if tenant_id is not None else None
        if isinstance(cloud, Cloud):
            if graph is not None:
                raise InvalidInputError(
                    "graph= applies to a named cloud; a Cloud object already carries its Graph host"
                )
            resolved = cloud
        else:
            resolved = Cloud.resolve(cloud, graph=graph)
        if credential is None:
            from azure.identity import DefaultAzureCredential  # imported only when used (import cost)

            credential = DefaultAzureCredential()
        http = HttpClient(
            resolved,
            credential,
            retry=retry or RetryPolicy(),
            timeout=timeout,
            transport=transport,
            sleep=time.sleep if sleep is None else sleep,
        )
        routes = Routes(resolved, ws, api_versions or ApiVersions())
        self._init(ws, tenant, _Session(http, routes), None)

    def _init(self, ws: WorkspaceId, tenant: str | None, session: _Session, desired: IncidentsAndAlerts | None) -> None:
        object.__setattr__(self, "_workspace", ws)
        object.__setattr__(self, "_tenant_id", tenant)
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_desired", desired)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Connector is immutable: fluent methods return a new Connector")

    def _with(self, desired: IncidentsAndAlerts | None) -> Connector:
        new = object.__new__(Connector)
        new._init(self._workspace, self._tenant_id, self._session, desired)
        return new

    def __repr__(self) -> str:
        return f"Connector({self._workspace.resource_id!r}, cloud={self._session.routes.cloud.name!r})"

    # --- lifecycle -------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the shared HTTP client (every fluent copy shares it)."""
        self._session.http.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def workspace(self) -> WorkspaceId:
        return self._workspace

    # --- fluent desired state ---------------------------------------------------------------------------------
    def incidents_and_alerts(
        self, *, turn_off_microsoft_incident_creation_rules: bool = False, alerts: bool = True
    ) -> Connector:
        """Desire "Connect incidents and alerts"; optionally turn off the Microsoft incident creation rules of the
        products Defender XDR covers (the product list is data: ``_data/providers.json``). Sends nothing."""
        return self._with(IncidentsAndAlerts(turn_off_microsoft_incident_creation_rules, alerts))

    # --- reads --------------------------------------------------------------------------------------------------
    def _tenant(self) -> str:
        return self._tenant_id or self._session.home_tenant()

    def _list(self, spec: Any) -> list[dict[str, Any]]:
        return [item for page in self._session.http.iter_pages(spec) for item in page.get("value", [])]

    def _onboarded(self) -> bool:
        try:
            self._session.http.send_json(self._session.routes.get_onboarding_state())
        except NotFoundError:
            return False
        return True

    def _unified_portal_evidence(self) -> tuple[str, ...]:
        names = provider_names().unified_portal_providers
        flt = " or ".join(f"properties/providerName eq '{n.replace(chr(39), chr(39) * 2)}'" for n in names)
        page = self._session.http.send_json(self._session.routes.list_incidents(filter=flt, top=1))
        items = page.get("value", []) if isinstance(page, dict) else []
        if items:
            name = (items[0].get("properties") or {}).get("providerName")
            return (f"incidents arrive under provider name {name!r}",)
        return ()

    def _observe(self) -> Observed:
        from .models import AlertRule, DataConnector, DataConnectorRequirements  # models load on first use

        r, http = self._session.routes, self._session.http
        tenant = self._tenant()
        onboarded = self._onboarded()
        requirements = DataConnectorRequirements()
        connectors: list[DataConnector] = []
        rules: list[AlertRule] = []
        evidence: tuple[str, ...] = ()
        if onboarded:  # the Sentinel routes answer only on an onboarded workspace
            requirements = DataConnectorRequirements.from_json(
                http.send_json(r.check_requirements(MTP_KIND, tenant)) or {}
            )
            connectors = [DataConnector.from_json(c) for c in self._list(r.list_data_connectors())]
            rules = [AlertRule.from_json(x) for x in self._list(r.list_alert_rules())]
            evidence = self._unified_portal_evidence()
        return Observed(
            self._session.home_tenant(),
            onboarded,
            requirements.authorization_state,
            requirements.license_state,
            tuple(connectors),
            tuple(rules),
            evidence,
        )

    # --- plan / apply -----------------------------------------------------------------------------------------
    def plan(self) -> Plan:
        """Read the workspace and return the typed diff to the desired state (reads only).

        Calls: GET /subscriptions/{id} (2022-12-01), GET onboardingStates/default, POST
        dataConnectorsCheckRequirements, GET dataConnectors, GET alertRules (2025-10-01-preview), GET incidents
        ($top=1, providerName filter; 2025-09-01). Raises APIStatusError subclasses and TransportError.
        """
        observed = self._observe()
        changes, notes, blockers = compute_changes(
            self._desired,
            observed,
            tenant_id=self._tenant(),
            workspace_id=self._workspace.resource_id,
            providers=provider_names(),
        )
        return Plan(self._workspace.resource_id, self._tenant(), changes, notes, blockers, applier=self._apply_plan)

    def apply(self) -> ApplyResult:
        """``plan().apply()`` in one call."""
        return self.plan().apply()

    def _apply_plan(self, plan: Plan) -> ApplyResult:
        if plan.blockers:
            raise PreflightError("cannot apply: prerequisites are not met", problems=plan.blockers)
        applied: list[Change] = []
        etags: list[str | None] = []
        for i, change in enumerate(plan.changes):
            try:
                etags.append(self._send_change(change))
            except (ConflictError, PreconditionFailedError) as exc:
                stale = StalePlanError(
                    f"{change.resource_type}/{change.name} changed since the plan was made (etag {change.etag}); "
                    "make a fresh plan",
                    resource_id=change.name,
                    planned_etag=change.etag,
                )
                if not applied:
                    raise stale from exc
                raise PartialApplyError(str(stale), applied=tuple(applied), not_applied=plan.changes[i:]) from exc
            except Exception as exc:
                if not applied:
                    raise
                raise PartialApplyError(
                    f"apply stopped at {change.resource_type}/{change.name}: {exc}",
                    applied=tuple(applied),
                    not_applied=plan.changes[i:],
                ) from exc
            applied.append(change)
        return ApplyResult(tuple(applied), tuple(etags))

    def _send_change(self, change: Change) -> str | None:
        r = self._session.routes
        body = dict(change.body or {})
        if change.resource_type == "dataConnectors":
            spec = r.put_data_connector(change.name, body)
        elif change.resource_type == "alertRules":
            spec = r.put_alert_rule(change.name, body)
        else:  # pragma: no cover - compute_changes only emits the two types above
            raise AssertionError(change.resource_type)
        out = self._session.http.send_json(spec)
        return out.get("etag") if isinstance(out, dict) else None

    # --- status / disconnect ------------------------------------------------------------------------------------
    def status(self) -> ConnectorStatus:
        """The connector's state, the Microsoft incident creation rules and onboarding (reads only; same routes as
        ``plan``). Raises APIStatusError subclasses and TransportError."""
        observed = self._observe()
        names = provider_names()
        return ConnectorStatus(
            self._workspace.resource_id,
            observed.onboarded,
            next(iter(observed.mtp_connectors), None),
            tuple(RuleStatus(rule, names.is_covered_product(rule.product_filter)) for rule in observed.creation_rules),
            observed.unified_portal_evidence,
        )

    def disconnect(self) -> DisconnectResult:
        """Delete the MicrosoftThreatProtection data connector(s) (DELETE dataConnectors/{id}, 2025-10-01-preview).

        Idempotent: with no connector, nothing is sent and ``deleted`` is empty. The incident creation rules are left
        as they are (turn them back on explicitly if Sentinel should create incidents from the products again).
        """
        r = self._session.routes
        deleted = []
        for c in self._list(r.list_data_connectors()):
            if c.get("kind") == MTP_KIND:
                self._session.http.send(r.delete_data_connector(str(c["name"])))
                deleted.append(str(c["name"]))
        return DisconnectResult(tuple(deleted))

    # --- Log Analytics query -----------------------------------------------------------------------------------
    def query(
        self, query: str | _KqlText, *, timespan: timedelta | tuple[datetime, datetime] | str | None = None
    ) -> QueryResult:
        """Run KQL through the Log Analytics query API (POST /v1/workspaces/{customerId}/query).

        ``query``: KQL text or a ``m365sentinel.kql`` query. ``timespan``: required unless the query carries one
        (``kql.timechart`` does): a ``timedelta`` (the last N), an aware ``(start, end)`` pair, or an ISO 8601
        duration/interval string. Returns a ``QueryResult`` (typed tables; ``is_partial`` with the inner error when the
        service answered PartialError). Raises InvalidInputError (before sending), APIStatusError, TransportError.
        """
        text = query if isinstance(query, str) else query.to_kql()
        if not text.strip():
            raise InvalidInputError("query is empty; expected KQL text or a m365sentinel.kql query")
        if timespan is None:
            timespan = getattr(query, "timespan", None)
        if timespan is None:
            raise InvalidInputError(
                "timespan is required: pass timespan=timedelta(days=14), a (start, end) pair of "
                "aware datetimes, or an ISO 8601 duration such as 'P14D'"
            )
        span = to_timespan(timespan)
        from .models import QueryResult
        resp = self._session.http.send(self._session.routes.query(self._session.customer_id(), text, span))
        return QueryResult.from_json(resp.content)
