"""The handler core: one function from request to response, shared by the httpx transports and the server.

Order for every request: record it, serve an injected fault if one matches, route by path (host-agnostic),
check the bearer token's audience, check the api-version, then run the handler under one lock.
"""

from __future__ import annotations

import email.utils
import json
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from m365sentinel.emulator import _versions
from m365sentinel.emulator._advanced_hunting import HuntingApi
from m365sentinel.emulator._arm_util import (
    ArmError,
    decode_token,
    error,
    page,
    parse_orderby,
)
from m365sentinel.emulator._auth import ARM, GRAPH, LOG_ANALYTICS, AuthFailure, TokenStore, may_connect_defender
from m365sentinel.emulator._clock import Clock
from m365sentinel.emulator._content_hub import ContentHub, check_rule
from m365sentinel.emulator._cross import CrossRefused
from m365sentinel.emulator._engine import Engine, QueryFailed
from m365sentinel.emulator._faults import Faults
from m365sentinel.emulator._graph import DefenderTenant
from m365sentinel.emulator._http import DropConnection, EmuRequest, EmuResponse, RequestRecord, json_response
from m365sentinel.emulator._incident_index import IncidentIndex
from m365sentinel.emulator._parse import parse_timespan
from m365sentinel.emulator._tables_api import API_VERSIONS as TABLES_API_VERSIONS
from m365sentinel.emulator._tables_api import TablesApi
from m365sentinel.emulator._workspace import Workspace

__all__ = ["Core"]

Handler = Callable[[EmuRequest, dict[str, str], Any], EmuResponse]
# (token audience, accepted api-versions or None, handler, path parameters)
Route = tuple[str, tuple[str, ...] | None, Handler, dict[str, str]]

_SETTINGS = {"EyesOn", "Anomalies", "EntityAnalytics", "Ueba"}
_MTP = "MicrosoftThreatProtection"


def _preview_ok(version: str, minimum: str) -> bool:
    return version.endswith("-preview") and version >= minimum


