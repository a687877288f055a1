"""Bulk (Log Analytics) and per-incident (``POST .../alerts`` / ``.../entities``) alerts and entities agree.

On the emulator, for every incident with alerts: the same system alert ids, and for each alert equal values for
every property both paths give; the same entities (kind + properties, links compared by what they point to). The
differences allowed are named below, each with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pytest

from m365sentinel._incidents._alerts import alerts_and_entities_from_rows
from m365sentinel.models import Entity
from m365sentinel.models._time import parse_datetime

from .test_emulator_e2e import s

# Present only per incident: no SecurityAlert column holds them (the service adds AlertMessageEnqueueTime), and
# the emulator's SecurityAlert schema (m365sentinel/_data/tables.json) has no TenantId column, the workspace id
# the LogAnalytics resource identifier needs.
ONLY_PER_INCIDENT = {"resourceIdentifiers"}
ONLY_PER_INCIDENT_ADDITIONAL_DATA = {"AlertMessageEnqueueTime"}
# Present only in bulk: none.
ONLY_BULK: set[str] = set()
# Equal unless the alert has a later SecurityAlert row (a status change): bulk reads the latest row.
ROW_TIMES = {"timeGenerated", "processingEndTime"}
TIMES = {"startTimeUtc", "endTimeUtc", *ROW_TIMES}
# Entity links: ARM <x>EntityId(s) hold entity names, which differ between the paths (bulk names are
# content-derived, documented); they are compared by the linked entity's kind and properties.
LINKS = {"fileHashEntityIds"}


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value


def _props(alert: Any) -> dict[str, Any]:
    return _thaw(alert.raw["properties"])


@pytest.fixture
def both(emu, emu_connector, ctl):
    ctl.graph.rate_limit.enabled = False
    items = [i for i in s(emu_connector, emu).with_alerts().with_entities() if i.alerts]
    assert len(items) >= 30
    out = []
    for item in items:
        handle = emu_connector.incidents().get(item.id)
        out.append((item, handle.alerts(), handle.entities()))
    return out


def test_alerts_agree_property_by_property(both, emu):
    compared = set()
    later_rows = 0
    for item, direct, _ in both:
        bulk = {a.system_alert_id: _props(a) for a in item.alerts}
        per = {a.system_alert_id: _props(a) for a in direct}
        assert sorted(bulk) == sorted(per)
        for alert_id, b in bulk.items():
            p = per[alert_id]
            assert set(p) - set(b) == ONLY_PER_INCIDENT, alert_id
            assert set(b) - set(p) == ONLY_BULK, alert_id
            assert p["resourceIdentifiers"] == [
                {
                    "type": "LogAnalytics",
                    "resourceGroup": emu.resource_group,
                    "subscriptionId": emu.subscription_id,
                    "workspaceId": emu.customer_id,
                }
            ]
            pad = dict(p["additionalData"])
            assert set(pad) - set(b["additionalData"]) == ONLY_PER_INCIDENT_ADDITIONAL_DATA
            assert {k: v for k, v in pad.items() if k not in ONLY_PER_INCIDENT_ADDITIONAL_DATA} == b["additionalData"]
            assert parse_datetime(pad["AlertMessageEnqueueTime"]) == parse_datetime(p["timeGenerated"])
            for key in set(b) & set(p) - {"additionalData"}:
                if key in TIMES:
                    bt, pt = parse_datetime(b[key]), parse_datetime(p[key])
                    assert isinstance(bt, datetime) and isinstance(pt, datetime)
                    if key in ROW_TIMES and bt != pt:
                        assert bt > pt, (alert_id, key)  # the latest row is newer than the alert
                        later_rows += 1
                    else:
                        assert bt == pt, (alert_id, key)
                else:
                    assert b[key] == p[key], (alert_id, key)
                compared.add(key)
    assert compared == {
        "alertDisplayName",
        "alertLink",
        "alertType",
        "compromisedEntity",
        "confidenceLevel",
        "description",
        "endTimeUtc",
        "friendlyName",
        "processingEndTime",
        "productName",
        "providerAlertId",
        "remediationSteps",
        "severity",
        "startTimeUtc",
        "status",
        "systemAlertId",
        "tactics",
        "timeGenerated",
        "vendorName",
    }
    # productComponentName is compared too where present; with this seed no alert has one (only XDR-named ones do)
    assert later_rows > 0  # the emulator writes a new row per status change: the allowance is exercised


def _canonical(entities: tuple[Entity, ...]) -> list[tuple[str, str]]:
    """Each entity as (kind, JSON of its properties), links replaced by the linked entities' canonical forms."""
    by_name = {e.name: e for e in entities}

    def canon(e: Entity) -> str:
        props: dict[str, Any] = {}
        for key, value in (e.properties or {}).items():
            if key in LINKS:
                props[key] = [canon(by_name[n]) for n in value]
            else:
                props[key] = value
        return json.dumps(_thaw(props), sort_keys=True)

    return sorted((e.kind or "", canon(e)) for e in entities)


