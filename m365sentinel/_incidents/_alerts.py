"""Parsing of the bulk-alert query (pure): SecurityAlert rows → typed ``IncidentAlert`` and ``Entity`` per incident.

Entities come from each alert's ``Entities`` column (JSON: ``[{"$id", "Type": "account", ...}]``), reshaped by
``_entity_shape`` into what ``POST .../incidents/{id}/entities`` returns (``kind`` ``Account``, ``accountName``, ...)
and de-duplicated per incident by kind and content, so ``with_entities()`` needs no per-incident call either.

Alerts: every ARM ``SecurityAlert`` property a column provides is filled, named as ``POST .../alerts``
(2025-09-01) names it: ``AlertName``/``DisplayName`` → ``alertDisplayName``/``friendlyName``, ``AlertType``,
``AlertLink``, ``Description``, ``ConfidenceLevel`` (``""`` → ``"Unknown"``), ``ConfidenceScore``,
``CompromisedEntity``, ``ProductName``, ``ProductComponentName``, ``VendorOriginalId`` → ``providerAlertId``,
``SystemAlertId``, ``VendorName``, ``AlertSeverity`` → ``severity``, ``Status``, ``Tactics`` and
``RemediationSteps`` (lists), ``StartTime``/``EndTime`` → ``startTimeUtc``/``endTimeUtc``, ``TimeGenerated``,
``ProcessingEndTime``, ``ExtendedProperties`` → ``additionalData`` (its keys as they are),
``ResourceId`` and ``Workspace*``/``TenantId`` → ``resourceIdentifiers``. Not in the table, so never filled:
``additionalData.AlertMessageEnqueueTime`` (added by the service), the ARM ``id``. ``timeGenerated`` and
``processingEndTime`` are those of the alert's latest row (a status change writes a new row).

Completeness (``bulk_related``), checked before any incident of the batch is handed over:

* a ``PartialError`` answer is never read as complete. A result cut at the service's size limit (inner error
  ``E_QUERY_RESULT_SET_TOO_LARGE``) is queried again in two halves of the incident batch, down to one incident; one
  incident still too large, or any other partial answer, raises ``QueryError``;
* every alert id an incident's latest ``SecurityIncident`` row lists (``AlertIds``) must come back as a
  ``SecurityAlert`` row, the incident itself must have a ``SecurityIncident`` row, and that row must list at least
  the ``alertsCount`` the ARM incident shows. Log Analytics ingests minutes after ARM shows a change (ingestion
  lag), so a fresh incident often fails one of these: its alerts (and entities) then come from the per-incident ARM
  calls (``POST .../alerts``, ``.../entities``), the authoritative source, instead of arriving short or empty.
  Those calls are rate-limited (about 100 per 5 minutes): a long ingestion outage can make them answer 429 beyond
  the Retry-After ceiling, and the pass then stops with ``RateLimitedError`` before the page is delivered (the next
  poll takes it up again), never with incomplete alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .._errors import QueryError
from .._json import loads as decode_json
from .._transport._flow import Flow, done, run_local, send_query
from ..models import Entity, IncidentAlert, QueryResult
from ..models._time import format_datetime, shift
from ._entity_shape import arm_entities

if TYPE_CHECKING:
    from ..models import Incident, QueryErrorInfo
    from ._requests import IncidentRequests

__all__ = ["alerts_and_entities_from_rows", "bulk_related", "is_size_limit"]

LOGGER = logging.getLogger("m365sentinel")
SIZE_LIMIT_CODE = "E_QUERY_RESULT_SET_TOO_LARGE"


def _text_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            decoded = decode_json(value)
        except ValueError:
            return [v.strip() for v in value.split(",") if v.strip()]
        value = decoded
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _time(value: Any) -> str | None:
    return format_datetime(value) if isinstance(value, datetime) else (value or None)


def _confidence_level(row: Mapping[str, Any]) -> str | None:
    # The table writes "" where the ARM alert shows the swagger's default, "Unknown" (the official example).
    if "ConfidenceLevel" not in row:
        return None
    return str(row["ConfidenceLevel"] or "Unknown")


def _confidence_score(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _resource_identifiers(row: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """``resourceIdentifiers`` from the row: ``ResourceId`` as ``{"type": "AzureResource", "resourceId",
    "subscriptionId"}`` (the subscription parsed from the id) and the workspace as ``{"type": "LogAnalytics",
    "resourceGroup", "subscriptionId", "workspaceId"}`` (the official GetAllIncidentAlerts example) when
    ``WorkspaceResourceGroup``, ``WorkspaceSubscriptionId`` and ``TenantId`` (the workspace id) are all non-empty."""
    out: list[dict[str, str]] = []
    resource = str(row.get("ResourceId") or "")
    if resource:
        parts = resource.split("/")
        owner = parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""
        out.append({"type": "AzureResource", "resourceId": resource, **({"subscriptionId": owner} if owner else {})})
    group, sub, workspace = (row.get(k) for k in ("WorkspaceResourceGroup", "WorkspaceSubscriptionId", "TenantId"))
    if group and sub and workspace:
        out.append(
            {
                "type": "LogAnalytics",
                "resourceGroup": str(group),
                "subscriptionId": str(sub),
                "workspaceId": str(workspace),
            }
        )
    return out or None


def _alert_doc(row: Mapping[str, Any]) -> dict[str, Any]:
    extended = row.get("ExtendedProperties")
    if isinstance(extended, str):
        try:
            extended = decode_json(extended)
        except ValueError:
            extended = None
    props = {
        "alertDisplayName": row.get("AlertName") or row.get("DisplayName"),
        "alertType": row.get("AlertType"),
        "alertLink": row.get("AlertLink") or None,
        "description": row.get("Description"),
        "friendlyName": row.get("DisplayName") or row.get("AlertName"),
        "confidenceLevel": _confidence_level(row),
        "confidenceScore": _confidence_score(row.get("ConfidenceScore")),
        "compromisedEntity": row.get("CompromisedEntity") or None,
        "productName": row.get("ProductName"),
        "productComponentName": row.get("ProductComponentName") or None,
        "providerAlertId": row.get("VendorOriginalId") or None,
        "systemAlertId": row.get("SystemAlertId"),
        "vendorName": row.get("VendorName"),
        "severity": row.get("AlertSeverity"),
        "status": row.get("Status"),
        "tactics": _text_list(row.get("Tactics")),
        "remediationSteps": _text_list(row.get("RemediationSteps")),
        "startTimeUtc": _time(row.get("StartTime")),
        "endTimeUtc": _time(row.get("EndTime")),
        "timeGenerated": _time(row.get("TimeGenerated")),
        "processingEndTime": _time(row.get("ProcessingEndTime")),
        "additionalData": extended if isinstance(extended, dict) else None,
        "resourceIdentifiers": _resource_identifiers(row),
    }
    return {
        "name": row.get("SystemAlertId"),
        "kind": "SecurityAlert",
        "type": "Microsoft.SecurityInsights/Entities",
        "properties": {k: v for k, v in props.items() if v is not None},
    }


def alerts_and_entities_from_rows(
    rows: Iterable[Mapping[str, Any]],
) -> tuple[dict[str, tuple[IncidentAlert, ...]], dict[str, tuple[Entity, ...]]]:
    """Group the query's rows (dicts: ``IncidentName`` + SecurityAlert columns) per incident name (lower case).

    Returns ``(alerts, entities)``: ``IncidentAlert`` sorted by ``timeGenerated``, and ``Entity`` in ARM shape
    (see ``_entity_shape.arm_entities``) in order of first appearance, each once per incident.
    """
    alerts: dict[str, list[IncidentAlert]] = {}
    entities: dict[str, dict[str, Entity]] = {}
    for row in rows:
        key = str(row.get("IncidentName") or "").lower()
        if not key or ("AlertId" in row and not row.get("SystemAlertId")):
            continue  # no incident, or a listed alert id without its SecurityAlert row (``lagging_incidents``)
        alerts.setdefault(key, []).append(IncidentAlert.from_json(_alert_doc(row)))
        bucket = entities.setdefault(key, {})
        for doc in arm_entities(row.get("Entities")):
            if doc["name"] not in bucket:  # the name is derived from kind + properties
                bucket[doc["name"]] = Entity.from_json(doc)
    for items in alerts.values():
        items.sort(key=lambda a: (str(a.time_generated), a.name or ""))
    return {k: tuple(v) for k, v in alerts.items()}, {k: tuple(v.values()) for k, v in entities.items()}


def is_size_limit(error: QueryErrorInfo) -> bool:
    """True when a partial answer was cut at the result size limit: ``E_QUERY_RESULT_SET_TOO_LARGE`` in a code or
    message anywhere in the error (the service puts it in ``details[].innererror.message``, its code being numeric)."""

    def mentions(node: Any) -> bool:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in ("code", "message") and isinstance(value, str) and SIZE_LIMIT_CODE in value:
                    return True
                if mentions(value):
                    return True
        elif isinstance(node, list | tuple):
            return any(mentions(v) for v in node)
        return False

    return mentions(error.raw)


def halves_to_retry(names: Sequence[str], result: QueryResult) -> list[Sequence[str]]:
    """The decision on one bulk-query answer (pure, shared by sync and async shells): ``[]`` when ``result`` is
    complete, the two halves of ``names`` to ask for instead when it was cut at the size limit. Raises QueryError for
    one incident still too large, or for any other partial answer."""
    error = result.error
    if error is None:
        return []
    detail = error.inner_message or error.message or ""
    if not is_size_limit(error):
        raise QueryError(
            f"the alerts query for {len(names)} incident(s) answered a partial result ({detail}); nothing of it is "
            "delivered",
            code=error.code,
            inner=dict(error.raw),
        )
    if len(names) == 1:
        raise QueryError(
            f"the alerts of incident {names[0]} alone exceed the Log Analytics result size limit ({detail}); read "
            "them with with_alerts(source='per_incident')",
            code=error.code,
            inner=dict(error.raw),
        )
    LOGGER.info("alerts query cut at the size limit for %d incidents; querying again in two halves", len(names))
    half = len(names) // 2
    return [names[:half], names[half:]]


def query_rows(send: Callable[[Sequence[str]], QueryResult], names: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of the bulk query for ``names``, whole (``halves_to_retry`` decides; at most ``2 * len(names) - 1``
    queries, in order). Raises QueryError as ``halves_to_retry`` does."""
    return run_local(query_rows_flow(lambda batch: done(send(batch)), names))


