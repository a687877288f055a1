"""Conversions between the emulator's records and the shapes the services expose.

One function per shape, so the ARM routes and the Log Analytics tables always describe the same incident:
ARM incident JSON -> ``SecurityIncident`` row, alert -> ``SecurityAlert`` row and ARM alert entity,
entity -> ARM entity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from m365sentinel.emulator._dataset import AlertSeed, EntitySeed
from m365sentinel.emulator._engine import format_datetime

__all__ = ["alert_resource", "alert_row", "entity_resource", "incident_row"]


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
    entities = [{"$id": str(i), **e.alert_entity} for i, e in enumerate(alert.entities, start=2)]
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
        "Entities": _json(entities),
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
    import json

    return json.dumps(value, separators=(",", ":"))


def alert_resource(
    alert: AlertSeed,
    *,
    spec: dict[str, Any],
    xdr_name: str,
    status: str,
    workspace_resource_id: str,
    subscription_id: str,
    resource_group: str,
    customer_id: str,
) -> dict[str, Any]:
    """The ARM ``SecurityAlert`` entity returned by ``POST {incident}/alerts``."""
    product, _ = product_names(alert, spec, xdr_name)
    return {
        "name": alert.system_alert_id,
        "type": "Microsoft.SecurityInsights/Entities",
        "id": f"{workspace_resource_id}/providers/Microsoft.SecurityInsights/Entities/{alert.system_alert_id}",
        "kind": "SecurityAlert",
        "properties": {
            "additionalData": {"AlertMessageEnqueueTime": format_datetime(alert.generated)},
            "alertDisplayName": alert.title,
            "alertType": spec["alert_type"],
            "confidenceLevel": "Unknown",
            "endTimeUtc": format_datetime(alert.end),
            "friendlyName": alert.title,
            "processingEndTime": format_datetime(alert.generated),
            "productName": product,
            "providerAlertId": alert.vendor_original_id,
            "resourceIdentifiers": [
                {
                    "type": "LogAnalytics",
                    "resourceGroup": resource_group,
                    "subscriptionId": subscription_id,
                    "workspaceId": customer_id,
                }
            ],
            "severity": alert.severity,
            "startTimeUtc": format_datetime(alert.start),
            "status": status,
            "systemAlertId": alert.system_alert_id,
            "tactics": [alert.tactic],
            "timeGenerated": format_datetime(alert.generated),
            "vendorName": "Microsoft",
        },
    }


def entity_resource(entity: EntitySeed, *, workspace_resource_id: str, name: str) -> dict[str, Any]:
    """The ARM entity returned by ``POST {incident}/entities``."""
    return {
        "name": name,
        "type": "Microsoft.SecurityInsights/Entities",
        "id": f"{workspace_resource_id}/providers/Microsoft.SecurityInsights/Entities/{name}",
        "kind": entity.kind,
        "properties": dict(entity.properties),
    }
