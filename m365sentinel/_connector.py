"""Connector: the Microsoft 365 Defender (Defender XDR) data connector of one Sentinel workspace.

Immutable and fluent: ``incidents_and_alerts(...)`` returns a new Connector carrying the desired state; nothing is
sent until a terminal call (``plan``, ``apply``, ``status``, ``disconnect``, ``query``). Fluent copies share one HTTP
session (one httpx client, token caches, the resolved workspace GUID), closed by ``close()`` or ``with``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, Self

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
from ._providers import provider_names
from ._routes import Routes
from ._session import Session
from ._timespan import to_timespan
from ._transport import Audience, Cloud, RetryPolicy
from ._transport._flow import Flow, Identity, Send, bridge, list_items, send_json

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from ._content import AnalyticsRule, RuleTemplate
    from ._entities import EntitySync
    from ._hunting import HuntingTable, Retention, TableIngestion
    from ._incidents import IncidentStream
    from ._plan import ApplyResult, Change, IncidentsAndAlerts, Observed, Plan
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
    solution: bool = False  # the Microsoft Defender XDR solution from content hub
    rules: tuple[AnalyticsRule, ...] | None = None  # analytics rules (from templates or YAML)


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


def _parse(
    workspace: str | WorkspaceId, tenant_id: str | None, api_versions: ApiVersions | None
) -> tuple[WorkspaceId, str | None]:
    """The workspace and tenant checked, and ``api_versions``' type, before anything is built."""
    ws = WorkspaceId.parse(workspace)
    tenant = validate_guid(tenant_id, "tenant_id") if tenant_id is not None else None
    if api_versions is not None and not isinstance(api_versions, ApiVersions):
        raise InvalidInputError(f"api_versions must be a m365sentinel.ApiVersions or None, got {api_versions!r}")
    return ws, tenant


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
    return QueryError(
        f"{detail} ({exc.code}: {exc.message})",
        code=code,
        inner=error,
        query=text,
        status_code=exc.status_code,
        request_id=exc.request_id,
    )


class _Session:
    """State shared by a Connector and its fluent copies: the HTTP client (``HttpClient``, or ``AsyncHttpClient`` on
    the async face: both drive the same flows; ``owns_http``: closed with the connector, False when a ``Session``
    owns it) and the workspace's values resolved once."""

    def __init__(self, http: Any, routes: Routes, *, owns_http: bool = True) -> None:
        self.http = http
        self.routes = routes
        self.owns_http = owns_http
        self._customer_id: str | None = None
        self._home_tenant: str | None = None

    def run(self, flow: Flow[Any]) -> Any:
        """Drive ``flow`` with this session's client: its value (sync face) or an awaitable of it (async face)."""
        return self.http.run(flow)

    def customer_id(self) -> Flow[str]:
        """The workspace GUID for the Log Analytics query API (``properties.customerId``), resolved once (two
        concurrent first uses may both read it: the same value)."""
        if self._customer_id is None:
            ws = yield from send_json(self.routes.get_workspace())
            self._customer_id = validate_guid((ws.get("properties") or {}).get("customerId"), "workspace customerId")
        return self._customer_id

    def home_tenant(self) -> Flow[str]:
        """The tenant of the workspace's subscription (GET /subscriptions/{id} → ``tenantId``), resolved once."""
        if self._home_tenant is None:
            sub = yield from send_json(self.routes.get_subscription())
            self._home_tenant = validate_guid(sub.get("tenantId"), "subscription tenantId")
        return self._home_tenant


