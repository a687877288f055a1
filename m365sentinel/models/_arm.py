"""ARM resources the SDK reads: subscription, workspace, Sentinel data connectors, rules, settings, incidents.

Every resource model is frozen, parsed with ``Model.from_json(dict)`` and keeps the full document in ``raw`` (deep
read-only) so a PUT can merge intended changes into exactly what was read (``put_body``). ``properties`` is
flattened into the model's fields. Optional fields are ``None`` when the service left them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from ._base import JsonModel, raw_field
from ._enums import (
    AlertSeverity,
    AlertStatus,
    AuthorizationState,
    DataTypeState,
    IncidentClassification,
    IncidentClassificationReason,
    IncidentSeverity,
    IncidentStatus,
    LicenseState,
    OwnerType,
)

__all__ = [
    "AlertRule",
    "AnomaliesSetting",
    "ClientInfo",
    "DataConnector",
    "DataConnectorRequirements",
    "DataTypeConnection",
    "Entity",
    "EntityAnalyticsSetting",
    "EntityKindCount",
    "EyesOnSetting",
    "Incident",
    "IncidentAdditionalData",
    "IncidentAlert",
    "IncidentComment",
    "IncidentEntities",
    "IncidentLabel",
    "IncidentOwner",
    "IncidentRelation",
    "MicrosoftSecurityIncidentCreationRule",
    "MicrosoftThreatProtectionConnector",
    "MtpDataTypes",
    "MtpFilteredProviders",
    "OnboardingState",
    "Setting",
    "Subscription",
    "UebaSetting",
    "Workspace",
]

_frozen = attrs.frozen(kw_only=True)


# --- subscription and workspace ------------------------------------------------------------------------------


@_frozen
class Subscription(JsonModel):
    """``GET /subscriptions/{id}`` (api-version 2022-12-01): ``tenant_id`` is the workspace's home tenant."""

    id: str | None = None
    subscription_id: str | None = None
    tenant_id: str | None = None
    display_name: str | None = None
    state: str | None = None
    raw: Mapping[str, Any] = raw_field()


@_frozen
class Workspace(JsonModel):
    """``Microsoft.OperationalInsights/workspaces`` (2023-09-01). ``customer_id`` is the GUID the query API uses."""

    _ENVELOPE: ClassVar[bool] = True

    id: str | None = None
    name: str | None = None
    type: str | None = None
    etag: str | None = None
    location: str | None = None
    customer_id: str | None = None
    provisioning_state: str | None = None
    retention_in_days: int | None = None
    sku: Mapping[str, Any] | None = None
    created_date: datetime | None = None
    modified_date: datetime | None = None
    raw: Mapping[str, Any] = raw_field()


@_frozen
class OnboardingState(JsonModel):
    """``{ws}/onboardingStates/default``: Sentinel is onboarded on the workspace when this exists."""

    _ENVELOPE: ClassVar[bool] = True

    id: str | None = None
    name: str | None = None
    type: str | None = None
    etag: str | None = None
    customer_managed_key: bool | None = None
    raw: Mapping[str, Any] = raw_field()


# --- data connectors -----------------------------------------------------------------------------------------


@_frozen
class DataTypeConnection:
    """``{"state": "Enabled" | "Disabled"}`` of one connector data type."""

    state: DataTypeState | None = None


@_frozen
class MtpDataTypes:
    incidents: DataTypeConnection | None = None
    alerts: DataTypeConnection | None = None


@_frozen
class MtpFilteredProviders:
    """Alert providers streamed by the MTP connector (``microsoftDefenderForCloudApps`` ...); open values."""

    alerts: tuple[str, ...] = ()


@_frozen
class DataConnector(JsonModel):
    """Any Sentinel data connector (``{ws}/dataConnectors/{id}``). ``from_json`` returns the specific view for a
    known kind (``MicrosoftThreatProtectionConnector``); other kinds stay generic with their document in ``raw``.
    """

    _ENVELOPE: ClassVar[bool] = True
    _KINDS: ClassVar[dict[str, Any] | None] = {}

    id: str | None = None
    name: str | None = None
    type: str | None = None
    etag: str | None = None
    kind: str | None = None
    tenant_id: str | None = None
    raw: Mapping[str, Any] = raw_field()


