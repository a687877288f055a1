"""The emulated Defender XDR tenant behind Microsoft Graph ``/v1.0/security``: incidents that mirror the
workspace's Defender incidents (matched by ``providerIncidentId``), PATCH, ``alerts_v2`` with evidence, and the
per-incident rate limit of the Sentinel ``POST .../alerts`` and ``.../entities`` calls.

Sync model: the Defender view of an incident is derived from the workspace incident; a PATCH records Defender-side
values with their time, and a later Sentinel change of the same incident wins. With ``sync`` on (default), a PATCH
is also written to the workspace incident, as the Defender XDR connector does; with it off the portals drift
(what ``reconcile`` reports).
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from m365sentinel.emulator._arm_util import ArmError
from m365sentinel.emulator._engine import format_datetime
from m365sentinel.emulator._http import EmuRequest, EmuResponse, json_response
from m365sentinel.emulator._odata import compile_filter
from m365sentinel.emulator._parse import parse_datetime

if TYPE_CHECKING:
    from m365sentinel.emulator._core import Core

__all__ = ["DefenderTenant", "RateLimit"]

SKIP_LIMIT = 6000
_TO_GRAPH_STATUS = {"New": "active", "Active": "inProgress", "Closed": "resolved"}
_FROM_GRAPH_STATUS = {
    "active": "New",
    "inprogress": "Active",
    "awaitingaction": "Active",
    "resolved": "Closed",
    "redirected": "Closed",
}
_CLASS_FROM_GRAPH = {
    ("truepositive", None): ("TruePositive", "SuspiciousActivity"),
    ("informationalexpectedactivity", None): ("BenignPositive", "SuspiciousButExpected"),
    ("falsepositive", "notenoughdatatovalidate"): ("FalsePositive", "InaccurateData"),
    ("falsepositive", None): ("FalsePositive", "IncorrectAlertLogic"),
}
_CLASS_TO_GRAPH = {
    "TruePositive": ("truePositive", "other"),
    "BenignPositive": ("informationalExpectedActivity", "other"),
    "FalsePositive": ("falsePositive", "notMalicious"),
    "Undetermined": ("unknown", "unknown"),
}
_WRITABLE = ("assignedTo", "classification", "determination", "status", "customTags")
_EVIDENCE = {
    "account": "userEvidence",
    "host": "deviceEvidence",
    "ip": "ipEvidence",
    "file": "fileEvidence",
    "url": "urlEvidence",
    "mailbox": "mailboxEvidence",
}


class RateLimit:
    """At most ``limit`` calls per ``window`` of emulator time; ``retry_after`` says how long until the next."""

    def __init__(self, now: Callable[[], datetime], limit: int = 100, window: timedelta = timedelta(minutes=5)) -> None:
        self.now = now
        self.limit = limit
        self.window = window
        self.calls: deque[datetime] = deque()
        self.enabled = True

    def retry_after(self) -> int | None:
        if not self.enabled:
            return None
        now = self.now()
        while self.calls and self.calls[0] <= now - self.window:
            self.calls.popleft()
        if len(self.calls) >= self.limit:
            wait = (self.calls[0] + self.window - now).total_seconds()
            return max(1, int(wait + 0.999))
        self.calls.append(now)
        return None


class DefenderTenant:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.sync = True
        self.overrides: dict[str, dict[str, Any]] = {}  # Defender incident id -> PATCHed fields + "_at"
        self.rate_limit: RateLimit = RateLimit(core.clock.now)
        self._cache: tuple[Any, list[dict[str, Any]]] | None = None
        self._selected_state: tuple[Any, ...] | None = None
        self._selected_cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._ids: tuple[Any, dict[str, str]] | None = None
        self._alerts: tuple[Any, list[dict[str, Any]]] | None = None

    # -- routing -------------------------------------------------------------------------------------
    def route(self, parts: list[str], low: list[str]) -> tuple[Callable[..., EmuResponse], dict[str, str]] | None:
        if low == ["incidents"]:
            return self._list_incidents, {}
        if len(low) == 2 and low[0] == "incidents":
            return self._incident, {"id": parts[1]}
        if len(low) == 3 and low[0] == "incidents" and low[2] == "alerts":
            return self._incident_alerts, {"id": parts[1]}
        if low == ["alerts_v2"]:
            return self._list_alerts, {}
        return None

    def throttle(self) -> EmuResponse | None:
        """The Sentinel per-incident alerts/entities calls: about 100 per 5 minutes, then 429 + Retry-After."""
        wait = self.rate_limit.retry_after()
        if wait is None:
            return None
        return json_response(
            429,
            {"error": {"code": "TooManyRequests", "message": "Rate limit of incident alerts/entities calls exceeded."}},
            {"Retry-After": str(wait)},
        )

    # -- views ---------------------------------------------------------------------------------------
    def _resources(self) -> list[dict[str, Any]]:
        ws = self.core.ws
        return [r for r in ws.incidents.values() if r["properties"].get("providerIncidentId")]

    def view(self, resource: dict[str, Any], *, alerts: bool = False) -> dict[str, Any]:
        ws = self.core.ws
        p = resource["properties"]
        owner = p.get("owner") or {}
        klass, determination = _CLASS_TO_GRAPH.get(p.get("classification") or "", ("unknown", "unknown"))
        if p.get("classificationReason") == "InaccurateData":
            determination = "notEnoughDataToValidate"
        item: dict[str, Any] = {
            "id": p["providerIncidentId"],
            "tenantId": ws.tenant_id,
            "displayName": p.get("title"),
            "description": p.get("description", ""),
            "createdDateTime": p.get("createdTimeUtc"),
            "lastUpdateDateTime": p.get("lastModifiedTimeUtc"),
            "status": _TO_GRAPH_STATUS.get(p.get("status", ""), "unknownFutureValue"),
            "severity": str(p.get("severity", "")).lower(),
            "assignedTo": owner.get("userPrincipalName") or owner.get("email") or None,
            "classification": klass,
            "determination": determination,
            "incidentWebUrl": (p.get("additionalData") or {}).get("providerIncidentUrl"),
            "redirectIncidentId": None,
            "customTags": [label.get("labelName") for label in p.get("labels", [])],
            "systemTags": [],
            "comments": [],
        }
        override = self.overrides.get(item["id"])
        if override is not None and override["_at"] >= parse_datetime(item["lastUpdateDateTime"]):
            item.update({k: v for k, v in override.items() if not k.startswith("_")})
            item["lastUpdateDateTime"] = format_datetime(override["_at"])
        if alerts:
            item["alerts"] = [self._alert(a, resource) for a in ws.incident_alert_resources(resource["name"])]
        return item

    def _alert(self, alert: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
        a = alert["properties"]
        p = resource["properties"]
        ws = self.core.ws
        seeds = ws.incident_alerts.get(resource["name"].lower(), [])
        seed = next((s for s in seeds if s.system_alert_id == a.get("systemAlertId")), None)
        evidence = []
        for ent in seed.entities if seed is not None else []:
            evidence.append(
                {
                    "@odata.type": "#microsoft.graph.security." + _EVIDENCE.get(ent.kind.lower(), "fileEvidence"),
                    "createdDateTime": a.get("timeGenerated"),
                    "verdict": "suspicious",
                    "remediationStatus": "none",
                    "roles": [],
                    "tags": [],
                    **{k[0].lower() + k[1:]: v for k, v in ent.properties.items() if isinstance(v, str | int)},
                }
            )
        return {
            "id": a.get("providerAlertId") or a.get("systemAlertId"),
            "providerAlertId": a.get("providerAlertId"),
            "incidentId": p.get("providerIncidentId"),
            "tenantId": ws.tenant_id,
            "title": a.get("alertDisplayName"),
            "severity": str(a.get("severity", "")).lower(),
            "status": {"New": "new", "InProgress": "inProgress", "Resolved": "resolved"}.get(a.get("status"), "new"),
            "serviceSource": a.get("productName"),
            "createdDateTime": a.get("timeGenerated"),
            "lastUpdateDateTime": p.get("lastModifiedTimeUtc"),
            "firstActivityDateTime": a.get("startTimeUtc"),
            "lastActivityDateTime": a.get("endTimeUtc"),
            "evidence": evidence,
        }

    def _state_key(self) -> tuple[Any, ...]:
        """Changes whenever the workspace incidents or the Defender-side overrides do."""
        return (
            self.core.ws._etag_counter,
            len(self.core.ws.incidents),
            id(self.overrides),
            len(self.overrides),
            tuple(sorted((k, v["_at"]) for k, v in self.overrides.items())),
        )

    def _all_views(self) -> list[dict[str, Any]]:
        key = self._state_key()
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        views = [self.view(r) for r in self._resources()]
        self._cache = (key, views)
        return views

    def _selected(
        self,
        context: str,
        items: Callable[[], list[dict[str, Any]]],
        pred: Callable[[dict[str, Any]], bool] | None,
        filter_text: str | None,
        field: str,
        descending: bool,
    ) -> list[dict[str, Any]]:
        """Filtered, sorted items, cached until the next change: a backlog of thousands read in pages of 50
        would otherwise be filtered and sorted again for every page."""
        state = self._state_key()
        if state != self._selected_state:
            self._selected_cache.clear()
            self._selected_state = state
        key = (context, filter_text, field, descending)
        hit = self._selected_cache.get(key)
        if hit is None:
            hit = [i for i in items() if pred is None or pred(i)]
            hit.sort(key=lambda i: (i.get(field) and parse_datetime(i[field]), i["id"]), reverse=descending)
            if len(self._selected_cache) > 16:
                self._selected_cache.clear()
            self._selected_cache[key] = hit
        return hit

    # -- handlers ------------------------------------------------------------------------------------
    def _page(
        self,
        req: EmuRequest,
        items: Callable[[], list[dict[str, Any]]],
        context: str,
        expand: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> EmuResponse:
        query = dict(req.query_pairs)
        try:
            top = int(query.get("$top", "50"))
            skip = int(query.get("$skip", "0"))
        except ValueError as exc:
            raise ArmError(400, "BadRequest", "Invalid $top or $skip.") from exc
        if top < 1 or top > 1000 or skip < 0:
            raise ArmError(400, "BadRequest", "Invalid $top or $skip.")
        if top + skip > SKIP_LIMIT:
            raise ArmError(400, "BadRequest", f"The sum of $top and $skip must not exceed {SKIP_LIMIT}.")
        filter_text = None if self.core.faults.filter_ignored else query.get("$filter")
        pred = compile_filter(filter_text) if filter_text is not None else None
        field, _, direction = (query.get("$orderby") or "createdDateTime desc").partition(" ")
        if field not in ("createdDateTime", "lastUpdateDateTime"):
            raise ArmError(400, "BadRequest", f"Invalid $orderby '{query.get('$orderby')}'.")
        selected = self._selected(context, items, pred, filter_text, field, direction.strip().lower() == "desc")
        selected = self.core.faults.arrange(selected)
        value = selected[skip : skip + top]
        if expand is not None:
            value = [expand(v) for v in value]
        body: dict[str, Any] = {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#{context}",
            "value": value,
        }
        if skip + top < len(selected):
            nxt = [(k, v) for k, v in req.query_pairs if k != "$skip"] + [("$skip", str(skip + top))]
            body["@odata.nextLink"] = f"{req.origin}{req.path}?" + "&".join(f"{k}={quote(v)}" for k, v in nxt)
        return json_response(200, body)

    def _list_incidents(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        if req.method != "GET":
            raise ArmError(
                405, "MethodNotAllowed", f"The requested resource does not support http method '{req.method}'."
            )
        expand = None
        if "alerts" in dict(req.query_pairs).get("$expand", ""):
            ws = self.core.ws

            def expand(v: dict[str, Any]) -> dict[str, Any]:
                return self._cut_alerts(req, self.view(ws.incidents[self._names_by_id()[v["id"]]], alerts=True))

        return self._page(req, self._all_views, "security/incidents", expand)

    def _cut_alerts(self, req: EmuRequest, item: dict[str, Any]) -> dict[str, Any]:
        """``faults.expanded_page_size(n)``: the expanded ``alerts`` cut to n, ``alerts@odata.nextLink`` to the rest."""
        n = self.core.faults.expanded_alerts_page
        if n is None or len(item["alerts"]) <= n:
            return item
        item["alerts"] = item["alerts"][:n]
        item["alerts@odata.nextLink"] = (
            f"{req.origin}/v1.0/security/incidents/{quote(str(item['id']), safe='')}/alerts?$top={n}&$skip={n}"
        )
        return item

    def _incident_alerts(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        """GET /security/incidents/{id}/alerts: where an expanded collection's nextLink leads (pages of $top)."""
        if req.method != "GET":
            raise ArmError(
                405, "MethodNotAllowed", f"The requested resource does not support http method '{req.method}'."
            )
        alerts = self.view(self._find(p["id"]), alerts=True)["alerts"]  # in the order the expansion has them
        query = dict(req.query_pairs)
        try:
            top, skip = int(query.get("$top", "50")), int(query.get("$skip", "0"))
        except ValueError as exc:
            raise ArmError(400, "BadRequest", "Invalid $top or $skip.") from exc
        answer: dict[str, Any] = {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#security/incidents('{p['id']}')/alerts",
            "value": alerts[skip : skip + top],
        }
        if skip + top < len(alerts):
            answer["@odata.nextLink"] = f"{req.origin}{quote(req.path)}?$top={top}&$skip={skip + top}"
        return json_response(200, answer)

    def _names_by_id(self) -> dict[str, str]:
        """Defender incident id -> workspace incident key, cached with the views."""
        state = self._state_key()
        if self._ids is None or self._ids[0] != state:
            ids = {str(r["properties"]["providerIncidentId"]): r["name"].lower() for r in self._resources()}
            self._ids = (state, ids)
        return self._ids[1]

    def _list_alerts(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        if req.method != "GET":
            raise ArmError(
                405, "MethodNotAllowed", f"The requested resource does not support http method '{req.method}'."
            )

        return self._page(req, self._all_alerts, "security/alerts_v2")

    def _all_alerts(self) -> list[dict[str, Any]]:
        state = self._state_key()
        if self._alerts is None or self._alerts[0] != state:
            out: list[dict[str, Any]] = []
            for r in self._resources():
                out.extend(self._alert(a, r) for a in self.core.ws.incident_alert_resources(r["name"]))
            self._alerts = (state, out)
        return self._alerts[1]

    def _find(self, incident_id: str) -> dict[str, Any]:
        for r in self._resources():
            if str(r["properties"]["providerIncidentId"]) == incident_id:
                return r
        raise ArmError(404, "NotFound", f"Incident '{incident_id}' was not found.")

    def _incident(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        resource = self._find(p["id"])
        expand = "alerts" in dict(req.query_pairs).get("$expand", "")
        if req.method == "GET":
            item = self.view(resource, alerts=expand)
            return json_response(200, self._cut_alerts(req, item) if expand else item)
        if req.method != "PATCH":
            raise ArmError(
                405, "MethodNotAllowed", f"The requested resource does not support http method '{req.method}'."
            )
        if not isinstance(body, dict) or not body:
            raise ArmError(400, "BadRequest", "A JSON object with properties to update is required.")
        unknown = [k for k in body if k not in _WRITABLE]
        if unknown:
            raise ArmError(400, "BadRequest", f"Property '{unknown[0]}' cannot be updated.")
        self.patch(p["id"], body)
        return json_response(200, self.view(self._find(p["id"])))

    # -- state changes (also used by IncidentControl) ---------------------------------------------------
    def patch(self, incident_id: str, fields: dict[str, Any], *, sync: bool | None = None) -> None:
        """Set Defender-side values now; with sync, write the mapped values to the workspace incident too."""
        resource = self._find(incident_id)
        now = self.core.clock.now()
        entry = self.overrides.setdefault(incident_id, {})
        entry.update(copy.deepcopy(fields))
        entry["_at"] = now
        if not (self.sync if sync is None else sync):
            return
        props = copy.deepcopy(resource["properties"])
        if "status" in fields:
            props["status"] = _FROM_GRAPH_STATUS.get(str(fields["status"]).lower(), props["status"])
        if "assignedTo" in fields:
            props["owner"] = (
                {"userPrincipalName": fields["assignedTo"], "email": fields["assignedTo"]}
                if fields["assignedTo"]
                else {}
            )
        if "customTags" in fields:
            props["labels"] = [{"labelName": t, "labelType": "User"} for t in fields["customTags"]]
        if "classification" in fields:
            cls = str(fields["classification"]).lower()
            det = str(fields.get("determination") or "").lower()
            mapped = _CLASS_FROM_GRAPH.get((cls, det)) or _CLASS_FROM_GRAPH.get((cls, None))
            if mapped:
                props["classification"], props["classificationReason"] = mapped
        if props.get("status") == "Closed" and not props.get("classification"):
            props["classification"] = "Undetermined"
        if props.get("status") != "Closed":
            for key in ("classification", "classificationReason", "classificationComment"):
                props.pop(key, None)
        self.core.ws.put_incident(resource["name"], {"properties": props})
        entry["_at"] = self.core.clock.now()