def test_entities_agree_by_kind_and_properties(both):
    kinds: set[str] = set()
    for item, _, direct in both:
        assert _canonical(item.entities) == _canonical(direct), item.id
        assert all(e.id is None for e in item.entities)  # documented: the bulk path has no ARM id
        assert all(e.id and e.id.endswith("/Entities/" + str(e.name)) for e in direct)
        kinds |= {e.kind or "" for e in direct}
    assert kinds == {"Account", "Host", "Ip", "File", "FileHash", "Url", "Mailbox"}


def test_emulator_file_hashes_are_linked_entities_on_both_paths(both):
    item, _, direct = next(t for t in both if any(e.kind == "File" for e in t[2]))
    for entities in (item.entities, direct):
        by_name = {e.name: e for e in entities}
        for file in (e for e in entities if e.kind == "File"):
            props = dict(file.properties or {})
            assert "fileHashes" not in props
            hashes = [by_name[n] for n in props["fileHashEntityIds"]]
            assert [h.kind for h in hashes] == ["FileHash"]
            assert set(hashes[0].properties or {}) == {"algorithm", "hashValue"}
            assert hashes[0].properties["algorithm"] == "SHA256"
            assert len(hashes[0].properties["hashValue"]) == 64


def test_host_and_url_properties_exact_on_both_paths(both):
    item, _, direct = next(t for t in both if {"Host", "Url"} <= {e.kind for e in t[2]})
    for entities in (item.entities, direct):
        host = next(e for e in entities if e.kind == "Host").properties or {}
        assert set(host) == {"hostName", "dnsDomain", "osFamily", "osVersion", "mdatpDeviceId", "friendlyName"}
        assert host["friendlyName"] == host["hostName"] and len(host["mdatpDeviceId"]) == 40
        url = next(e for e in entities if e.kind == "Url").properties or {}
        assert set(url) == {"url"}  # no documented friendlyName rule for Url: neither path invents one


# -- the bulk mapper alone: columns the emulator leaves empty ----------------------------------------------------


