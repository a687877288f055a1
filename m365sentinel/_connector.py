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
    BadRequestError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PartialApplyError,
    PreconditionFailedError,
    PreflightError,
    QueryError,
    StalePlanError,
)
from ._ids import WorkspaceId, validate_guid
from ._inputs import check_text
from ._plan import (
    MTP_KIND,
    Action,
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

    from ._entities import EntitySync
    from ._hunting import HuntingTable, Retention, TableIngestion
    from ._incidents import IncidentStream
    from ._verify import VerificationReport
    from .models import (
        AlertRule,
        DataConnector,
        EntityAnalyticsSetting,
        MicrosoftSecurityIncidentCreationRule,
        MicrosoftThreatProtectionConnector,
        QueryResult,
        Setting,
        UebaSetting,
    )

__all__ = ["Connector", "ConnectorStatus", "DisconnectResult", "RuleStatus"]

_DAY_WINDOW = timedelta(days=14)  # the source document's verification window


@attrs.frozen
class _Desired:
    """What the fluent calls asked for; ``None`` parts are left alone by plan()."""

    incidents: IncidentsAndAlerts | None = None
    entities: EntitySync | None = None
    events: tuple[HuntingTable, ...] | None = None
    retention: Mapping[str, Retention] = attrs.field(factory=dict)


class _KqlText(Protocol):
    def to_kql(self) -> str: ...


@attrs.frozen
class RuleStatus:
    """A Microsoft incident creation rule (``rule``: the typed model) and whether Defender XDR already creates
    incidents for its product (``covered``: then an enabled rule duplicates incidents)."""

    rule: MicrosoftSecurityIncidentCreationRule
    covered: bool
    connected: bool = True  # whether the Defender XDR connector streams incidents

    @property
    def duplicates_incidents(self) -> bool:
        """Enabled, covered by Defender XDR, and the connector is connected: incidents arrive twice."""
        return self.covered and self.connected and self.rule.enabled is True


@attrs.frozen
class ConnectorStatus:
    """``Connector.status()``: Sentinel onboarding, the MicrosoftThreatProtection connector (``None`` when not
    connected), the Microsoft incident creation rules, and evidence of unified Defender portal management."""

    workspace: str
    onboarded: bool
    connector: MicrosoftThreatProtectionConnector | None
    creation_rules: tuple[RuleStatus, ...]
    unified_portal_evidence: tuple[str, ...]
    entity_analytics: EntityAnalyticsSetting | None = None
    ueba: UebaSetting | None = None
    tables: Mapping[str, TableIngestion] = attrs.field(factory=dict)  # last data received per table, from Usage

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
        ea, ueba = self.entity_analytics, self.ueba
        providers = ", ".join(ea.entity_providers or ()) if ea is not None else "off"
        sources = ", ".join(ueba.data_sources or ()) if ueba is not None else "off"
        lines.append(f"  entity analytics providers: {providers or 'none'}; UEBA data sources: {sources or 'none'}")
        for name, t in sorted(self.tables.items()):
            last = f"{t.last_received:%Y-%m-%d %H:%M}Z" if t.last_received else "never (14 days)"
            lines.append(f"  {name:<28} last received {last:<18} {t.volume_mb:10.2f} MB in 14 days")
        return "\n".join(lines)


@attrs.frozen
class DisconnectResult:
    """``Connector.disconnect()``: ``deleted`` is False when there was no connector to delete (idempotent)."""

    deleted: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"Disconnected: deleted {', '.join(self.deleted)}" if self.deleted else "Disconnected: nothing to delete."
        )


