"""EntitySync: settings changes (create, merge, idempotency, on the emulator), prerequisites, case A6."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from m365sentinel._entities import (
    DEFAULT_UEBA_DATA_SOURCES,
    EntitySync,
    Population,
    check_entity_prerequisites,
    entity_changes,
    ueba_population,
)
from m365sentinel._errors import InvalidInputError
from m365sentinel._plan import Action
from m365sentinel.emulator import Emulator
from m365sentinel.models import DataConnector, Setting

REF = Path(__file__).resolve().parents[1] / "reference"
CONSTRUCTED = json.loads((REF / "arm/constructed/settings-EntityAnalytics-and-Ueba.PUT.json").read_text())
NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)
PREVIEW = "2025-10-01-preview"


def _setting(doc: dict) -> Setting:
    return Setting.from_json(doc)


def test_defaults():
    d = EntitySync()
    assert (d.active_directory, d.azure_active_directory) == (True, True)
    assert d.ueba_data_sources == ("AuditLogs", "AzureActivity", "SecurityEvent", "SigninLogs")
    with pytest.raises(InvalidInputError):
        EntitySync(ueba_data_sources=("AuditLogs", ""))
    with pytest.raises(InvalidInputError):
        EntitySync(active_directory="yes")  # type: ignore[arg-type]


def test_created_with_the_constructed_shapes_when_absent():
    eyes_on = _setting({"kind": "EyesOn", "name": "EyesOn", "etag": '"e"', "properties": {"isEnabled": True}})
    changes = entity_changes(EntitySync(), [eyes_on])
    assert [(c.action, c.resource_type, c.name, c.kind, c.etag) for c in changes] == [
        (Action.CREATE, "settings", "EntityAnalytics", "EntityAnalytics", None),
        (Action.CREATE, "settings", "Ueba", "Ueba", None),
    ]
    assert changes[0].body == CONSTRUCTED["EntityAnalytics"]["body"]
    assert changes[1].body == CONSTRUCTED["Ueba"]["body"]


def test_merged_into_what_was_read_with_its_etag_unknown_fields_kept():
    ea = _setting(
        {
            "id": "/x/settings/EntityAnalytics",
            "name": "EntityAnalytics",
            "type": "t",
            "kind": "EntityAnalytics",
            "etag": '"ea-1"',
            "properties": {"entityProviders": ["AzureActiveDirectory"], "futureField": 7},
        }
    )
    ueba = _setting(
        {"name": "Ueba", "kind": "Ueba", "etag": '"u-1"', "properties": {"dataSources": ["SigninLogs", "CustomSource"]}}
    )
    changes = entity_changes(EntitySync(), [ea, ueba])
    assert [c.action for c in changes] == [Action.UPDATE, Action.UPDATE]
    assert changes[0].body == {
        "kind": "EntityAnalytics",
        "etag": '"ea-1"',
        "properties": {"entityProviders": ["AzureActiveDirectory", "ActiveDirectory"], "futureField": 7},
    }
    assert changes[0].etag == '"ea-1"'
    assert [(f.path, f.before, f.after) for f in changes[0].fields] == [
        ("properties.entityProviders", ["AzureActiveDirectory"], ["AzureActiveDirectory", "ActiveDirectory"])
    ]
    assert changes[1].body["properties"]["dataSources"] == [
        "SigninLogs",
        "CustomSource",
        "AuditLogs",
        "AzureActivity",
        "SecurityEvent",
    ]


def test_false_removes_a_provider_and_none_leaves_it():
    ea = _setting(
        {
            "name": "EntityAnalytics",
            "kind": "EntityAnalytics",
            "etag": '"1"',
            "properties": {"entityProviders": ["ActiveDirectory", "AzureActiveDirectory"]},
        }
    )
    ueba = _setting(
        {"name": "Ueba", "kind": "Ueba", "etag": '"2"', "properties": {"dataSources": list(DEFAULT_UEBA_DATA_SOURCES)}}
    )
    (c,) = entity_changes(EntitySync(active_directory=False), [ea, ueba])
    assert c.body["properties"]["entityProviders"] == ["AzureActiveDirectory"]
    assert entity_changes(EntitySync(active_directory=None), [ea, ueba]) == []


def test_idempotent_after_applying_on_the_emulator():
    emu = Emulator(now=NOW, dataset=False)
    cred = emu.credential()
    token = cred.get_token("https://management.azure.com/.default").token
    base = f"https://management.azure.com{emu.workspace_resource_id}/providers/Microsoft.SecurityInsights/settings"
    with httpx.Client(transport=emu.transport(), headers={"Authorization": f"Bearer {token}"}) as client:

        def read() -> list[Setting]:
            doc = client.get(f"{base}?api-version={PREVIEW}").json()
            return list(Setting.list_from_json(doc))

        changes = entity_changes(EntitySync(), read())
        assert [c.action for c in changes] == [Action.CREATE, Action.CREATE]
        for c in changes:
            r = client.put(f"{base}/{c.name}?api-version={PREVIEW}", json=dict(c.body))
            assert r.status_code == 201, r.text
        assert entity_changes(EntitySync(), read()) == []
        # A change made elsewhere (a data source turned off) is merged with the fresh etag.
        elsewhere = {s.name: s for s in read()}["Ueba"].put_body()
        elsewhere["properties"]["dataSources"] = ["AuditLogs"]
        assert client.put(f"{base}/Ueba?api-version={PREVIEW}", json=elsewhere).status_code == 200
        current = {s.name: s for s in read()}
        changes = entity_changes(EntitySync(ueba_data_sources=("SigninLogs",)), read())
        (c,) = changes
        assert c.etag == current["Ueba"].etag and c.body["etag"] == current["Ueba"].etag
        assert c.body["properties"]["dataSources"] == ["AuditLogs", "SigninLogs"]
        assert client.put(f"{base}/Ueba?api-version={PREVIEW}", json=dict(c.body)).status_code == 200
        assert entity_changes(EntitySync(ueba_data_sources=("SigninLogs",)), read()) == []
    emu.close()


def _connector(kind: str, name: str = "c1") -> DataConnector:
    return DataConnector.from_json({"kind": kind, "name": name, "properties": {}})


def test_prerequisites_met_by_the_aatp_connector_and_identity_data():
    prereqs = check_entity_prerequisites(
        [_connector("AzureAdvancedThreatProtection", "aatp-1"), _connector("Office365")],
        {"IdentityLogonEvents": True, "IdentityDirectoryEvents": False},
        authorization_state="Valid",
    )
    assert [(p.name, p.ok) for p in prereqs] == [
        ("Tenant onboarded to Microsoft Defender for Identity", True),
        ("Defender for Identity sensor installed", True),
        ("Permissions to change UEBA settings", True),
    ]
    assert prereqs[0].detail == (
        "the AzureAdvancedThreatProtection component connector is present (aatp-1); "
        "Defender for Identity data is arriving (IdentityLogonEvents)"
    )


def test_prerequisites_not_met_report_remediation_and_say_sensor_health_is_not_exposed():
    prereqs = check_entity_prerequisites([_connector("Office365")], {})
    onboarded, sensor, perms = prereqs
    assert onboarded.ok is False
    assert "Onboard the tenant to Microsoft Defender for Identity" in onboarded.remediation
    assert "[NOT MET]" in str(onboarded) and "fix: Onboard" in str(onboarded)
    assert sensor.ok is None
    assert "not exposed by the published Microsoft Graph v1.0 API" in sensor.detail
    assert perms.ok is None
    assert onboarded.to_dict()["ok"] is False


def test_prerequisites_from_the_emulators_connectors():
    # The emulator seeds the official component connectors (AzureAdvancedThreatProtection among them).
    doc = json.loads((REF / "arm/2025-09-01/examples/dataConnectors/GetDataConnectors.json").read_text())
    connectors = DataConnector.list_from_json(doc["responses"]["200"]["body"])
    (onboarded, *_rest) = check_entity_prerequisites(connectors, {})
    assert onboarded.ok is True


def test_a6_ueba_tables_not_yet_populated_is_a_status():
    assert ueba_population({}) == {
        "BehaviorAnalytics": Population.NOT_YET_POPULATED,
        "IdentityInfo": Population.NOT_YET_POPULATED,
    }
    assert ueba_population({"IdentityInfo": True}) == {
        "BehaviorAnalytics": Population.NOT_YET_POPULATED,
        "IdentityInfo": Population.POPULATED,
    }
    assert Population.NOT_YET_POPULATED.value == "not yet populated"