def query_rows_flow(
    send: Callable[[Sequence[str]], Flow[QueryResult]], names: Sequence[str]
) -> Flow[list[dict[str, Any]]]:
    """``query_rows`` as a flow: ``send(batch)`` is the flow that runs the query for ``batch``."""
    rows: list[dict[str, Any]] = []
    todo: list[Sequence[str]] = [names]
    while todo:
        batch = todo.pop()
        result = yield from send(batch)
        halves = halves_to_retry(batch, result)
        if halves:
            todo.extend(reversed(halves))
        elif result.tables:
            rows.extend(result.tables[0].to_dicts())
    return rows


def lagging_incidents(incidents: Sequence[Incident], rows: Iterable[Mapping[str, Any]]) -> list[Incident]:
    """The incidents whose Log Analytics view is not complete yet (pure): no ``SecurityIncident`` row, a listed
    alert id without its ``SecurityAlert`` row, or fewer listed alert ids than the ARM incident's ``alertsCount``."""
    listed: dict[str, set[str]] = {}
    missing: set[str] = set()
    for row in rows:
        key = str(row.get("IncidentName") or "").lower()
        alert_id = str(row.get("AlertId") or "")
        ids = listed.setdefault(key, set())
        if alert_id:
            ids.add(alert_id.lower())
            if not row.get("SystemAlertId"):
                missing.add(key)
    out = []
    for inc in incidents:
        key = (inc.name or "").lower()
        count = inc.additional_data.alerts_count if inc.additional_data is not None else None
        if key not in listed or key in missing or (count is not None and count > len(listed[key])):
            out.append(inc)
    return out