class Core:
    def __init__(
        self,
        *,
        workspace: Workspace,
        tokens: TokenStore,
        faults: Faults,
        clock: Clock,
        strict_tokens: bool = True,
        engine: Engine | None = None,
    ) -> None:
        self.ws = workspace
        self.tokens = tokens
        self.faults = faults
        self.clock = clock
        self.strict_tokens = strict_tokens
        self.engine: Engine = Engine() if engine is None else engine  # a fleet's workspaces share one
        self.latency: float = 0.0  # seconds each request takes, slept by the transports and the server
        self.tables_api: TablesApi = TablesApi(workspace)
        self.requests: list[RequestRecord] = []
        self.lock: threading.RLock = threading.RLock()
        self.graph: DefenderTenant = DefenderTenant(self)  # stateful Defender tenant (Graph /security routes)
        self.incident_index: IncidentIndex = IncidentIndex(workspace)
        self.hunting: HuntingApi = HuntingApi(self)  # Graph runHuntingQuery over the same tables
        self.content: ContentHub = ContentHub(self)  # content hub, alertRuleTemplates
        self.cross: Any = None  # a CrossWorkspace  # the fleet's workspaces, for cross-workspace queries

    # -- entry point ----------------------------------------------------------------------------------
    def handle(self, req: EmuRequest) -> EmuResponse:
        response = self._handle(req)
        if self.faults.cycles_pending and response.status == 200:
            response = self._cycle_next_link(req, response)
        # Every response says the emulated service's time, as Azure's do (streams bound their watermark by it).
        if self.faults.date_omitted:
            response.headers.pop("Date", None)
        else:
            when = self.clock.now() + timedelta(seconds=self.faults.date_skew)
            response.headers.setdefault("Date", email.utils.format_datetime(when, usegmt=True))
        return response

    def _cycle_next_link(self, req: EmuRequest, response: EmuResponse) -> EmuResponse:
        """``faults.next_link_cycle``: a list page's next link points back to the page itself."""
        try:
            body = response.json()
        except ValueError:
            return response
        if not isinstance(body, dict):
            return response
        key = next((k for k in ("nextLink", "@odata.nextLink") if body.get(k)), None)
        record = RequestRecord(req.method, req.path, dict(req.query_pairs), None, req.host)
        if key is None or not self.faults.take_cycle(record):
            return response
        body[key] = f"{req.origin}{quote(req.path)}" + (f"?{req.raw_query}" if req.raw_query else "")
        return json_response(200, body, {k: v for k, v in response.headers.items() if k.lower() != "content-length"})

    def _handle(self, req: EmuRequest) -> EmuResponse:
        pairs = req.query_pairs
        try:
            body: Any = json.loads(req.body) if req.body else None
        except (ValueError, UnicodeDecodeError):
            body = req.body.decode("utf-8", "replace")
        record = RequestRecord(req.method, req.path, {k: v for k, v in pairs}, body, req.host)
        with self.lock:
            self.requests.append(record)
        fired = self.faults.fire(record)
        if fired is not None:
            if fired.status is None:
                raise DropConnection(req.path)
            return json_response(fired.status, fired.body, fired.headers)
        try:
            route = self._route(req)
            if route is None:
                return error(404, "NotFound", f"No HTTP resource was found that matches the request URI '{req.path}'.")
            audience, versions, handler, params = route
            self._authorize(req, audience)
            seen: set[str] = set()
            for key, _ in pairs:
                if key.lower() in seen:
                    raise ArmError(400, "BadRequest", f"The query parameter '{key}' is specified more than once.")
                seen.add(key.lower())
            if versions is not None:
                self._check_version(record.query.get("api-version"), versions, params.get("_family", ""))
            if isinstance(body, str):
                raise ArmError(
                    400, "InvalidRequestContent", "The request content was invalid and could not be deserialized."
                )
            with self.lock:
                return handler(req, params, body)
        except ArmError as exc:
            return exc.response()
        except AuthFailure as exc:
            return json_response(
                401,
                {"error": {"code": exc.code, "message": exc.message}},
                {
                    "WWW-Authenticate": f'Bearer authorization_uri="https://login.microsoftonline.com/'
                    f'{self.ws.tenant_id}", error="invalid_token", error_description="{exc.message}"'
                },
            )
        except DropConnection:
            raise
        except Exception as exc:  # a bug in the emulator must not look like a network failure
            return error(500, "InternalServerError", f"Emulator error: {exc!r}\n{traceback.format_exc(limit=3)}")

    def _authorize(self, req: EmuRequest, audience: str) -> None:
        header = req.headers.get("authorization")
        try:
            try:
                self.tokens.check(header, audience)
            except AuthFailure as exc:
                # Over the loopback server a client uses custom endpoints (Cloud.custom), whose token audience is
                # the endpoint itself, as in a private cloud: accept a token for the origin it addressed.
                if (req.scheme != "http" and not req.loopback) or exc.code != "InvalidAuthenticationTokenAudience":
                    raise
                self.tokens.check(header, req.origin)
        except AuthFailure as exc:
            # Out-of-process clients (the CLI server) cannot share the token store: accept well-formed
            # emulator tokens for the right audience when tokens are not strict.
            token = (header or "").partition(" ")[2]
            hosts = (audience.split("://", 1)[-1], req.host)  # the public audience, or the loopback origin itself
            if (
                self.strict_tokens
                or exc.code != "InvalidAuthenticationToken"
                or not any(token.startswith(f"emu-{h}-") for h in hosts)
            ):
                raise

    def _check_version(self, version: str | None, allowed: tuple[str, ...], family: str) -> None:
        if version is None:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if version not in allowed:
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid{' for ' + family if family else ''}. "
                f"The supported versions are '{','.join(allowed)}'.",
            )

    # -- routing --------------------------------------------------------------------------------------
    def _route(self, req: EmuRequest) -> Route | None:
        parts = [p for p in req.path.split("/") if p]
        low = [p.lower() for p in parts]
        if low[:1] == ["v1"]:
            return self._route_la(parts[1:], low[1:])
        if low[:2] == ["v1.0", "security"]:
            return self._route_graph(parts[2:], low[2:])
        if low[:1] == ["subscriptions"] and len(parts) >= 2:
            return self._route_arm(parts, low)
        return None

    def _route_la(self, parts: list[str], low: list[str]) -> Route | None:
        if len(low) == 3 and low[0] == "workspaces" and low[2] == "query":
            return LOG_ANALYTICS, None, self._query, {"workspace": parts[1]}
        if low[:1] == ["subscriptions"] and low[-1:] == ["query"]:
            return LOG_ANALYTICS, None, self._query, {"resource": "/" + "/".join(parts[:-1])}
        return None

    def _route_graph(self, parts: list[str], low: list[str]) -> Route | None:
        if low == ["runhuntingquery"]:
            return GRAPH, None, self.hunting.run, {}
        routed = self.graph.route(parts, low)
        return None if routed is None else (GRAPH, None, routed[0], routed[1])

    def _route_arm(self, parts: list[str], low: list[str]) -> Route | None:
        sub = parts[1]
        if len(parts) == 2:
            return ARM, _versions.SUBSCRIPTION, self._subscription, {"sub": sub, "_family": "subscriptions"}
        ws_prefix = ["resourcegroups", None, "providers", "microsoft.operationalinsights", "workspaces", None]
        rest = low[2:]
        if len(rest) < 6 or any(p is not None and rest[i] != p for i, p in enumerate(ws_prefix)):
            return None
        params = {"sub": sub, "rg": parts[3], "ws": parts[7]}
        tail, tail_low = parts[8:], low[8:]
        if not tail:
            return ARM, _versions.WORKSPACE, self._workspace, {**params, "_family": "workspaces"}
        if tail_low in (["query"], ["api", "query"]):
            return ARM, _versions.LA_VIA_ARM, self._query, {**params, "resource": self.ws.resource_id}
        if tail_low[:1] == ["tables"] and len(tail) <= 2:
            extra = {"name": tail[1]} if len(tail) == 2 else {}
            return ARM, TABLES_API_VERSIONS, self._tables, {**params, **extra, "_family": "workspaces/tables"}
        if tail_low[:2] != ["providers", "microsoft.securityinsights"] or len(tail) < 3:
            return None
        si, si_low = tail[2:], tail_low[2:]
        collection = si_low[0]
        params["collection"] = collection
        for i, key in enumerate(("name", "sub_collection", "sub_name"), start=1):
            if len(si) > i:
                params[key] = si[i]
        if len(si) > 4:
            return None
        both = _versions.SECURITY_INSIGHTS_PREVIEW + _versions.SECURITY_INSIGHTS_STABLE
        handlers: dict[str, tuple[tuple[str, ...], Handler]] = {
            "onboardingstates": (both, self._onboarding),
            "dataconnectors": (both, self._connectors),
            "dataconnectorscheckrequirements": (_versions.SECURITY_INSIGHTS_PREVIEW, self._check_requirements),
            "alertrules": (both, self._rules),
            "settings": (_versions.SECURITY_INSIGHTS_PREVIEW, self._settings),
            "incidents": (both, self._incidents),
        }
        handlers.update({name: (both, h) for name, h in self.content.handlers().items()})
        if collection not in handlers:
            return None
        versions, handler = handlers[collection]
        params["_family"] = f"resource type '{si[0]}'"
        return ARM, versions, handler, params

    # -- shared checks --------------------------------------------------------------------------------
    def _check_workspace(self, p: dict[str, str]) -> None:
        ws = self.ws
        if p["sub"].lower() != ws.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{p['sub']}' could not be found.")
        if p["rg"].lower() != ws.resource_group.lower():
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{p['rg']}' could not be found.")
        if p["ws"].lower() != ws.workspace_name.lower():
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.OperationalInsights/workspaces/{p['ws']}' under resource group "
                f"'{p['rg']}' was not found.",
            )

    def _check_si(self, p: dict[str, str]) -> None:
        self._check_workspace(p)
        if not self.ws.sentinel_onboarded and p.get("collection") != "onboardingstates":
            raise ArmError(
                400, "BadRequest", f"Workspace '{self.ws.workspace_name}' is not onboarded to Microsoft Sentinel."
            )

    @staticmethod
    def _method(req: EmuRequest, *allowed: str) -> None:
        if req.method not in allowed:
            raise ArmError(
                405, "MethodNotAllowed", f"The requested resource does not support http method '{req.method}'."
            )

    @staticmethod
    def _body_object(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid: a JSON object is required.")
        return body

    def _next_base(self, req: EmuRequest) -> str:
        version = dict(req.query_pairs).get("api-version", "")
        return f"{req.origin}{quote(req.path)}?api-version={version}"

    def _list(self, req: EmuRequest, items: list[dict[str, Any]]) -> EmuResponse:
        query = dict(req.query_pairs)
        offset = 0
        if "$skipToken" in query:
            offset = decode_token(query["$skipToken"])["o"]
        return json_response(
            200, page(items, offset=offset, size=self.ws.page_size, next_base=self._next_base(req), token_state={})
        )

    # -- subscription / workspace ---------------------------------------------------------------------
    def _subscription(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        self._method(req, "GET")
        ws = self.ws
        if p["sub"].lower() != ws.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{p['sub']}' could not be found.")
        return json_response(
            200,
            {
                "id": f"/subscriptions/{ws.subscription_id}",
                "authorizationSource": "RoleBased",
                "managedByTenants": [],
                "subscriptionId": ws.subscription_id,
                "tenantId": ws.tenant_id,
                "displayName": "Contoso Security Operations",
                "state": "Enabled",
                "subscriptionPolicies": {
                    "locationPlacementId": "Public_2014-09-01",
                    "quotaId": "PayAsYouGo_2014-09-01",
                    "spendingLimit": "Off",
                },
            },
        )

    def _workspace(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        self._method(req, "GET")
        self._check_workspace(p)
        ws = self.ws
        created = ws.created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return json_response(
            200,
            {
                "properties": {
                    "customerId": ws.customer_id,
                    "provisioningState": "Succeeded",
                    "sku": {"name": "PerGB2018", "lastSkuUpdate": created},
                    "retentionInDays": 90,
                    "features": {"legacy": 0, "searchVersion": 1, "enableLogAccessUsingOnlyResourcePermissions": True},
                    "workspaceCapping": {
                        "dailyQuotaGb": -1.0,
                        "quotaNextResetTime": created,
                        "dataIngestionStatus": "RespectQuota",
                    },
                    "publicNetworkAccessForIngestion": "Enabled",
                    "publicNetworkAccessForQuery": "Enabled",
                    "createdDate": created,
                    "modifiedDate": created,
                },
                "id": ws.resource_id,
                "name": ws.workspace_name,
                "type": "Microsoft.OperationalInsights/workspaces",
                "location": ws.location,
                "etag": '"0d00a3b2-0000-0d00-0000-64b5a0c40000"',
                "tags": {},
            },
        )

    def _tables(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        self._check_workspace(p)
        return self.tables_api.handle(req, p, body)

    # -- Microsoft.SecurityInsights -------------------------------------------------------------------
    def _onboarding(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        self._check_si(p)
        ws = self.ws
        name = p.get("name")
        if name is None:
            self._method(req, "GET")
            value = [ws.onboarding] if ws.sentinel_onboarded and ws.onboarding else []
            return json_response(200, {"value": value})
        if name.lower() != "default" or "sub_collection" in p:
            raise ArmError(404, "NotFound", f"Onboarding state '{name}' was not found.")
        if req.method == "GET":
            if not ws.sentinel_onboarded or ws.onboarding is None:
                raise ArmError(404, "NotFound", "Resource 'default' of type 'onboardingStates' was not found.")
            return json_response(200, ws.onboarding)
        if req.method == "PUT":
            created = not ws.sentinel_onboarded
            ws.sentinel_onboarded = True
            ws.onboarding = ws._onboarding_resource()
            if isinstance(body, dict) and isinstance(body.get("properties"), dict):
                ws.onboarding["properties"].update(body["properties"])
            return json_response(201 if created else 200, ws.onboarding)
        if req.method == "DELETE":
            was = ws.sentinel_onboarded
            ws.sentinel_onboarded = False
            return json_response(200 if was else 204, None)
        raise ArmError(405, "MethodNotAllowed", f"The requested resource does not support http method '{req.method}'.")

    def _check_requirements(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        self._method(req, "POST")
        self._check_si(p)
        if "name" in p:
            raise ArmError(404, "NotFound", "No such resource.")
        body = self._body_object(body)
        kind = body.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ArmError(400, "BadRequest", "The 'kind' property is required.")
        tenant = (body.get("properties") or {}).get("tenantId")
        ws = self.ws
        authorized = tenant is None or str(tenant).lower() == ws.tenant_id.lower()
        licensed = ws.license_valid and not (kind == _MTP and self.faults.consent_required)
        return json_response(
            200,
            {
                "authorizationState": "Valid" if authorized else "Invalid",
                "licenseState": "Valid" if licensed else "Invalid",
            },
        )

    def _read_or_delete(
        self, req: EmuRequest, p: dict[str, str], collection: dict[str, Any], label: str, name: str | None = None
    ) -> EmuResponse | None:
        """List, GET or DELETE in a Sentinel collection; None when the request is a PUT, for the caller to handle."""
        self._check_si(p)
        name = name or p.get("name")
        if "sub_collection" in p:
            return error(404, "NotFound", "No such resource.")
        if name is None:
            self._method(req, "GET")
            return self._list(req, list(collection.values()))
        if req.method == "GET":
            return json_response(200, self.ws.get(collection, name, label))
        if req.method == "DELETE":
            return json_response(self.ws.delete(collection, name), None)
        self._method(req, "PUT")
        return None

    def _connectors(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        ws = self.ws
        done = self._read_or_delete(req, p, ws.connectors, "Data connector")
        if done is not None:
            return done
        name = p["name"]
        body = self._body_object(body)
        version = dict(req.query_pairs)["api-version"]
        kind = body.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ArmError(400, "BadRequest", "The 'kind' property is required.")
        if kind == _MTP:
            if not _preview_ok(version, _versions.MIN_MTP_PREVIEW):
                raise ArmError(400, "BadRequest", f"The kind '{kind}' is not supported in api-version '{version}'.")
            if not may_connect_defender(self.tokens.claims_of(req.headers.get("authorization")), ws.tenant_id):
                raise ArmError(
                    403,
                    "AuthorizationFailed",
                    "Connecting Microsoft Defender XDR needs a Global Administrator or Security Administrator of the "
                    f"workspace's tenant '{ws.tenant_id}', signed in to that tenant (Azure Lighthouse delegates Azure "
                    "RBAC only).",
                )
            self._validate_mtp(body)
            other = next(
                (c for c in ws.connectors.values() if c["kind"] == kind and c["name"].lower() != name.lower()), None
            )
            if other is not None:
                raise ArmError(
                    400,
                    "BadRequest",
                    f"A data connector of kind '{kind}' already exists in this workspace "
                    f"(name '{other['name']}'); update it instead of creating another one.",
                )
            ws.check_etag(ws.connectors.get(name.lower()), body)
            if self.faults.consent_required or not ws.license_valid:
                raise ArmError(
                    403,
                    "InvalidLicense",
                    "Missing consent: the Microsoft Sentinel integration has not been switched on in the "
                    "Microsoft Defender portal.",
                )
        status, stored = ws.put(ws.connectors, "dataConnectors", name, body)
        return json_response(status, stored)

    def _validate_mtp(self, body: dict[str, Any]) -> None:
        props = body.get("properties")
        if not isinstance(props, dict):
            raise ArmError(400, "BadRequest", "The 'properties' property is required.")
        tenant = props.get("tenantId")
        if not isinstance(tenant, str) or not tenant:
            raise ArmError(400, "BadRequest", "The 'properties.tenantId' property is required.")
        if tenant.lower() != self.ws.tenant_id.lower():
            raise ArmError(
                400,
                "BadRequest",
                f"The tenant id '{tenant}' does not match the workspace's tenant '{self.ws.tenant_id}'.",
            )
        data_types = props.get("dataTypes")
        if not isinstance(data_types, dict) or not isinstance(data_types.get("incidents"), dict):
            raise ArmError(400, "BadRequest", "The 'properties.dataTypes.incidents' property is required.")
        for key, value in data_types.items():
            state = value.get("state") if isinstance(value, dict) else None
            if state not in ("Enabled", "Disabled"):
                raise ArmError(
                    400,
                    "BadRequest",
                    f"The 'properties.dataTypes.{key}.state' must be 'Enabled' or 'Disabled', got {state!r}.",
                )

    def _rules(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        ws = self.ws
        done = self._read_or_delete(req, p, ws.rules, "Alert rule")
        if done is not None:
            return done
        name = p["name"]
        body = self._body_object(body)
        kind = body.get("kind")
        props = body.get("properties")
        if not isinstance(kind, str) or not isinstance(props, dict):
            raise ArmError(400, "BadRequest", "The 'kind' and 'properties' properties are required.")
        if kind == "MicrosoftSecurityIncidentCreation":
            for field in ("displayName", "enabled", "productFilter"):
                if props.get(field) is None:
                    raise ArmError(400, "BadRequest", f"The 'properties.{field}' property is required.")
        check_rule(kind, props)
        ws.check_etag(ws.rules.get(name.lower()), body)
        body = {**body, "properties": {**props, "lastModifiedUtc": ws.now_text()}}
        status, stored = ws.put(ws.rules, "alertRules", name, body)
        return json_response(status, stored)

    def _settings(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        ws = self.ws
        name = p.get("name")
        canonical = None if name is None else next((s for s in _SETTINGS if s.lower() == name.lower()), None)
        if name is not None and canonical is None and "sub_collection" not in p:
            raise ArmError(
                400,
                "BadRequest",
                f"'{name}' is not a valid settings name. Valid names: {', '.join(sorted(_SETTINGS))}.",
            )
        done = self._read_or_delete(req, p, ws.settings, "Setting", canonical)
        if done is not None:
            return done
        assert canonical is not None  # narrowing only: a PUT reaches here with a valid name (checked above)
        body = self._body_object(body)
        if body.get("kind") != canonical:
            raise ArmError(400, "BadRequest", f"The 'kind' of settings '{canonical}' must be '{canonical}'.")
        props = body.get("properties")
        if not isinstance(props, dict):
            raise ArmError(400, "BadRequest", "The 'properties' property is required.")
        required = {"Ueba": "dataSources", "EntityAnalytics": "entityProviders"}.get(canonical)
        if required and not isinstance(props.get(required), list):
            raise ArmError(400, "BadRequest", f"The 'properties.{required}' property is required (a list).")
        status, stored = ws.put(ws.settings, "settings", canonical, body)
        return json_response(status, stored)

    def _incidents(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        self._check_si(p)
        ws = self.ws
        name = p.get("name")
        if name is None:
            self._method(req, "GET")
            return self._incident_list(req)
        sub = p.get("sub_collection", "").lower()
        if not sub:
            if req.method == "GET":
                return json_response(200, ws.get(ws.incidents, name, "Incident"))
            if req.method == "DELETE":
                return json_response(ws.delete_incident(name), None)
            self._method(req, "PUT")
            status, stored = ws.put_incident(name, self._body_object(body))
            return json_response(status, stored)
        if sub in ("alerts", "entities") and "sub_name" not in p:
            throttled = self.graph.throttle()  # about 100 per 5 minutes, like the service
            if throttled is not None:
                return throttled
        if sub == "alerts" and "sub_name" not in p:
            self._method(req, "POST")
            return json_response(200, {"value": ws.incident_alert_resources(name)})
        if sub == "entities" and "sub_name" not in p:
            self._method(req, "POST")
            return json_response(200, ws.incident_entities(name))
        if sub in ("comments", "relations"):
            return self._incident_children(req, p, body, name, sub)
        return error(404, "NotFound", "No such resource.")

    def _incident_children(self, req: EmuRequest, p: dict[str, str], body: Any, incident: str, sub: str) -> EmuResponse:
        ws = self.ws
        ws.get(ws.incidents, incident, "Incident")
        store = ws.comments if sub == "comments" else ws.relations
        bucket = store.setdefault(incident.lower(), {})
        child = p.get("sub_name")
        what = "Comment" if sub == "comments" else "Relation"
        if child is None:
            self._method(req, "GET")
            return self._list(req, list(bucket.values()))
        if req.method == "GET":
            return json_response(200, ws.get(bucket, child, what))
        if req.method == "DELETE":
            return json_response(ws.delete(bucket, child), None)
        self._method(req, "PUT")
        body = self._body_object(body)
        if sub == "comments":
            status, stored = ws.put_comment(incident, child, body)
            return json_response(status, stored)
        related = (body.get("properties") or {}).get("relatedResourceId")
        if not isinstance(related, str) or not related:
            raise ArmError(400, "BadRequest", "The 'properties.relatedResourceId' property is required.")
        status, stored = ws.put(
            bucket, f"incidents/{ws.get(ws.incidents, incident, 'Incident')['name']}/relations", child, body
        )
        stored["type"] = "Microsoft.SecurityInsights/incidents/relations"
        return json_response(status, stored)

    def _incident_list(self, req: EmuRequest) -> EmuResponse:
        query = dict(req.query_pairs)
        if "$skipToken" in query:
            extra = [k for k in ("$filter", "$orderby", "$top") if k in query]
            if extra:
                raise ArmError(
                    400,
                    "BadRequest",
                    f"{', '.join(extra)} cannot be combined with $skipToken: request the nextLink as returned.",
                )
            state = decode_token(query["$skipToken"])
        else:
            state = {"o": 0}
            for key, short in (("$filter", "f"), ("$orderby", "ob"), ("$top", "t")):
                if key in query:
                    state[short] = query[key]
        field, descending = parse_orderby(state.get("ob"))
        size = self.ws.page_size
        if "t" in state:
            try:
                size = int(state["t"])
            except ValueError as exc:
                raise ArmError(400, "BadRequest", f"Invalid $top '{state['t']}'.") from exc
            if not 1 <= size <= 1000:
                raise ArmError(400, "BadRequest", "The $top query parameter must be between 1 and 1000.")
        filter_text = None if self.faults.filter_ignored else state.get("f")
        items = self.incident_index.select(filter_text, field, descending)  # and/or/any(), cached per write
        deletions = self.faults.deletions_due(state["o"] // size) if state["o"] else 0
        if deletions:
            for served in self.faults.arrange(items)[: min(deletions, state["o"])]:
                self.ws.delete_incident(served["name"])
            items = self.incident_index.select(filter_text, field, descending)
        items = self.faults.arrange(items)
        token_state = {k: v for k, v in state.items() if k != "o"}
        return json_response(
            200, page(items, offset=state["o"], size=size, next_base=self._next_base(req), token_state=token_state)
        )

    # -- Log Analytics ----------------------------------------------------------------------------------
    def _query(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        ws = self.ws
        if "workspace" in p:
            if p["workspace"].lower() != ws.customer_id.lower():
                return self._la_error(
                    404, "WorkspaceNotFoundError", f"Workspace '{p['workspace']}' could not be found."
                )
        elif "sub" in p:
            self._check_workspace(p)
        elif p["resource"].lower() != ws.resource_id.lower():
            return self._la_error(404, "ResourceNotFoundError", f"The resource '{p['resource']}' could not be found.")
        if req.method == "GET":
            args: dict[str, Any] = dict(req.query_pairs)
        elif req.method == "POST":
            args = body if isinstance(body, dict) else {}
        else:
            raise ArmError(
                405, "MethodNotAllowed", f"The requested resource does not support http method '{req.method}'."
            )
        query = args.get("query")
        if not isinstance(query, str) or not query.strip():
            return self._la_error(
                400,
                "BadArgumentError",
                "The request had some invalid properties",
                ("QueryValidationError", "The 'query' property is required."),
            )
        now = self.clock.now()
        start = end = None
        timespan = args.get("timespan")
        if timespan is not None:
            try:
                start, end = parse_timespan(str(timespan), now)
            except ValueError as exc:
                return self._la_error(
                    400, "BadArgumentError", "The request had some invalid properties", ("InvalidTimespan", str(exc))
                )
        failed: list[dict[str, Any]] = []
        try:
            tables = ws.tables
            if self.cross is not None and self.cross.applies(query, args.get("workspaces")):
                limits = {"limit": self.faults.cross_limit, "failing": self.faults.failing_workspaces}
                tables, query, failed = self.cross.prepare(ws.customer_id, query, args.get("workspaces"), **limits)
            try:
                table = self.engine.run(tables, query, now=now, start=start, end=end)
            finally:
                if tables is not ws.tables:
                    self.engine.forget(tables)
        except CrossRefused as exc:
            return self._la_error(exc.status, "BadArgumentError", exc.message, (exc.inner_code, exc.message))
        except QueryFailed as exc:
            return self._la_error(
                400, "BadArgumentError", "The request had some invalid properties", (exc.kind, exc.message)
            )
        payload: dict[str, Any] = {"tables": [table]}
        limit = self.faults.query_rows_limit
        if limit is not None and len(table["rows"]) > limit:
            # As the service does: the rows up to the limit, and a PartialError whose inner error names the limit
            # (shape of a captured answer: the code is numeric, E_QUERY_RESULT_SET_TOO_LARGE is in the message).
            payload["tables"] = [{**table, "rows": table["rows"][:limit]}]
            payload["error"] = _partial_error(
                {
                    "code": "-2133196797",
                    "message": f"Query result set has exceeded the internal record count limit {limit} "
                    "(E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)",
                    "severity": 2,
                    "severityName": "Error",
                }
            )
        elif self.faults.take_partial():
            inner = {
                "code": "E_QUERY_RESULT_SET_TOO_LARGE",
                "message": "Query result set has exceeded the internal record count limit",
            }
            payload["error"] = {**_partial_error(inner), "innererror": inner}  # the older shape repeats it on top
        elif failed:  # workspaces a fuzzy cross-workspace union could not query: named, the others answered
            payload["error"] = {**_partial_error({}), "details": failed}
        return json_response(200, payload)

    @staticmethod
    def _la_error(status: int, code: str, message: str, inner: tuple[str, str] | None = None) -> EmuResponse:
        err: dict[str, Any] = {"code": code, "message": message}
        if inner is not None:
            err["innererror"] = {"code": inner[0], "message": inner[1]}
        return json_response(status, {"error": err})


def _partial_error(inner: dict[str, Any]) -> dict[str, Any]:
    """A query API ``PartialError`` body with ``inner`` as ``details[0].innererror``."""
    return {
        "code": "PartialError",
        "message": "There were some errors when processing your query.",
        "details": [
            {
                "code": "EngineError",
                "message": "Something went wrong processing your query on the server.",
                "innererror": inner,
            }
        ],
    }
