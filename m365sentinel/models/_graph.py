"""Microsoft Graph security incidents and alerts (``/v1.0/security/incidents``, ``/security/alerts_v2``).

Enum values are matched case-insensitively (the docs mix ``TruePositive`` and ``truePositive``) and unknown
values are kept (case D1: ``awaitingAction``, an evidence verdict ``5``). Evidence items stay generic: their
``@odata.type`` names the kind and ``raw`` holds the item.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from ._base import JsonModel, raw_field
from ._enums import (
    GraphAlertClassification,
    GraphAlertDetermination,
    GraphAlertSeverity,
    GraphAlertStatus,
    GraphEvidenceVerdict,
    GraphIncidentStatus,
)

__all__ = ["GraphAlert", "GraphAlertComment", "GraphEvidence", "GraphIncident"]

_frozen = attrs.frozen(kw_only=True)


@_frozen
class GraphAlertComment:
    comment: str | None = None
    created_by: str | None = None
    created_time: datetime | None = None
    created_by_display_name: str | None = None


@_frozen
class GraphEvidence(JsonModel):
    """One evidence item of an alert (device, file, process, user, ip, ...), kept generic."""

    odata_type: str | None = attrs.field(default=None, metadata={"key": "@odata.type"})
    verdict: GraphEvidenceVerdict | None = None
    remediation_status: str | None = None
    created_date_time: datetime | None = None
    roles: tuple[str, ...] = ()
    detailed_roles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    raw: Mapping[str, Any] = raw_field()

    @property
    def evidence_kind(self) -> str | None:
        """``deviceEvidence`` from ``#microsoft.graph.security.deviceEvidence``."""
        return self.odata_type.rsplit(".", 1)[-1] if self.odata_type else None


@_frozen
class GraphAlert(JsonModel):
    """A Defender XDR alert (``microsoft.graph.security.alert``)."""

    id: str | None = None
    provider_alert_id: str | None = None
    incident_id: str | None = None
    tenant_id: str | None = None
    title: str | None = None
    description: str | None = None
    category: str | None = None
    status: GraphAlertStatus | None = None
    severity: GraphAlertSeverity | None = None
    classification: GraphAlertClassification | None = None
    determination: GraphAlertDetermination | None = None
    service_source: str | None = None
    detection_source: str | None = None
    detector_id: str | None = None
    assigned_to: str | None = None
    alert_web_url: str | None = None
    incident_web_url: str | None = None
    actor_display_name: str | None = None
    threat_display_name: str | None = None
    threat_family_name: str | None = None
    mitre_techniques: tuple[str, ...] = ()
    recommended_actions: str | None = None
    created_date_time: datetime | None = None
    last_update_date_time: datetime | None = None
    first_activity_date_time: datetime | None = None
    last_activity_date_time: datetime | None = None
    resolved_date_time: datetime | None = None
    comments: tuple[GraphAlertComment, ...] = ()
    evidence: tuple[GraphEvidence, ...] = ()
    raw: Mapping[str, Any] = raw_field()


@_frozen
class GraphIncident(JsonModel):
    """A Defender XDR incident (``microsoft.graph.security.incident``); ``alerts`` is filled with ``$expand``.

    ``custom_tags`` also reads the ``tags`` key one doc example uses.
    """

    id: str | None = None
    tenant_id: str | None = None
    display_name: str | None = None
    description: str | None = None
    status: GraphIncidentStatus | None = None
    severity: GraphAlertSeverity | None = None
    classification: GraphAlertClassification | None = None
    determination: GraphAlertDetermination | None = None
    assigned_to: str | None = None
    incident_web_url: str | None = None
    redirect_incident_id: str | None = None
    created_date_time: datetime | None = None
    last_update_date_time: datetime | None = None
    custom_tags: tuple[str, ...] = attrs.field(default=(), metadata={"alt": "tags"})
    system_tags: tuple[str, ...] = ()
    comments: tuple[GraphAlertComment, ...] = ()
    alerts: tuple[GraphAlert, ...] = ()
    raw: Mapping[str, Any] = raw_field()
