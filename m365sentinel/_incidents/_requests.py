"""Request builders for incidents (I/O-free): ARM incidents and their children, Graph security incidents and
alerts, and the Log Analytics bulk-alert query. Each returns a ``RequestSpec``; nothing here sends anything."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .._errors import InvalidInputError
from .._inputs import check_text
from .._transport import RequestSpec, arm_request, graph_request, log_analytics_query_request
from ..models._time import format_datetime
from ._filters import odata_string

if TYPE_CHECKING:
    from .._routes import Routes

__all__ = ["IncidentRequests", "bulk_alerts_kql"]

# Graph's list APIs refuse $top + $skip above this (case B4).
GRAPH_SKIP_LIMIT = 6000


def _seg(value: str, what: str) -> str:
    check_text(value, what, expected="an id (e.g. a GUID)")
    if value in (".", "..") or any(c in value for c in "/\\?#"):
        raise InvalidInputError(f"{what} {value!r} is not a valid id (expected e.g. a GUID, no '/', '?' or '#')")
    return quote(value, safe="")


class IncidentRequests:
    """Builders bound to one workspace (``Routes``: cloud, workspace, api-versions)."""

    def __init__(self, routes: Routes) -> None:
        self._r = routes
        self._base = f"{routes.workspace.security_insights}/incidents"

    def _arm(self, method: str, tail: str, **kw: Any) -> RequestSpec:
        return arm_request(self._r.cloud, method, self._base + tail, self._r.v.incidents, **kw)

    # --- ARM incidents (api-version ``incidents``, 2025-09-01) -------------------------------------------------
    def list(self, *, filter: str | None, orderby: str | None, top: int | None) -> RequestSpec:
        return self._r.list_incidents(filter=filter, orderby=orderby, top=top)

    def get(self, name: str) -> RequestSpec:
        return self._arm("GET", "/" + _seg(name, "incident id"))

    def put(self, name: str, body: Mapping[str, Any]) -> RequestSpec:
        return self._arm("PUT", "/" + _seg(name, "incident id"), json=dict(body))

    def alerts(self, name: str) -> RequestSpec:
        """POST .../alerts: a read (retried on 429), rate-limited by the service (about 100 per 5 minutes)."""
        return self._arm("POST", f"/{_seg(name, 'incident id')}/alerts", retry_post=True)

    def entities(self, name: str) -> RequestSpec:
        return self._arm("POST", f"/{_seg(name, 'incident id')}/entities", retry_post=True)

    def comments(self, name: str) -> RequestSpec:
        return self._arm("GET", f"/{_seg(name, 'incident id')}/comments")

    def put_comment(self, name: str, comment_id: str, message: str) -> RequestSpec:
        if not isinstance(message, str) or not message.strip():
            raise InvalidInputError(f"comment message must be non-empty text, got {message!r}")
        return self._arm(
            "PUT",
            f"/{_seg(name, 'incident id')}/comments/{_seg(comment_id, 'comment id')}",
            json={"properties": {"message": message}},
        )

    # --- Microsoft Graph (/v1.0/security) ---------------------------------------------------------------------
    def graph_list(
        self,
        collection: str,
        *,
        filter: str | None,
        orderby: str | None = "lastUpdateDateTime asc",
        top: int,
        expand_alerts: bool = False,
    ) -> RequestSpec:
        """GET /security/{incidents|alerts_v2}?$filter&$orderby&$top[&$expand=alerts] (Prefer header included)."""
        if collection not in ("incidents", "alerts_v2"):
            raise InvalidInputError(f"Graph collection {collection!r}: expected 'incidents' or 'alerts_v2'")
        params: dict[str, str] = {}
        if filter:
            params["$filter"] = filter
        if orderby:
            params["$orderby"] = orderby
        params["$top"] = str(top)
        if expand_alerts:
            params["$expand"] = "alerts"
        return graph_request(self._r.cloud, "GET", f"/security/{collection}", params=params)

    def graph_alerts_of(self, incident_id: str, *, top: int) -> RequestSpec:
        """GET /security/alerts_v2?$filter=incidentId eq '<id>'&$top=N: one incident's alerts without ``$expand``."""
        _seg(incident_id, "Defender incident id")
        params = {"$filter": f"incidentId eq {odata_string(incident_id)}", "$top": str(top)}
        return graph_request(self._r.cloud, "GET", "/security/alerts_v2", params=params)

    def graph_get(self, incident_id: str, *, expand_alerts: bool = False) -> RequestSpec:
        params = {"$expand": "alerts"} if expand_alerts else None
        return graph_request(
            self._r.cloud, "GET", f"/security/incidents/{_seg(incident_id, 'Defender incident id')}", params=params
        )

    def graph_patch(self, incident_id: str, body: Mapping[str, Any]) -> RequestSpec:
        """PATCH /security/incidents/{id} (no etag exists on this API: callers re-read and compare)."""
        return graph_request(
            self._r.cloud,
            "PATCH",
            f"/security/incidents/{_seg(incident_id, 'Defender incident id')}",
            json=dict(body),
        )

    # --- Log Analytics ------------------------------------------------------------------------------------------
    def bulk_alerts(
        self, customer_id: str, incident_names: Sequence[str], start: datetime, end: datetime
    ) -> RequestSpec:
        """One query for the alerts of many incidents (SecurityIncident.AlertIds joined to SecurityAlert)."""
        span = f"{format_datetime(start)}/{format_datetime(end)}"
        return log_analytics_query_request(self._r.cloud, customer_id, bulk_alerts_kql(incident_names), span)

    def audit(self, customer_id: str, kql: str, start: datetime | None, end: datetime) -> RequestSpec:
        """The completeness audit query (``_audit.audit_kql``) over ``TimeGenerated`` in ``[start, end)``."""
        span = f"{format_datetime(start)}/{format_datetime(end)}" if start is not None else None
        return log_analytics_query_request(self._r.cloud, customer_id, kql, span)


def bulk_alerts_kql(incident_names: Sequence[str]) -> str:
    """KQL: the latest ``AlertIds`` of each named incident, expanded and joined to the latest row of each alert.

    ``SecurityIncident`` and ``SecurityAlert`` are append-only (one row per update), hence the ``arg_max``.
    Output columns: ``IncidentName``, ``AlertId`` (each id the incident lists) plus SecurityAlert's columns, empty
    when that alert has no row yet (left outer join); an incident listing no alert gives one row with ``AlertId``
    empty, so every incident Log Analytics knows is in the answer (the completeness checks of ``_alerts``).
    """
    from ..kql._literals import render_string  # deferred: the kql package costs ~9 ms to load, a listing needs none

    names = [n for n in dict.fromkeys(incident_names)]
    if not names or not all(isinstance(n, str) and n for n in names):
        raise InvalidInputError(f"incident names: expected non-empty strings, got {incident_names!r}")
    literal = "dynamic([" + ", ".join(render_string(n) for n in names) + "])"
    return (
        f"let names = {literal};\n"
        "SecurityIncident\n"
        "| where IncidentName in (names)\n"
        "| summarize arg_max(TimeGenerated, AlertIds) by IncidentName\n"
        "| extend Listed = todynamic(AlertIds)\n"
        '| project IncidentName, AlertId = iff(array_length(Listed) > 0, Listed, dynamic([""]))\n'
        "| mv-expand AlertId to typeof(string)\n"
        "| join kind=leftouter (SecurityAlert | summarize arg_max(TimeGenerated, *) by SystemAlertId)"
        " on $left.AlertId == $right.SystemAlertId"
    )