def _check_options(credential: Any, api_versions: Any, retry: Any, timeout: Any, transport: Any, sleep: Any) -> None:
    """Constructor options are checked here, before any request (a wrong type would otherwise fail on first use)."""
    import httpx

    creds = credential.values() if isinstance(credential, Mapping) else [credential]
    if isinstance(credential, Mapping) and not all(isinstance(k, Audience) for k in credential):
        raise InvalidInputError(f"credential mapping keys must be Audience members, got {list(credential)!r}")
    for c in creds:
        if c is not None and not callable(getattr(c, "get_token", None)):
            raise InvalidInputError(f"credential must be an azure-identity TokenCredential (get_token), got {c!r}")
    expected = (
        ("api_versions", api_versions, ApiVersions),
        ("retry", retry, RetryPolicy),
        ("transport", transport, httpx.BaseTransport),
    )
    for name, value, cls in expected:
        if value is not None and not isinstance(value, cls):
            raise InvalidInputError(f"{name} must be a {cls.__module__}.{cls.__qualname__} or None, got {value!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise InvalidInputError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if sleep is not None and not callable(sleep):
        raise InvalidInputError(f"sleep must be a callable taking seconds, got {sleep!r}")


def _stale(change: Change, why: str) -> StalePlanError:
    return StalePlanError(
        f"{change.resource_type}/{change.name} is not as planned: {why}; make a fresh plan",
        resource_id=change.name,
        planned_etag=change.etag,
    )


def _query_error(exc: BadRequestError, text: str) -> QueryError:
    """A 400 from the query API as a QueryError naming the innermost cause (syntax error position, unknown name)."""
    error = (exc.body or {}).get("error") if isinstance(exc.body, dict) else None
    inner = error
    while isinstance(inner, dict) and isinstance(inner.get("innererror"), dict):
        inner = inner["innererror"]
    code = (inner or {}).get("code") or exc.code
    detail = (inner or {}).get("message") or exc.message
    return QueryError(f"{detail} ({exc.code}: {exc.message})", code=code, inner=error, query=text)


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
        graph: the Microsoft 365 environment of Graph, as above (default: the cloud's own).
        api_versions: an ``ApiVersions`` overriding the api-version of some routes.
        retry: a ``RetryPolicy`` (default: ``RetryPolicy()``).
        timeout: seconds per request.
        transport: any httpx transport (the emulator plugs in here).
        sleep: how retries wait; injectable for tests (default ``time.sleep``).
    """

    __slots__ = ("_desired", "_session", "_tenant_id", "_workspace")
    _desired: _Desired
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
        _check_options(credential, api_versions, retry, timeout, transport, sleep)
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
        self._init(ws, tenant, _Session(http, routes), _Desired())

    def _init(self, ws: WorkspaceId, tenant: str | None, session: _Session, desired: _Desired) -> None:
        object.__setattr__(self, "_workspace", ws)
        object.__setattr__(self, "_tenant_id", tenant)
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_desired", desired)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Connector is immutable: fluent methods return a new Connector")

    def _with(self, **desired: Any) -> Connector:
        new = object.__new__(Connector)
        new._init(self._workspace, self._tenant_id, self._session, attrs.evolve(self._desired, **desired))
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
        for flag, value in (
            ("turn_off_microsoft_incident_creation_rules", turn_off_microsoft_incident_creation_rules),
            ("alerts", alerts),
        ):
            if not isinstance(value, bool):
                raise InvalidInputError(f"{flag} must be True or False, got {value!r}")
        return self._with(incidents=IncidentsAndAlerts(turn_off_microsoft_incident_creation_rules, alerts))

    def entities(
        self,
        *,
        active_directory: bool | None = True,
        azure_active_directory: bool | None = True,
        ueba_data_sources: tuple[str, ...] | None = None,
    ) -> Connector:
        """Desire "Connect entities": on-premises Active Directory users through Defender for Identity and UEBA
        (settings ``EntityAnalytics`` entity providers and ``Ueba`` data sources, preview api-version).

        True ensures a provider, False removes it, None leaves it. ``ueba_data_sources`` default: AuditLogs,
        AzureActivity, SecurityEvent, SigninLogs. plan() reports the prerequisites (Defender for Identity onboarded,
        sensor, permissions) as notes. Raises InvalidInputError for malformed values. Sends nothing."""
        from ._entities import DEFAULT_UEBA_DATA_SOURCES, EntitySync

        sources = DEFAULT_UEBA_DATA_SOURCES if ueba_data_sources is None else ueba_data_sources
        return self._with(
            entities=EntitySync(
                active_directory=active_directory,
                azure_active_directory=azure_active_directory,
                ueba_data_sources=sources,  # a bare name is one source (the converter checks and canonicalises)
            )
        )

    def events(
        self,
        *tables: HuntingTable | str,
        retention_days: int | None = None,
        total_retention_days: int | None = None,
    ) -> Connector:
        """Desire "Connect events" for these advanced hunting tables, optionally with per-table retention.

        No published API selects the tables (the portal uses an unpublished step), so plan() shows a manual step
        with the portal's exact instructions while a declared table shows no data in ``Usage``; verify() reports
        per table. ``retention_days`` (interactive, 4-730) and ``total_retention_days`` (4-4383) are set per table
        through the workspace tables API (PATCH tables/{name}, api-version ``tables``). Raises InvalidInputError
        for unknown tables or out-of-range days, before any request. Sends nothing."""
        from ._hunting import HuntingTable, _desired

        if not tables:
            raise InvalidInputError("events() needs at least one table, e.g. HuntingTable.DeviceProcessEvents")
        declared = tuple(dict.fromkeys(HuntingTable.from_name(t) for t in tables))
        retention: dict[str, Retention] = {}
        if retention_days is not None or total_retention_days is not None:
            retention = _desired({t: (retention_days, total_retention_days) for t in declared})
        return self._with(events=declared, retention=retention)

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

    def _unified_portal_evidence(self, rules: list[AlertRule]) -> tuple[str, ...]:
        """Signs that the unified Defender portal manages this workspace: incidents under its provider name AND none
        of the covered Microsoft incident creation rules enabled (the service turns them off). A renamed provider
        alone is not enough: "Microsoft XDR" incidents also reach workspaces connected the classic way (case E3)."""
        from .models import MicrosoftSecurityIncidentCreationRule

        names = provider_names()
        if any(
            isinstance(r, MicrosoftSecurityIncidentCreationRule)
            and r.enabled
            and names.is_covered_product(r.product_filter)
            for r in rules
        ):
            return ()
        flt = " or ".join(
            f"properties/providerName eq '{n.replace(chr(39), chr(39) * 2)}'" for n in names.unified_portal_providers
        )
        page = self._session.http.send_json(self._session.routes.list_incidents(filter=flt, top=1))
        items = page.get("value", []) if isinstance(page, dict) else []
        if not items:
            return ()
        name = (items[0].get("properties") or {}).get("providerName")
        return (
            f"incidents arrive under provider name {name!r}",
            "no Microsoft incident creation rule of a covered product is enabled (the service turns them off)",
        )

    def _ingestion(self) -> dict[str, TableIngestion]:
        """Per-table ingestion over the last 14 days from ``Usage`` (one cheap query, no table scans)."""
        from ._entities import UEBA_TABLES
        from ._hunting import HuntingTable, ingestion_from_usage, usage_by_table_query

        names = [t.value for t in HuntingTable] + list(UEBA_TABLES)
        return ingestion_from_usage(self.query(usage_by_table_query(names), timespan=_DAY_WINDOW), names)

    def _observe(self, *, settings: bool = False, ingestion: bool = False, tables: bool = False) -> Observed:
        from ._hunting import tables_by_name
        from .models import AlertRule, DataConnector, DataConnectorRequirements, Setting  # loaded on first use

        r, http = self._session.routes, self._session.http
        tenant = self._tenant()
        onboarded = self._onboarded()
        requirements = DataConnectorRequirements()
        connectors: list[DataConnector] = []
        rules: list[AlertRule] = []
        found_settings: list[Setting] = []
        evidence: tuple[str, ...] = ()
        if onboarded:  # the Sentinel routes answer only on an onboarded workspace
            requirements = DataConnectorRequirements.from_json(
                http.send_json(r.check_requirements(MTP_KIND, tenant)) or {}
            )
            connectors = [DataConnector.from_json(c) for c in self._list(r.list_data_connectors())]
            rules = [AlertRule.from_json(x) for x in self._list(r.list_alert_rules())]
            evidence = self._unified_portal_evidence(rules)
            if settings:
                found_settings = [Setting.from_json(x) for x in self._list(r.list_settings())]
        return Observed(
            self._session.home_tenant(),
            onboarded,
            requirements.authorization_state,
            requirements.license_state,
            tuple(connectors),
            tuple(rules),
            evidence,
            settings=tuple(found_settings),
            ingestion=self._ingestion() if ingestion else {},
            tables=tables_by_name(self._list(r.list_tables())) if tables else {},
        )

    # --- plan / apply -----------------------------------------------------------------------------------------
    def plan(self) -> Plan:
        """Read the workspace and return the typed diff to the desired state (reads only).

        Reads: GET /subscriptions/{id} (2022-12-01), GET onboardingStates/default, POST
        dataConnectorsCheckRequirements, GET dataConnectors, GET alertRules (2025-10-01-preview), GET incidents
        ($top=1, providerName filter; 2025-09-01); with entities(): GET settings; with events(): one Log Analytics
        query over ``Usage``; with retention: GET {workspace}/tables (2023-09-01).
        Changes run in this order on apply: the data connector, the incident creation rules, the settings, the tables.
        Raises APIStatusError subclasses and TransportError.
        """
        d = self._desired
        observed = self._observe(
            settings=d.entities is not None,
            ingestion=d.events is not None or d.entities is not None,
            tables=bool(d.retention),
        )
        changes, notes, blockers = compute_changes(
            d.incidents,
            observed,
            tenant_id=self._tenant(),
            workspace_id=self._workspace.resource_id,
            providers=provider_names(),
        )
        all_changes, all_notes, manual = list(changes), list(notes), []
        if d.entities is not None:
            from ._entities import check_entity_prerequisites, entity_changes
            from ._hunting import presence

            all_changes += entity_changes(d.entities, observed.settings)
            prerequisites = check_entity_prerequisites(
                observed.data_connectors,
                presence(observed.ingestion),
                authorization_state=observed.authorization_state,
            )
            all_notes += [f"prerequisite {p}" for p in prerequisites if p.ok is not True]  # not met, or not observable
        if d.events is not None:
            from ._hunting import events_manual_step, retention_changes, retention_notes

            step = events_manual_step(d.events, observed.ingestion)
            manual += [step] if step is not None else []
            all_changes += retention_changes(d.retention, observed.tables)
            all_notes += retention_notes(d.retention, observed.tables)
        return Plan(
            self._workspace.resource_id,
            self._tenant(),
            tuple(all_changes),
            tuple(all_notes),
            blockers,
            tuple(manual),
            applier=self._apply_plan,
        )

    def apply(self) -> ApplyResult:
        """``plan().apply()`` in one call."""
        return self.plan().apply()

    def _apply_plan(self, plan: Plan) -> ApplyResult:
        if plan.blockers:
            raise PreflightError("cannot apply: prerequisites are not met", problems=plan.blockers)
        for change in plan.changes:  # every resource as planned, before the first write (nothing half-applied)
            self._check_fresh(change)
        applied: list[Change] = []
        etags: list[str | None] = []
        for i, change in enumerate(plan.changes):
            try:
                etags.append(self._send_change(change))
            except (ConflictError, PreconditionFailedError) as exc:
                stale = _stale(change, f"changed while the plan was applied: {exc.message}")
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

    def _check_fresh(self, change: Change) -> None:
        """Raise StalePlanError when the resource no longer is as the plan read it (etag, existence, fields)."""
        r, http = self._session.routes, self._session.http
        if change.resource_type == "tables":
            current = (http.send_json(r.get_table(change.name)) or {}).get("properties") or {}
            for f in change.fields:
                now = current.get(f.path.removeprefix("properties."))
                if now != f.before:
                    raise _stale(change, f"{f.path} is now {now!r}, planned from {f.before!r}")
            return
        if change.resource_type == "dataConnectors" and change.action is Action.CREATE:
            found = [c.get("name") for c in self._list(r.list_data_connectors()) if c.get("kind") == change.kind]
            if found:
                raise _stale(change, f"a {change.kind} connector was created meanwhile ({', '.join(map(str, found))})")
            return
        getter = {"dataConnectors": r.get_data_connector, "alertRules": r.get_alert_rule, "settings": r.get_setting}
        try:
            etag = (http.send_json(getter[change.resource_type](change.name)) or {}).get("etag")
        except NotFoundError:
            if change.action is not Action.CREATE:
                raise _stale(change, "it was deleted") from None
            return
        if change.action is Action.CREATE:
            raise _stale(change, "it was created meanwhile")
        if etag != change.etag:
            raise _stale(change, f"its etag is now {etag}")

    def _send_change(self, change: Change) -> str | None:
        r = self._session.routes
        body = dict(change.body or {})
        if change.resource_type == "dataConnectors":
            spec = r.put_data_connector(change.name, body)
        elif change.resource_type == "alertRules":
            spec = r.put_alert_rule(change.name, body)
        elif change.resource_type == "settings":
            spec = r.put_setting(change.name, body)
        elif change.resource_type == "tables":
            spec = r.patch_table(change.name, body)
        else:  # pragma: no cover - plan() only emits the types above
            raise AssertionError(change.resource_type)
        out = self._session.http.send_json(spec)
        return out.get("etag") if isinstance(out, dict) else None

    # --- status / disconnect ------------------------------------------------------------------------------------
    def status(self) -> ConnectorStatus:
        """The connector's state, the Microsoft incident creation rules, onboarding, the UEBA settings and the last
        data received per hunting table (reads only: the routes of ``plan`` plus GET settings and one Log Analytics
        query over ``Usage``). Raises APIStatusError subclasses and TransportError."""
        from .models import EntityAnalyticsSetting, UebaSetting

        observed = self._observe(settings=True, ingestion=True)
        names = provider_names()
        mtp = next(iter(observed.mtp_connectors), None)
        connected = mtp is not None and mtp.incidents_state == "Enabled"
        return ConnectorStatus(
            self._workspace.resource_id,
            observed.onboarded,
            mtp,
            tuple(
                RuleStatus(rule, names.is_covered_product(rule.product_filter), connected)
                for rule in observed.creation_rules
            ),
            observed.unified_portal_evidence,
            next((x for x in observed.settings if isinstance(x, EntityAnalyticsSetting)), None),
            next((x for x in observed.settings if isinstance(x, UebaSetting)), None),
            observed.ingestion,
        )

    def list_tables(self) -> list[dict[str, Any]]:
        """The workspace's Log Analytics tables as returned by GET {workspace}/tables (api-version ``tables``): each a
        JSON object with ``name`` and ``properties`` (``retentionInDays``, ``totalRetentionInDays``, ``plan``, ...)."""
        return self._list(self._session.routes.list_tables())

    def verify(self, *, days: int = 14) -> VerificationReport:
        """Run the source document's verification: incidents, alerts and events (summed over the tables declared
        with ``events()``, else the source document's ten), one line per table, and UEBA when ``entities()`` was
        declared. Each line has a verdict (INGESTING, SILENT, NOT_YET_POPULATED, INCONCLUSIVE on partial results),
        its daily ``TimeSeries`` and the KQL it ran (Log Analytics query API). Raises APIStatusError, TransportError.
        """
        from ._hunting import HuntingTable
        from ._verify import verify

        names = provider_names()
        return verify(
            lambda q, span: self.query(q, timespan=span),
            incident_providers=names.incident_providers,
            alert_products=names.alert_products,
            tables=self._desired.events or HuntingTable.source_document(),
            ueba=self._desired.entities is not None,
            days=days,
        )

    def disconnect(self) -> DisconnectResult:
        """Delete the MicrosoftThreatProtection data connector(s) (DELETE dataConnectors/{id}, 2025-10-01-preview).

        Idempotent: with no connector, nothing is sent and ``deleted`` is empty. The incident creation rules are left
        as they are (turn them back on explicitly if Sentinel should create incidents from the products again).
        """
        r = self._session.routes
        deleted: list[str] = []
        if not self._onboarded():  # no Sentinel on the workspace: no connector to delete
            return DisconnectResult(())
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
        (the time-chart templates do): a ``timedelta`` (the last N), an aware ``(start, end)`` pair, or an ISO 8601
        duration/interval string; shorter than the window a template covers is refused. Returns a ``QueryResult``
        (typed tables; ``is_partial`` with the inner error when the service answered PartialError). Raises
        InvalidInputError (before sending), QueryError (the service rejected the KQL: ``code`` and message of the
        innermost error, e.g. a syntax error and its position), APIStatusError, TransportError.
        """
        if isinstance(query, str):
            text = query
        elif callable(getattr(query, "to_kql", None)):
            text = query.to_kql()
        else:
            raise InvalidInputError(f"query must be KQL text or a m365sentinel.kql query, got {query!r}")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("query is empty; expected KQL text or a m365sentinel.kql query")
        check_text(text, "query", expected="KQL text", multiline=True)
        needed = getattr(query, "timespan", None)  # the window a template needs (a 14-day chart needs 14 days)
        if timespan is None:
            timespan = needed
        if timespan is None:
            raise InvalidInputError(
                "timespan is required: pass timespan=timedelta(days=14), a (start, end) pair of "
                "aware datetimes, or an ISO 8601 duration such as 'P14D'"
            )
        if isinstance(needed, timedelta) and isinstance(timespan, timedelta) and timespan < needed:
            raise InvalidInputError(
                f"timespan {timespan} is shorter than the {needed} this query covers: the service would drop the "
                f"older rows and the result would show zeros; pass timespan={needed!r} or longer"
            )
        span = to_timespan(timespan)
        from .models import QueryResult

        try:
            resp = self._session.http.send(self._session.routes.query(self._session.customer_id(), text, span))
        except BadRequestError as exc:
            raise _query_error(exc, text) from exc
        return QueryResult.from_json(resp.content)

    # --- incidents (IncidentStream lives in m365sentinel/_incidents) -------------------------------------------
    def incidents(self) -> IncidentStream:
        """An ``IncidentStream`` over this workspace's incidents (Defender XDR providers by default). Sends nothing
        until iterated; see ``m365sentinel._incidents``."""
        from ._incidents import IncidentStream

        return IncidentStream.for_session(self._session)