class ConnectorCore:
    """What the sync ``Connector`` and the async ``m365sentinel.aio.Connector`` share: the fluent desired state and
    every terminal operation as a flow (``_transport._flow``); each face only drives the flows with its client."""

    __slots__ = ("_desired", "_session", "_tenant_id", "_workspace")
    _desired: _Desired
    _session: _Session
    _tenant_id: str | None
    _workspace: WorkspaceId

    def _init(self, ws: WorkspaceId, tenant: str | None, session: _Session, desired: _Desired) -> None:
        object.__setattr__(self, "_workspace", ws)
        object.__setattr__(self, "_tenant_id", tenant)
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_desired", desired)

    @classmethod
    def _of_session(
        cls, http: Any, workspace: str | WorkspaceId, tenant_id: str | None, api_versions: ApiVersions | None
    ) -> Self:
        """A Connector over a session's HTTP client (``Session.connector``): no client is built."""
        ws, tenant = _parse(workspace, tenant_id, api_versions)
        new = object.__new__(cls)
        new._bind(http, ws, tenant, api_versions, owns_http=False)
        return new

    def _bind(
        self, http: Any, ws: WorkspaceId, tenant: str | None, api_versions: ApiVersions | None, *, owns_http: bool
    ) -> None:
        routes = Routes(http.cloud, ws, api_versions or ApiVersions())
        self._init(ws, tenant, _Session(http, routes, owns_http=owns_http), _Desired())

    def _own(
        self,
        session: Callable[..., Any],
        workspace: str | WorkspaceId,
        tenant_id: str | None,
        api_versions: ApiVersions | None,
        credential: Any,
        cloud: str | Cloud,
        graph: str | None,
        retry: RetryPolicy | None,
        timeout: float,
        transport: Any,
        sleep: Any,
    ) -> None:
        """Bind a connector made alone to a private ``session`` (the face's ``Session``): everything is checked
        before it is built (InvalidInputError); the connector closes it."""
        ws, tenant = _parse(workspace, tenant_id, api_versions)
        private = session(
            credential=credential,
            tenant_id=tenant if credential is None else None,  # the default credential signs in to this tenant
            cloud=cloud,
            graph=graph,
            retry=retry,
            timeout=timeout,
            transport=transport,
            sleep=sleep,
        )
        self._bind(private._http, ws, tenant, api_versions, owns_http=True)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Connector is immutable: fluent methods return a new Connector")

    def _with(self, **desired: Any) -> Self:
        new = object.__new__(type(self))
        new._init(self._workspace, self._tenant_id, self._session, attrs.evolve(self._desired, **desired))
        return new

    def __repr__(self) -> str:
        return f"Connector({self._workspace.resource_id!r}, cloud={self._session.routes.cloud.name!r})"

    @property
    def workspace(self) -> WorkspaceId:
        return self._workspace

    def _run(self, flow: Flow[Any]) -> Any:
        return self._session.run(flow)

    # --- fluent desired state ---------------------------------------------------------------------------------
    def incidents_and_alerts(
        self, *, turn_off_microsoft_incident_creation_rules: bool = False, alerts: bool = True
    ) -> Self:
        """Desire "Connect incidents and alerts"; optionally turn off the Microsoft incident creation rules of the
        products Defender XDR covers (the product list is data: ``_data/providers.json``). Sends nothing."""
        for flag, value in (
            ("turn_off_microsoft_incident_creation_rules", turn_off_microsoft_incident_creation_rules),
            ("alerts", alerts),
        ):
            if not isinstance(value, bool):
                raise InvalidInputError(f"{flag} must be True or False, got {value!r}")
        from ._plan import IncidentsAndAlerts  # the plan machinery loads on first use (`import m365sentinel` ~3 ms)

        return self._with(incidents=IncidentsAndAlerts(turn_off_microsoft_incident_creation_rules, alerts))

    def entities(
        self,
        *,
        active_directory: bool | None = True,
        azure_active_directory: bool | None = True,
        ueba_data_sources: tuple[str, ...] | None = None,
    ) -> Self:
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
    ) -> Self:
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

    # --- reads (flows) ------------------------------------------------------------------------------------------
    def solution(self) -> Self:
        """Desire the Microsoft Defender XDR solution installed at the content hub catalogue's version: plan() shows
        ``PUT contentPackages/{id}`` then ``PUT contentTemplates/{id}`` for each template not at its catalogue version
        (stable api-version, 2025-09-01). Its analytics rule templates appear in ``list_rule_templates()`` once
        applied. Sends nothing."""
        return self._with(solution=True)

    def analytics_rules(self, *rules: RuleTemplate | AnalyticsRule | str, enabled: bool = True) -> Self:
        """Desire these analytics rules: ``RuleTemplate`` objects (``list_rule_templates()``), ``AnalyticsRule``
        objects, or YAML text in the public content repository's form. Each is validated now, before any request
        (kind, durations, entity mappings, the query against Sentinel's schemas). plan() creates or updates them:
        Scheduled on the stable api-version, NRT on the preview one, ``alertRuleTemplateName`` and
        ``templateVersion`` recorded. ``enabled`` applies to templates and YAML (an ``AnalyticsRule`` carries its
        own). Raises InvalidInputError, MissingExtraError (YAML without PyYAML). Sends nothing."""
        from ._content import AnalyticsRule, RuleTemplate

        built: list[AnalyticsRule] = []
        for item in rules:
            if isinstance(item, RuleTemplate):
                built.append(AnalyticsRule.from_template(item, enabled=enabled))
            elif isinstance(item, AnalyticsRule):
                built.append(item)
            elif isinstance(item, str):
                built.append(AnalyticsRule.from_yaml(item, enabled=enabled))
            else:
                raise InvalidInputError(
                    f"analytics_rules() takes RuleTemplate, AnalyticsRule or YAML text, got {item!r:.100}"
                )
        names = [r.name.lower() for r in built]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"analytics_rules() got two rules with the same id: {sorted(names)}")
        return self._with(rules=tuple(built))

    def _rule_templates_flow(self, connector_id: str) -> Flow[list[RuleTemplate]]:
        from ._content import ContentRoutes, RuleTemplate

        check_text(connector_id, "connector_id", expected="a data connector id such as 'MicrosoftThreatProtection'")
        items = yield from self._list(ContentRoutes(self._session.routes).collection("alertRuleTemplates"))
        found = [t for t in map(RuleTemplate.from_json, items) if t.requires(connector_id)]
        return sorted(found, key=lambda t: (t.display_name, t.name))

    def _hunting_query_flow(
        self, kql: str | _KqlText, timespan: timedelta | tuple[datetime, datetime] | str | None
    ) -> Flow[QueryResult]:
        from ._defender_hunting import hunting_error, hunting_request, hunting_result, hunting_timespan

        text = _query_text(kql)  # both checked before the first request
        span = hunting_timespan(timespan)
        try:
            body = yield from send_json(hunting_request(self._session.routes.cloud, text, span))
        except BadRequestError as exc:
            raise hunting_error(exc, text) from exc
        return hunting_result(body, text)

    def _tenant(self) -> Flow[str]:
        return self._tenant_id or (yield from self._session.home_tenant())

    def _list(self, spec: Any) -> Flow[list[dict[str, Any]]]:
        return (yield from list_items(spec))

    def _onboarded(self) -> Flow[bool]:
        """Whether Sentinel is onboarded. Its routes answer 404 alike for a workspace without Sentinel and for one
        that does not exist: after a 404 the workspace itself is read (once per connector: its ``customerId``,
        which queries need anyway), so a missing workspace raises NotFoundError instead of reading as "not
        onboarded"."""
        try:
            yield from send_json(self._session.routes.get_onboarding_state())
        except NotFoundError:
            yield from self._session.customer_id()  # NotFoundError (ResourceNotFound) naming a missing workspace
            return False
        return True

    def _unified_portal_evidence(self, rules: list[AlertRule]) -> Flow[tuple[str, ...]]:
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
        page = yield from send_json(self._session.routes.list_incidents(filter=flt, top=1))
        items = page.get("value", []) if isinstance(page, dict) else []
        if not items:
            return ()
        name = (items[0].get("properties") or {}).get("providerName")
        return (
            f"incidents arrive under provider name {name!r}",
            "no Microsoft incident creation rule of a covered product is enabled (the service turns them off)",
        )

    def _ingestion(self) -> Flow[dict[str, TableIngestion]]:
        """Per-table ingestion over the last 14 days from ``Usage`` (one cheap query, no table scans)."""
        from ._entities import UEBA_TABLES
        from ._hunting import HuntingTable, ingestion_from_usage, usage_by_table_query

        names = [t.value for t in HuntingTable] + list(UEBA_TABLES)
        usage = yield from self._query_flow(usage_by_table_query(names), _DAY_WINDOW)
        return ingestion_from_usage(usage, names)

    def _observe(self, *, settings: bool = False, ingestion: bool = False, tables: bool = False) -> Flow[Observed]:
        from ._hunting import tables_by_name
        from ._plan import MTP_KIND, Observed
        from .models import AlertRule, DataConnector, DataConnectorRequirements, Setting  # loaded on first use

        r = self._session.routes
        tenant = yield from self._tenant()
        onboarded = yield from self._onboarded()
        requirements = DataConnectorRequirements()
        connectors: list[DataConnector] = []
        rules: list[AlertRule] = []
        found_settings: list[Setting] = []
        evidence: tuple[str, ...] = ()
        if onboarded:  # the Sentinel routes answer only on an onboarded workspace
            requirements = DataConnectorRequirements.from_json(
                (yield from send_json(r.check_requirements(MTP_KIND, tenant))) or {}
            )
            connectors = [DataConnector.from_json(c) for c in (yield from self._list(r.list_data_connectors()))]
            rules = [AlertRule.from_json(x) for x in (yield from self._list(r.list_alert_rules()))]
            evidence = yield from self._unified_portal_evidence(rules)
            if settings:
                found_settings = [Setting.from_json(x) for x in (yield from self._list(r.list_settings()))]
        home = yield from self._session.home_tenant()
        return Observed(
            home,
            onboarded,
            requirements.authorization_state,
            requirements.license_state,
            tuple(connectors),
            tuple(rules),
            evidence,
            settings=tuple(found_settings),
            ingestion=(yield from self._ingestion()) if ingestion else {},
            tables=tables_by_name((yield from self._list(r.list_tables()))) if tables else {},
        )

    # --- plan / apply (flows) -----------------------------------------------------------------------------------
    def _plan_flow(self, applier: Callable[[Plan], Any]) -> Flow[Plan]:
        from ._plan import compute_changes

        d = self._desired
        observed = yield from self._observe(
            settings=d.entities is not None,
            ingestion=d.events is not None or d.entities is not None,
            tables=bool(d.retention),
        )
        tenant = yield from self._tenant()
        changes, notes, blockers = compute_changes(
            d.incidents,
            observed,
            tenant_id=tenant,
            workspace_id=self._workspace.resource_id,
            providers=provider_names(),
        )
        if any(c.resource_type == "dataConnectors" for c in changes):  # a write only an admin of the tenant may do
            from ._principal import connector_blockers

            blockers += tuple(connector_blockers((yield Identity(Audience.ARM)), tenant))
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
        if (d.solution or d.rules is not None) and observed.onboarded:
            from ._content import ContentRoutes, plan_content

            content = yield from plan_content(
                d.solution, d.rules, observed.alert_rules, ContentRoutes(self._session.routes)
            )
            all_changes += content[0]
            all_notes += content[1]
            blockers += tuple(content[2])
        return self._plan_type()(
            self._workspace.resource_id,
            tenant,
            tuple(all_changes),
            tuple(all_notes),
            blockers,
            tuple(manual),
            applier=applier,
        )

    def _plan_type(self) -> type[Plan]:
        from ._plan import Plan

        return Plan

    def _apply_flow(self, plan: Plan) -> Flow[ApplyResult]:
        from ._plan import ApplyResult

        if plan.blockers:
            raise PreflightError("cannot apply: prerequisites are not met", problems=plan.blockers)
        for change in plan.changes:  # every resource as planned, before the first write (nothing half-applied)
            yield from self._check_fresh(change)
        applied: list[Change] = []
        etags: list[str | None] = []
        for i, change in enumerate(plan.changes):
            try:
                etags.append((yield from self._send_change(change)))
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

    def _check_fresh(self, change: Change) -> Flow[None]:
        """Raise StalePlanError when the resource no longer is as the plan read it (etag, existence, fields)."""
        from ._plan import Action

        r = self._session.routes
        if change.resource_type == "tables":
            current = ((yield from send_json(r.get_table(change.name))) or {}).get("properties") or {}
            for f in change.fields:
                now = current.get(f.path.removeprefix("properties."))
                if now != f.before:
                    raise _stale(change, f"{f.path} is now {now!r}, planned from {f.before!r}")
            return
        if change.resource_type == "dataConnectors" and change.action is Action.CREATE:
            listed = yield from self._list(r.list_data_connectors())
            found = [c.get("name") for c in listed if c.get("kind") == change.kind]
            if found:
                raise _stale(change, f"a {change.kind} connector was created meanwhile ({', '.join(map(str, found))})")
            return
        from ._content import CONTENT_TYPES, ContentRoutes

        getter = {"dataConnectors": r.get_data_connector, "alertRules": r.get_alert_rule, "settings": r.get_setting}
        getter.update({c: functools.partial(ContentRoutes(r).get, c) for c in CONTENT_TYPES})
        try:
            etag = ((yield from send_json(getter[change.resource_type](change.name))) or {}).get("etag")
        except NotFoundError:
            if change.action is not Action.CREATE:
                raise _stale(change, "it was deleted") from None
            return
        if change.action is Action.CREATE:
            raise _stale(change, "it was created meanwhile")
        if etag != change.etag:
            raise _stale(change, f"its etag is now {etag}")

    def _send_change(self, change: Change) -> Flow[str | None]:
        r = self._session.routes
        body = dict(change.body or {})
        from ._content import CONTENT_TYPES, NRT, SCHEDULED, ContentRoutes

        if change.resource_type in CONTENT_TYPES or change.kind in (SCHEDULED, NRT):
            spec = ContentRoutes(r).put(change.resource_type, change.name, body, kind=change.kind)
        elif change.resource_type == "dataConnectors":
            spec = r.put_data_connector(change.name, body)
        elif change.resource_type == "alertRules":
            spec = r.put_alert_rule(change.name, body)
        elif change.resource_type == "settings":
            spec = r.put_setting(change.name, body)
        elif change.resource_type == "tables":
            spec = r.patch_table(change.name, body)
        else:  # pragma: no cover - plan() only emits the types above
            raise AssertionError(change.resource_type)
        out = yield from send_json(spec)
        return out.get("etag") if isinstance(out, dict) else None

    # --- status / verify / disconnect / query (flows) ----------------------------------------------------------
    def _status_flow(self) -> Flow[ConnectorStatus]:
        from .models import EntityAnalyticsSetting, UebaSetting

        observed = yield from self._observe(settings=True, ingestion=True)
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

    def _verify_flow(self, days: int) -> Flow[VerificationReport]:
        from ._hunting import HuntingTable
        from ._verify import verify_flow

        names = provider_names()
        report = verify_flow(
            incident_providers=names.incident_providers,
            alert_products=names.alert_products,
            tables=self._desired.events or HuntingTable.source_document(),
            ueba=self._desired.entities is not None,
            days=days,
        )
        return (yield from bridge(report, lambda asked: self._query_flow(*asked)))

    def _disconnect_flow(self) -> Flow[DisconnectResult]:
        from ._plan import MTP_KIND

        r = self._session.routes
        deleted: list[str] = []
        if not (yield from self._onboarded()):  # no Sentinel on the workspace: no connector to delete
            return DisconnectResult(())
        for c in (yield from self._list(r.list_data_connectors())):
            if c.get("kind") == MTP_KIND:
                yield Send(r.delete_data_connector(str(c["name"])))
                deleted.append(str(c["name"]))
        return DisconnectResult(tuple(deleted))

    def _query_flow(
        self, query: str | _KqlText, timespan: timedelta | tuple[datetime, datetime] | str | None = None
    ) -> Flow[QueryResult]:
        text, span = _query_text_and_span(query, timespan)  # checked before the first request
        return (yield from self._run_query(text, span))

    def _run_query(self, text: str, span: str) -> Flow[QueryResult]:
        from .models import QueryResult

        customer_id = yield from self._session.customer_id()
        try:
            resp = yield Send(self._session.routes.query(customer_id, text, span))
        except BadRequestError as exc:
            raise _query_error(exc, text) from exc
        return QueryResult.from_json(resp.content)

    # --- incidents (IncidentStream lives in m365sentinel/_incidents) -------------------------------------------
    def _stream(self) -> Any:
        from ._incidents import IncidentStream

        return IncidentStream.for_session(self._session)


