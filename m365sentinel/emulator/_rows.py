"""Conversions between the emulator's records and the shapes the services expose.

One function per shape, so the ARM routes and the Log Analytics tables always describe the same incident:
ARM incident JSON -> ``SecurityIncident`` row, alert -> ``SecurityAlert`` row and ARM alert entity,
entity -> ARM entity.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from m365sentinel.emulator._dataset import AlertSeed, EntitySeed
from m365sentinel.emulator._engine import format_datetime

__all__ = ["alert_entities_json", "alert_resource", "alert_row", "entity_resource", "incident_row"]


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    from m365sentinel.emulator._parse import parse_datetime

    return parse_datetime(str(value))


def incident_row(
    resource: dict[str, Any], *, time: datetime, customer_id: str, alert_ids: list[str], modified_by: str
) -> dict[str, Any]:
    """The ``SecurityIncident`` row written when the incident *resource* (ARM JSON) changes at *time*."""
    p = resource.get("properties", {})
    owner = p.get("owner") or {}
    return {
        "TenantId": customer_id,
        "TimeGenerated": time,
        "IncidentName": resource["name"],
        "Title": p.get("title"),
        "Description": p.get("description", ""),
        "Severity": p.get("severity"),
        "Status": p.get("status"),
        "Classification": p.get("classification") or "",
        "ClassificationComment": p.get("classificationComment") or "",
        "ClassificationReason": p.get("classificationReason") or "",
        "Owner": {k: owner.get(k) for k in ("objectId", "email", "assignedTo", "userPrincipalName")},
        "ProviderName": p.get("providerName"),
        "ProviderIncidentId": p.get("providerIncidentId") or "",
        "FirstActivityTime": _dt(p.get("firstActivityTimeUtc")),
        "LastActivityTime": _dt(p.get("lastActivityTimeUtc")),
        "FirstModifiedTime": _dt(p.get("createdTimeUtc")),
        "LastModifiedTime": _dt(p.get("lastModifiedTimeUtc")),
        "CreatedTime": _dt(p.get("createdTimeUtc")),
        "ClosedTime": time if p.get("status") == "Closed" else None,
        "IncidentNumber": p.get("incidentNumber"),
        "RelatedAnalyticRuleIds": p.get("relatedAnalyticRuleIds", []),
        "AlertIds": list(alert_ids),
        "BookmarkIds": [],
        "Comments": [],
        "Tasks": [],
        "Labels": p.get("labels", []),
        "IncidentUrl": p.get("incidentUrl"),
        "AdditionalData": p.get("additionalData", {}),
        "ModifiedBy": modified_by,
        "SourceSystem": "Azure",
        "Type": "SecurityIncident",
        "_BilledSize": 2400.0,
        "_IsBillable": "False",
    }


def product_names(alert: AlertSeed, spec: dict[str, Any], xdr_name: str) -> tuple[str, str]:
    """(ProductName, ProductComponentName) as Sentinel shows them before/after the XDR rename."""
    if alert.xdr_names:
        return xdr_name, spec["component_name"]
    return spec["product_name"], ""


def alert_row(
    alert: AlertSeed,
    *,
    spec: dict[str, Any],
    xdr_name: str,
    status: str,
    time: datetime,
    customer_id: str,
    subscription_id: str,
    resource_group: str,
    tenant_id: str,
) -> dict[str, Any]:
    """One ``SecurityAlert`` row for *alert* in *status* written at *time*."""
    product, component = product_names(alert, spec, xdr_name)
    entities = alert_entities_json(alert.entities)
    compromised = next((e.properties.get("hostName") for e in alert.entities if e.kind == "Host"), "")
    return {
        "TimeGenerated": time,
        "DisplayName": alert.title,
        "AlertName": alert.title,
        "AlertSeverity": alert.severity,
        "Description": f"{alert.title}. Review the alert story in the Microsoft Defender portal.",
        "ProviderName": spec["alert_provider"],
        "VendorName": "Microsoft",
        "VendorOriginalId": alert.vendor_original_id,
        "SystemAlertId": alert.system_alert_id,
        "ResourceId": "",
        "SourceComputerId": "",
        "AlertType": spec["alert_type"],
        "ConfidenceLevel": "",
        "ConfidenceScore": None,
        "IsIncident": False,
        "StartTime": alert.start,
        "EndTime": alert.end,
        "ProcessingEndTime": time,
        "RemediationSteps": "[]",
        "ExtendedProperties": '{"MicrosoftDefenderXdrAlert":"true","Category":"' + alert.tactic + '"}',
        "Entities": entities,
        "WorkspaceSubscriptionId": subscription_id,
        "WorkspaceResourceGroup": resource_group,
        "ExtendedLinks": "",
        "ProductName": product,
        "ProductComponentName": component,
        "AlertLink": f"https://security.microsoft.com/alerts/{alert.vendor_original_id}?tid={tenant_id}",
        "Status": status,
        "CompromisedEntity": compromised,
        "Tactics": alert.tactic,
        "Techniques": alert.technique.split(".")[0] if alert.technique else "",
        "SubTechniques": alert.technique if "." in alert.technique else "",
        "Type": "SecurityAlert",
        "_BilledSize": 3100.0,
        "_IsBillable": "False",
    }


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def alert_entities_json(entities: list[EntitySeed]) -> str:
    """SecurityAlert ``Entities`` for *entities*, as Defender writes it: each item gets a ``$id`` (from "2"); nested
    entities (a File's FileHashes) are written inline with their own ``$id`` and then listed again at the top
    level as ``{"$ref"}`` (the MDATP sample row in tests/reference/samples/tables)."""
    counter = iter(range(2, 1 << 30))
    items: list[dict[str, Any]] = []
    for entity in entities:
        item: dict[str, Any] = {"$id": str(next(counter))}
        refs: list[str] = []
        for key, value in entity.alert_entity.items():
            if key == "FileHashes":
                nested = [{"$id": str(next(counter)), **h} for h in value]
                refs += [n["$id"] for n in nested]
                item[key] = nested
            else:
                item[key] = value
        items.append(item)
        items += [{"$ref": r} for r in refs]
    return _json(items)


def _text_list(value: str) -> list[str]:
    if not value:
        return []
    if value.startswith("["):
        decoded = json.loads(value)
        return [str(v) for v in decoded] if isinstance(decoded, list) else [str(decoded)]
    return [v.strip() for v in value.split(",") if v.strip()]


def _arm_time(value: Any) -> Any:
    return format_datetime(value) if isinstance(value, datetime) else value


def alert_resource(row: dict[str, Any], *, workspace_resource_id: str, customer_id: str) -> dict[str, Any]:
    """The ARM ``SecurityAlert`` entity returned by ``POST {incident}/alerts``, derived from the alert's
    ``SecurityAlert`` *row* (``alert_row`` written at the alert's generation time, in its current status), in the
    shape of the official example GetAllIncidentAlerts.json: ``additionalData`` is ``ExtendedProperties`` plus the
    service's ``AlertMessageEnqueueTime``; ``resourceIdentifiers`` names the workspace (``WorkspaceSubscriptionId``,
    ``WorkspaceResourceGroup`` and the workspace id *customer_id*) plus, for a non-empty ``ResourceId``, an
    ``AzureResource`` identifier; an empty
    ``ConfidenceLevel`` shows as the swagger's default ``"Unknown"``; empty strings are left out."""
    extended = json.loads(row["ExtendedProperties"]) if row.get("ExtendedProperties") else {}
    identifiers: list[dict[str, Any]] = []
    if row.get("ResourceId"):
        rid = str(row["ResourceId"])
        parts = rid.split("/")
        sub = parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else None
        identifiers.append({"type": "AzureResource", "resourceId": rid, **({"subscriptionId": sub} if sub else {})})
    identifiers.append(
        {
            "type": "LogAnalytics",
            "resourceGroup": row["WorkspaceResourceGroup"],
            "subscriptionId": row["WorkspaceSubscriptionId"],
            "workspaceId": customer_id,
        }
    )
    props: dict[str, Any] = {
        "additionalData": {**extended, "AlertMessageEnqueueTime": _arm_time(row["TimeGenerated"])},
        "alertDisplayName": row["AlertName"],
        "alertLink": row.get("AlertLink"),
        "alertType": row["AlertType"],
        "compromisedEntity": row.get("CompromisedEntity"),
        "confidenceLevel": row.get("ConfidenceLevel") or "Unknown",
        "confidenceScore": row.get("ConfidenceScore"),
        "description": row.get("Description"),
        "endTimeUtc": _arm_time(row["EndTime"]),
        "friendlyName": row["DisplayName"],
        "processingEndTime": _arm_time(row["ProcessingEndTime"]),
        "productComponentName": row.get("ProductComponentName"),
        "productName": row["ProductName"],
        "providerAlertId": row["VendorOriginalId"],
        "remediationSteps": _text_list(row.get("RemediationSteps") or ""),
        "resourceIdentifiers": identifiers,
        "severity": row["AlertSeverity"],
        "startTimeUtc": _arm_time(row["StartTime"]),
        "status": row["Status"],
        "systemAlertId": row["SystemAlertId"],
        "tactics": _text_list(row.get("Tactics") or ""),
        "timeGenerated": _arm_time(row["TimeGenerated"]),
        "vendorName": row["VendorName"],
    }
    name = row["SystemAlertId"]
    return {
        "name": name,
        "type": "Microsoft.SecurityInsights/Entities",
        "id": f"{workspace_resource_id}/providers/Microsoft.SecurityInsights/Entities/{name}",
        "kind": "SecurityAlert",
        "properties": {k: v for k, v in props.items() if v is not None and v != ""},
    }


def entity_resource(
    entity: EntitySeed, *, workspace_resource_id: str, name: str, links: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ARM entity returned by ``POST {incident}/entities``: the seed's properties plus *links* (ARM
    ``<x>EntityId(s)`` holding other entities' names, e.g. a File's ``fileHashEntityIds``)."""
    return {
        "name": name,
        "type": "Microsoft.SecurityInsights/Entities",
        "id": f"{workspace_resource_id}/providers/Microsoft.SecurityInsights/Entities/{name}",
        "kind": entity.kind,
        "properties": {**entity.properties, **(links or {})},
    }
