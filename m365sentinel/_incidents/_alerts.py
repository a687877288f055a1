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
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..models import Entity, IncidentAlert
from ..models._time import format_datetime
from ._entity_shape import arm_entities

__all__ = ["alerts_and_entities_from_rows"]


def _text_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
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
            extended = json.loads(extended)
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
        if not key:
            continue
        alerts.setdefault(key, []).append(IncidentAlert.from_json(_alert_doc(row)))
        bucket = entities.setdefault(key, {})
        for doc in arm_entities(row.get("Entities")):
            if doc["name"] not in bucket:  # the name is derived from kind + properties
                bucket[doc["name"]] = Entity.from_json(doc)
    for items in alerts.values():
        items.sort(key=lambda a: (str(a.time_generated), a.name or ""))
    return {k: tuple(v) for k, v in alerts.items()}, {k: tuple(v.values()) for k, v in entities.items()}
