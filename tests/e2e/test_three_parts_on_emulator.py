"""The source document's three configuration parts through Connector on the emulator: entities (UEBA + Active
Directory), events (the manual step and per-table retention), and verification with its verdicts."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from contract.bodies import validate_body

from m365sentinel import HuntingTable, InvalidInputError, StalePlanError, Verdict

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TEN = HuntingTable.source_document()


# The m365sentinel pytest plugin's fixtures (sentinel_emulator, sentinel_connector) on this emulator.
pytestmark = pytest.mark.sentinel_emulator(now=NOW, seed=11)


def full(connector, **retention):
    return (
        connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True)
        .entities(active_directory=True)
        .events(*TEN, **retention)
    )


def test_three_parts_plan_apply_idempotent(sentinel_emulator, sentinel_connector):
    desired = full(sentinel_connector, retention_days=180, total_retention_days=365)
    plan = desired.plan()
    kinds = [c.resource_type for c in plan.changes]
    assert kinds == ["dataConnectors"] + ["alertRules"] * 5 + ["settings"] * 2 + ["tables"] * 10
    assert plan.manual_steps == ()  # every declared table already shows data in Usage
    ea, ueba = plan.changes[6], plan.changes[7]
    assert ea.body == {
        "kind": "EntityAnalytics",
        "properties": {"entityProviders": ["ActiveDirectory", "AzureActiveDirectory"]},
    }
    assert ueba.body == {
        "kind": "Ueba",
        "properties": {"dataSources": ["AuditLogs", "AzureActivity", "SecurityEvent", "SigninLogs"]},
    }
    validate_body("setting_entity_analytics", ea.body)
    validate_body("setting_ueba", ueba.body)
    assert plan.changes[8].body == {"properties": {"retentionInDays": 180, "totalRetentionInDays": 365}}
    assert plan.apply().writes == 18
    patches = [w for w in sentinel_emulator.writes() if w.method == "PATCH"]
    assert sorted(w.path.rsplit("/", 1)[1] for w in patches) == sorted(t.value for t in TEN)
    assert desired.plan().is_empty and desired.apply().writes == 0
    tables = {t["name"]: t["properties"] for t in sentinel_connector.list_tables()}
    assert (tables["DeviceEvents"]["retentionInDays"], tables["DeviceEvents"]["totalRetentionInDays"]) == (180, 365)


def test_ueba_not_yet_populated_is_a_status_not_an_error(sentinel_emulator, sentinel_connector):
    desired = sentinel_connector.entities(active_directory=True)
    desired.apply()
    report = desired.verify()
    assert report.line("BehaviorAnalytics").verdict is Verdict.NOT_YET_POPULATED  # case A6
    assert report.line("IdentityInfo").verdict is Verdict.NOT_YET_POPULATED
    status = sentinel_connector.status()
    assert list(status.entity_analytics.entity_providers) == ["ActiveDirectory", "AzureActiveDirectory"]
    sentinel_emulator.populate_ueba()
    assert desired.verify().line("BehaviorAnalytics").verdict is Verdict.INGESTING


def test_silent_declared_table_brings_back_the_manual_step(sentinel_emulator, sentinel_connector):
    sentinel_emulator.state.silence_table("DeviceRegistryEvents")
    desired = sentinel_connector.events(HuntingTable.DeviceRegistryEvents, HuntingTable.DeviceEvents)
    plan = desired.plan()
    (step,) = plan.manual_steps
    assert "DeviceRegistryEvents" in step.reason and not plan.is_empty
    assert any("Apply Changes" in line for line in step.instructions)
    report = desired.verify()
    assert report.line("DeviceRegistryEvents").verdict is Verdict.SILENT
    assert report.line("DeviceEvents").verdict is Verdict.INGESTING
    assert report.declared_but_silent == ("DeviceRegistryEvents",)


def test_partial_result_makes_the_verdict_inconclusive(sentinel_emulator, sentinel_connector):
    sentinel_emulator.faults.partial_query_result(times=5)
    report = sentinel_connector.events(HuntingTable.DeviceEvents).verify()
    assert Verdict.INCONCLUSIVE in {line.verdict for line in report.lines}
    assert not report.all_ingesting


def test_retention_changed_by_someone_else_makes_the_plan_stale(sentinel_emulator, sentinel_connector):
    plan = sentinel_connector.events(HuntingTable.DeviceEvents, retention_days=120).plan()
    token = sentinel_emulator.credential().get_token("https://management.azure.com/.default").token
    with httpx.Client(transport=sentinel_emulator.transport(), base_url="https://management.azure.com") as client:
        r = client.patch(
            f"{sentinel_emulator.workspace_resource_id}/tables/DeviceEvents",
            params={"api-version": "2023-09-01"},
            json={"properties": {"retentionInDays": 60}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200
    with pytest.raises(
        StalePlanError, match=r"tables/DeviceEvents is not as planned: properties\.retentionInDays is now 60"
    ):
        plan.apply()


@pytest.mark.parametrize(
    ("args", "kw", "message"),
    [
        ((), {}, "at least one table"),
        (("NoSuchTable",), {}, "NoSuchTable"),
        (("DeviceEvents",), {"retention_days": 3}, "retention"),
    ],
)
def test_events_input_is_checked_before_any_request(sentinel_emulator, sentinel_connector, args, kw, message):
    with pytest.raises(InvalidInputError, match=message):
        sentinel_connector.events(*args, **kw)
    assert sentinel_emulator.requests == []


def test_default_retention_converges(sentinel_emulator, sentinel_connector):
    desired = sentinel_connector.events(HuntingTable.DeviceEvents, retention_days=120)
    assert desired.apply().writes == 1
    back = sentinel_connector.events(HuntingTable.DeviceEvents, retention_days=-1, total_retention_days=-1)
    (change,) = back.plan().changes
    assert change.body == {"properties": {"retentionInDays": -1}}  # total was already the default
    assert back.apply().writes == 1
    assert back.plan().is_empty  # -1 is satisfied by the service's "AsDefault" flags, not by the number


def test_hunting_table_lookup_is_forgiving_and_clear():
    assert HuntingTable("deviceevents") is HuntingTable.DeviceEvents
    with pytest.raises(InvalidInputError, match="unknown hunting table 'Nope'; expected one of: DeviceInfo"):
        HuntingTable("Nope")