@_frozen
class MicrosoftThreatProtectionConnector(DataConnector):
    """The Microsoft Defender XDR (``MicrosoftThreatProtection``) connector; preview api-versions only."""

    _KIND: ClassVar[str | None] = "MicrosoftThreatProtection"

    data_types: MtpDataTypes | None = None
    filtered_providers: MtpFilteredProviders | None = None

    @property
    def incidents_state(self) -> DataTypeState | None:
        """``dataTypes.incidents.state`` (required by the service), or ``None`` if absent."""
        dt = self.data_types
        return dt.incidents.state if dt is not None and dt.incidents is not None else None

    @property
    def alerts_state(self) -> DataTypeState | None:
        """``dataTypes.alerts.state`` (absent in the 2021 shape), or ``None``."""
        dt = self.data_types
        return dt.alerts.state if dt is not None and dt.alerts is not None else None


@_frozen
class DataConnectorRequirements(JsonModel):
    """Answer of ``POST {ws}/dataConnectorsCheckRequirements`` (preview api-versions)."""

    authorization_state: AuthorizationState | None = None
    license_state: LicenseState | None = None
    raw: Mapping[str, Any] = raw_field()

    @property
    def ok(self) -> bool:
        """Both states are ``Valid``."""
        return self.authorization_state == AuthorizationState.VALID and self.license_state == LicenseState.VALID


# --- alert rules -------------------------------------------------------------------------------------------


@_frozen
class AlertRule(JsonModel):
    """Any analytics rule (``{ws}/alertRules/{id}``); ``from_json`` returns the specific view for known kinds."""

    _ENVELOPE: ClassVar[bool] = True
    _KINDS: ClassVar[dict[str, Any] | None] = {}
    _READ_ONLY: ClassVar[tuple[str, ...]] = ("lastModifiedUtc",)

    id: str | None = None
    name: str | None = None
    type: str | None = None
    etag: str | None = None
    kind: str | None = None
    display_name: str | None = None
    enabled: bool | None = None
    last_modified_utc: datetime | None = None
    raw: Mapping[str, Any] = raw_field()


@_frozen
class MicrosoftSecurityIncidentCreationRule(AlertRule):
    """A rule that turns one Microsoft product's alerts into Sentinel incidents (case A5 turns them off).

    ``product_filter`` is the product name as text (names change over time; they are data, not an enum).
    """

    _KIND: ClassVar[str | None] = "MicrosoftSecurityIncidentCreation"

    product_filter: str | None = None
    severities_filter: tuple[AlertSeverity, ...] | None = None
    display_names_filter: tuple[str, ...] | None = None
    display_names_exclude_filter: tuple[str, ...] | None = None
    description: str | None = None
    alert_rule_template_name: str | None = None


# --- settings ------------------------------------------------------------------------------------------------


@_frozen
class Setting(JsonModel):
    """A Sentinel setting (``{ws}/settings/{name}``, preview api-versions); unknown kinds stay generic."""

    _ENVELOPE: ClassVar[bool] = True
    _KINDS: ClassVar[dict[str, Any] | None] = {}

    id: str | None = None
    name: str | None = None
    type: str | None = None
    etag: str | None = None
    kind: str | None = None
    raw: Mapping[str, Any] = raw_field()


@_frozen
class EntityAnalyticsSetting(Setting):
    """Entity sync providers (``ActiveDirectory``, ``AzureActiveDirectory``); open values."""

    _KIND: ClassVar[str | None] = "EntityAnalytics"

    entity_providers: tuple[str, ...] | None = None


@_frozen
class UebaSetting(Setting):
    """UEBA data sources (``AuditLogs``, ``AzureActivity``, ``SecurityEvent``, ``SigninLogs``); open values."""

    _KIND: ClassVar[str | None] = "Ueba"

    data_sources: tuple[str, ...] | None = None


@_frozen
class EyesOnSetting(Setting):
    _KIND: ClassVar[str | None] = "EyesOn"
    _READ_ONLY: ClassVar[tuple[str, ...]] = ("isEnabled",)

    is_enabled: bool | None = None


@_frozen
class AnomaliesSetting(Setting):
    _KIND: ClassVar[str | None] = "Anomalies"
    _READ_ONLY: ClassVar[tuple[str, ...]] = ("isEnabled",)

    is_enabled: bool | None = None


# --- incidents -----------------------------------------------------------------------------------------------


@_frozen
class IncidentOwner:
    object_id: str | None = None
    email: str | None = None
    assigned_to: str | None = None
    user_principal_name: str | None = None
    owner_type: OwnerType | None = None


@_frozen
class IncidentLabel:
    label_name: str
    label_type: str | None = None


@_frozen
class IncidentAdditionalData:
    alerts_count: int | None = None
    bookmarks_count: int | None = None
    comments_count: int | None = None
    alert_product_names: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    provider_incident_url: str | None = None