def bulk_related(
    requests: IncidentRequests,
    customer_id: str,
    incidents: Sequence[Incident],
    *,
    now: datetime,
    per_incident: Callable[[Sequence[Incident], str], Flow[dict[str, tuple[Any, ...]]]],
    alerts: bool,
    entities: bool,
) -> Flow[tuple[dict[str, tuple[IncidentAlert, ...]], dict[str, tuple[Entity, ...]]]]:
    """Alerts and entities of a page of incidents (keyed by lower-case incident name), complete or not at all.

    One Log Analytics query (``POST /v1/workspaces/{id}/query``, ``SecurityIncident.AlertIds`` joined to
    ``SecurityAlert``), split on the size limit (``query_rows``); incidents that Log Analytics does not show whole
    yet (``lagging_incidents``) get theirs from ``per_incident(incidents, "alerts" | "entities")`` (the ARM
    per-incident calls) for what was asked (``alerts``, ``entities``). A flow (``_transport._flow``). Raises
    QueryError (partial answers), and whatever the HTTP client raises."""
    created = [i.created_time_utc for i in incidents if i.created_time_utc is not None]
    modified = [i.last_modified_time_utc for i in incidents if i.last_modified_time_utc is not None]
    start = shift(min(created or modified or [now]), -timedelta(days=1))  # clamped: year 1 and 9999 do not overflow
    end = shift(max([*modified, now]), timedelta(days=1))

    def send(names: Sequence[str]) -> Flow[QueryResult]:
        body = yield from send_query(requests.bulk_alerts(customer_id, names, start, end))
        return QueryResult.from_json(body)

    names = [i.name for i in incidents if i.name]
    rows = (yield from query_rows_flow(send, names)) if names else []
    by_alerts, by_entities = alerts_and_entities_from_rows(rows)
    lagging = lagging_incidents(incidents, rows)
    if lagging:
        LOGGER.info(
            "%d of %d incidents are not whole in Log Analytics yet (ingestion lag); their alerts/entities come from "
            "the per-incident calls",
            len(lagging),
            len(incidents),
        )
        if alerts:
            by_alerts.update((yield from per_incident(lagging, "alerts")))
        if entities:
            by_entities.update((yield from per_incident(lagging, "entities")))
    return by_alerts, by_entities