def test_bulk_mapper_fills_every_column_backed_property():
    row = {
        "IncidentName": "INC",
        "TenantId": "c8c99641-985d-4e4e-8e91-fb3466cd0e5b",
        "TimeGenerated": "2023-03-22T07:27:56.188461Z",
        "DisplayName": "Suspicious process",
        "AlertName": "Suspicious process",
        "AlertSeverity": "High",
        "Description": "A process ran.",
        "VendorName": "Microsoft",
        "VendorOriginalId": "2517228307705103557_15add4de",
        "SystemAlertId": "fac479ec-3566-dce6-0ae3-a90c4af39175",
        "ResourceId": "/SUBSCRIPTIONS/083de1fb-cd2d-4b7c-895a-2b5af1d091e8/RESOURCEGROUPS/Sample-RG/providers/"
        "Microsoft.Compute/virtualMachines/Sample-VM",
        "AlertType": "VM_Process",
        "ConfidenceLevel": "High",
        "ConfidenceScore": 0.75,
        "StartTime": "2023-03-22T07:27:09.489644Z",
        "EndTime": "2023-03-22T07:27:09.489644Z",
        "ProcessingEndTime": "2023-03-22T07:27:51.489644Z",
        "RemediationSteps": '["Review the process.", "Escalate, if needed."]',
        "ExtendedProperties": '{"Compromised Host":"Sample-VM","ProcessedBySentinel":"True"}',
        "Entities": "[]",
        "WorkspaceSubscriptionId": "bd794837-4d29-4647-9105-6339bfdb4e6a",
        "WorkspaceResourceGroup": "myRG",
        "ProductName": "Azure Security Center",
        "ProductComponentName": "VirtualMachines",
        "AlertLink": "https://portal.azure.com/#blade/alert/1",
        "Status": "New",
        "CompromisedEntity": "Sample-VM",
        "Tactics": "Execution, Persistence",
    }
    alerts, _ = alerts_and_entities_from_rows([row])
    (alert,) = alerts["inc"]
    assert _props(alert) == {
        "alertDisplayName": "Suspicious process",
        "alertType": "VM_Process",
        "alertLink": "https://portal.azure.com/#blade/alert/1",
        "description": "A process ran.",
        "friendlyName": "Suspicious process",
        "confidenceLevel": "High",
        "confidenceScore": 0.75,
        "compromisedEntity": "Sample-VM",
        "productName": "Azure Security Center",
        "productComponentName": "VirtualMachines",
        "providerAlertId": "2517228307705103557_15add4de",
        "systemAlertId": "fac479ec-3566-dce6-0ae3-a90c4af39175",
        "vendorName": "Microsoft",
        "severity": "High",
        "status": "New",
        "tactics": ["Execution", "Persistence"],
        "remediationSteps": ["Review the process.", "Escalate, if needed."],
        "startTimeUtc": "2023-03-22T07:27:09.489644Z",
        "endTimeUtc": "2023-03-22T07:27:09.489644Z",
        "timeGenerated": "2023-03-22T07:27:56.188461Z",
        "processingEndTime": "2023-03-22T07:27:51.489644Z",
        "additionalData": {"Compromised Host": "Sample-VM", "ProcessedBySentinel": "True"},
        "resourceIdentifiers": [
            {
                "type": "AzureResource",
                "resourceId": row["ResourceId"],
                "subscriptionId": "083de1fb-cd2d-4b7c-895a-2b5af1d091e8",
            },
            {
                "type": "LogAnalytics",
                "resourceGroup": "myRG",
                "subscriptionId": "bd794837-4d29-4647-9105-6339bfdb4e6a",
                "workspaceId": "c8c99641-985d-4e4e-8e91-fb3466cd0e5b",
            },
        ],
    }
    assert alert.confidence_level == "High" and alert.alert_link == row["AlertLink"]


def test_bulk_mapper_empty_columns():
    row = {"IncidentName": "INC", "SystemAlertId": "a1", "ConfidenceLevel": "", "ConfidenceScore": None}
    row |= {"ResourceId": "", "WorkspaceSubscriptionId": "", "WorkspaceResourceGroup": "", "TenantId": "t"}
    (alert,) = alerts_and_entities_from_rows([row])[0]["inc"]
    assert _props(alert) == {
        "systemAlertId": "a1",
        "confidenceLevel": "Unknown",  # "" in the table; the ARM alert shows the swagger's default
        "tactics": [],
        "remediationSteps": [],
    }
    # without a ConfidenceLevel column nothing is invented
    (bare,) = alerts_and_entities_from_rows([{"IncidentName": "INC", "SystemAlertId": "a2"}])[0]["inc"]
    assert "confidenceLevel" not in _props(bare)