def _query_text(query: str | _KqlText) -> str:
    """KQL text of ``query`` (text or a ``m365sentinel.kql`` query); InvalidInputError for anything else."""
    if isinstance(query, str):
        text = query
    elif callable(getattr(query, "to_kql", None)):
        text = query.to_kql()
    else:
        raise InvalidInputError(f"query must be KQL text or a m365sentinel.kql query, got {query!r}")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("query is empty; expected KQL text or a m365sentinel.kql query")
    return check_text(text, "query", expected="KQL text", multiline=True)


def _query_text_and_span(
    query: str | _KqlText, timespan: timedelta | tuple[datetime, datetime] | str | None
) -> tuple[str, str]:
    """The KQL text and the Log Analytics timespan of a ``query()`` call; InvalidInputError before any request."""
    text = _query_text(query)
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
    return text, to_timespan(timespan)


class Connector(ConnectorCore):
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
            audiences (ARM, Log Analytics, Graph) need different credentials. ``None``:
            ``DefaultAzureCredential(authority=<the cloud's sign-in host>)``, asking tokens for ``tenant_id`` when
            given. An ``azure.identity.aio`` credential is refused (InvalidInputError): use ``m365sentinel.aio``.
        tenant_id: the Defender tenant (GUID). Default: the workspace's home tenant (its subscription's tenant);
            a different one is a preflight blocker.
        cloud: ``"AzureCloud"`` or ``"AzureUSGovernment"``, or a ``Cloud`` (``Cloud.custom(...)`` for private clouds or
            the loopback emulator). Azure China is refused (UnsupportedCloudError).
        graph: the Microsoft 365 environment of Graph (``"Global"``, ``"GCC"``, ``"GCCHigh"``, ``"DoD"``; default:
            the cloud's own).
        api_versions: an ``ApiVersions`` overriding the api-version of some routes.
        retry: a ``RetryPolicy`` (default: ``RetryPolicy()``).
        timeout: seconds per request.
        transport: any httpx transport (the emulator plugs in here).
        sleep: how retries wait; injectable for tests (default ``time.sleep``).

    A Connector made alone builds its own HTTP client and token cache (~50-130 ms: the TLS context); many
    connectors share one through ``Session(...).connector(workspace)``.
    """

    __slots__ = ()

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
        self._own(
            Session, workspace, tenant_id, api_versions, credential, cloud, graph, retry, timeout, transport, sleep
        )

    # --- lifecycle -------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP client every fluent copy shares; for a connector from ``Session.connector``, nothing
        (the session owns the pool: ``session.close()``)."""
        if self._session.owns_http:
            self._session.http.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plan / apply -----------------------------------------------------------------------------------------
    def plan(self) -> Plan:
        """Read the workspace and return the typed diff to the desired state (reads only).

        Reads: GET /subscriptions/{id} (2022-12-01), GET onboardingStates/default, POST
        dataConnectorsCheckRequirements, GET dataConnectors, GET alertRules (2025-10-01-preview), GET incidents
        ($top=1, providerName filter; 2025-09-01); with entities(): GET settings; with events(): one Log Analytics
        query over ``Usage``; with retention: GET {workspace}/tables (2023-09-01); after an onboardingStates 404, GET
        the workspace (2023-09-01) once per connector, so a missing workspace is NotFoundError, not "not onboarded".
        Changes run in this order on apply: the data connector, the incident creation rules, the settings, the tables.
        Raises NotFoundError (the workspace does not exist), APIStatusError subclasses and TransportError.
        """
        plan: Plan = self._run(self._plan_flow(lambda p: self._run(self._apply_flow(p))))
        return plan

    def apply(self) -> ApplyResult:
        """``plan().apply()`` in one call."""
        return self.plan().apply()

    # --- status / disconnect ------------------------------------------------------------------------------------
    def status(self) -> ConnectorStatus:
        """The connector's state, the Microsoft incident creation rules, onboarding, the UEBA settings and the last
        data received per hunting table (reads only: the routes of ``plan`` plus GET settings and one Log Analytics
        query over ``Usage``). Raises APIStatusError subclasses and TransportError."""
        status: ConnectorStatus = self._run(self._status_flow())
        return status

    def list_tables(self) -> list[dict[str, Any]]:
        """The workspace's Log Analytics tables as returned by GET {workspace}/tables (api-version ``tables``): each a
        JSON object with ``name`` and ``properties`` (``retentionInDays``, ``totalRetentionInDays``, ``plan``, ...)."""
        tables: list[dict[str, Any]] = self._run(self._list(self._session.routes.list_tables()))
        return tables

    def verify(self, *, days: int = 14) -> VerificationReport:
        """Run the source document's verification: incidents, alerts and events (summed over the tables declared
        with ``events()``, else the source document's ten), one line per table, and UEBA when ``entities()`` was
        declared. Each line has a verdict (INGESTING, SILENT, NOT_YET_POPULATED, INCONCLUSIVE on partial results),
        its daily ``TimeSeries`` and the KQL it ran (Log Analytics query API). Raises APIStatusError, TransportError.
        """
        report: VerificationReport = self._run(self._verify_flow(days))
        return report

    def disconnect(self) -> DisconnectResult:
        """Delete the MicrosoftThreatProtection data connector(s) (DELETE dataConnectors/{id}, 2025-10-01-preview).

        Idempotent: with no connector, nothing is sent and ``deleted`` is empty. The incident creation rules are left
        as they are (turn them back on explicitly if Sentinel should create incidents from the products again).
        """
        result: DisconnectResult = self._run(self._disconnect_flow())
        return result

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
        text, span = _query_text_and_span(query, timespan)
        result: QueryResult = self._run(self._run_query(text, span))
        return result

    def run_hunting_query(
        self, kql: str | _KqlText, *, timespan: timedelta | tuple[datetime, datetime] | str | None = None
    ) -> QueryResult:
        """Run KQL in Defender advanced hunting (Graph ``POST /v1.0/security/runHuntingQuery``, body
        ``{Query, Timespan}``; permission ``ThreatHunting.Read.All``) and return the same typed ``QueryResult`` as
        ``query()`` (one ``PrimaryResult`` table).

        ``kql``: KQL text or a ``m365sentinel.kql`` query. ``timespan``: default the last 30 days (``P30D``), at most
        30 days (what Defender keeps); a ``timedelta``, an aware ``(start, end)`` pair or an ISO 8601 string.
        Limits: 100,000 rows, about 45 calls a minute (429, retried with ``Retry-After``), 3 minutes per query.
        Raises InvalidInputError (before sending), QueryLimitError (an answer at the row limit, or a 400 naming a
        limit), QueryError (other 400s), RateLimitedError (retries spent), APIStatusError, TransportError,
        SerializationError.
        """
        result: QueryResult = self._run(self._hunting_query_flow(kql, timespan))
        return result

    def list_rule_templates(self, *, connector_id: str = "MicrosoftThreatProtection") -> list[RuleTemplate]:
        """The analytics rule templates that require ``connector_id`` (``requiredDataConnectors[].connectorId``;
        default the Defender XDR connector), by display name. GET alertRuleTemplates (2025-09-01; the API has no
        filter: filtered here). Templates exist once their solution is installed (``solution()``). Raises
        InvalidInputError, APIStatusError, TransportError, SerializationError."""
        templates: list[RuleTemplate] = self._run(self._rule_templates_flow(connector_id))
        return templates

    # --- incidents (IncidentStream lives in m365sentinel/_incidents) -------------------------------------------
    def incidents(self) -> IncidentStream:
        """An ``IncidentStream`` over this workspace's incidents (Defender XDR providers by default). Sends nothing
        until iterated."""
        stream: IncidentStream = self._stream()
        return stream