@_frozen
class Incident(JsonModel):
    """A Sentinel incident (``{ws}/incidents/{id}``, api-version 2025-09-01). Times are aware UTC."""

    _ENVELOPE: ClassVar[bool] = True
    _READ_ONLY: ClassVar[tuple[str, ...]] = (
        "additionalData",
        "createdTimeUtc",
        "incidentUrl",
        "incidentNumber",
        "lastModifiedTimeUtc",
        "providerName",
        "providerIncidentId",
        "relatedAnalyticRuleIds",
    )

    id: str | None = None
    name: str | None = None
    type: str | None = None
    etag: str | None = None
    title: str | None = None
    description: str | None = None
    severity: IncidentSeverity | None = None
    status: IncidentStatus | None = None
    classification: IncidentClassification | None = None
    classification_reason: IncidentClassificationReason | None = None
    classification_comment: str | None = None
    owner: IncidentOwner | None = None
    labels: tuple[IncidentLabel, ...] = ()
    incident_number: int | None = None
    incident_url: str | None = None
    provider_name: str | None = None
    provider_incident_id: str | None = None
    created_time_utc: datetime | None = None
    last_modified_time_utc: datetime | None = None
    first_activity_time_utc: datetime | None = None
    last_activity_time_utc: datetime | None = None
    related_analytic_rule_ids: tuple[str, ...] = ()
    additional_data: IncidentAdditionalData | None = None
    raw: Mapping[str, Any] = raw_field()


@_frozen
class IncidentAlert(JsonModel):
    """A ``SecurityAlert`` entity from ``POST {ws}/incidents/{id}/alerts``."""

    _ENVELOPE: ClassVar[bool] = True

    id: str | None = None
    name: str | None = None
    type: str | None = None
    kind: str | None = None
    alert_display_name: str | None = None
    alert_type: str | None = None
    alert_link: str | None = None
    description: str | None = None
    friendly_name: str | None = None
    confidence_level: str | None = None
    compromised_entity: str | None = None
    product_name: str | None = None
    product_component_name: str | None = None
    provider_alert_id: str | None = None
    system_alert_id: str | None = None
    vendor_name: str | None = None
    severity: AlertSeverity | None = None
    status: AlertStatus | None = None
    tactics: tuple[str, ...] = ()
    remediation_steps: tuple[str, ...] = ()
    start_time_utc: datetime | None = None
    end_time_utc: datetime | None = None
    time_generated: datetime | None = None
    processing_end_time: datetime | None = None
    additional_data: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = raw_field()


@_frozen
class Entity(JsonModel):
    """A Sentinel entity (account, host, ip, file, ...): ``kind`` plus its ``properties`` as read-only JSON."""

    id: str | None = None
    name: str | None = None
    type: str | None = None
    kind: str | None = None
    properties: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = raw_field()

    @property
    def friendly_name(self) -> str | None:
        value = (self.properties or {}).get("friendlyName")
        return value if isinstance(value, str) else None


@_frozen
class EntityKindCount:
    count: int | None = None
    entity_kind: str | None = None


@_frozen
class IncidentEntities(JsonModel):
    """Answer of ``POST {ws}/incidents/{id}/entities``."""

    entities: tuple[Entity, ...] = ()
    meta_data: tuple[EntityKindCount, ...] = ()
    raw: Mapping[str, Any] = raw_field()


@_frozen
class ClientInfo:
    name: str | None = None
    email: str | None = None
    object_id: str | None = None
    user_principal_name: str | None = None


@_frozen
class IncidentComment(JsonModel):
    """``{ws}/incidents/{id}/comments/{commentId}``."""

    _ENVELOPE: ClassVar[bool] = True
    _READ_ONLY: ClassVar[tuple[str, ...]] = ("createdTimeUtc", "lastModifiedTimeUtc", "author")

    id: str | None = None
    name: str | None = None
    type: str | None = None
    etag: str | None = None
    message: str | None = None
    created_time_utc: datetime | None = None
    last_modified_time_utc: datetime | None = None
    author: ClientInfo | None = None
    raw: Mapping[str, Any] = raw_field()


@_frozen
class IncidentRelation(JsonModel):
    """``{ws}/incidents/{id}/relations/{name}``: a bookmark or other resource linked to an incident."""

    _ENVELOPE: ClassVar[bool] = True

    id: str | None = None
    name: str | None = None
    type: str | None = None
    etag: str | None = None
    related_resource_id: str | None = None
    related_resource_name: str | None = None
    related_resource_type: str | None = None
    related_resource_kind: str | None = None
    raw: Mapping[str, Any] = raw_field()
