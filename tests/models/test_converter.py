from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from m365sentinel._errors import SerializationError
from m365sentinel.models import (
    AlertRule,
    DataConnector,
    Incident,
    MicrosoftSecurityIncidentCreationRule,
    MicrosoftThreatProtectionConnector,
    Setting,
    UebaSetting,
    converter,
    thaw,
)

INCIDENT = {
    "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w"
    "/providers/Microsoft.SecurityInsights/incidents/i1",
    "name": "i1",
    "type": "Microsoft.SecurityInsights/incidents",
    "etag": '"e1"',
    "properties": {
        "title": "T",
        "severity": "Medium",
        "status": "Active",
        "owner": {"objectId": "o1", "email": "a@b.c", "futureOwnerField": 1},
        "labels": [{"labelName": "x", "labelType": "User"}],
        "lastModifiedTimeUtc": "2024-01-02T03:04:05.6789012Z",
        "incidentNumber": 42,
        "someFutureProperty": {"nested": [1, 2]},
    },
}


def test_arm_envelope_flattened_camel_case_and_times() -> None:
    inc = Incident.from_json(INCIDENT)
    assert inc.name == "i1"
    assert inc.etag == '"e1"'
    assert inc.title == "T"
    assert inc.incident_number == 42
    assert inc.owner is not None and inc.owner.object_id == "o1" and inc.owner.email == "a@b.c"
    assert inc.labels[0].label_name == "x"
    assert inc.last_modified_time_utc == datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def test_raw_is_the_whole_document_read_only() -> None:
    inc = Incident.from_json(INCIDENT)
    assert thaw(inc.raw) == INCIDENT
    with pytest.raises(TypeError):
        inc.raw["name"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        inc.raw["properties"]["title"] = "x"  # type: ignore[index]


def test_put_body_merges_into_what_was_read_and_keeps_unknown_fields() -> None:
    inc = Incident.from_json(INCIDENT)
    body = inc.put_body({"status": "Closed", "classification": "FalsePositive"})
    assert body == {
        "etag": '"e1"',
        "properties": {
            "title": "T",
            "severity": "Medium",
            "status": "Closed",
            "classification": "FalsePositive",
            "owner": {"objectId": "o1", "email": "a@b.c", "futureOwnerField": 1},
            "labels": [{"labelName": "x", "labelType": "User"}],
            "someFutureProperty": {"nested": [1, 2]},
        },
    }
    # The model itself is unchanged (a fresh copy was built).
    assert inc.status == "Active"


def test_put_body_shallow_replaces_nested_objects() -> None:
    inc = Incident.from_json(INCIDENT)
    body = inc.put_body({"owner": {"objectId": "o2"}}, deep=False)
    assert body["properties"]["owner"] == {"objectId": "o2"}
    deep = inc.put_body({"owner": {"objectId": "o2"}})
    assert deep["properties"]["owner"] == {"objectId": "o2", "email": "a@b.c", "futureOwnerField": 1}


def test_put_body_deep_merge_keeps_sibling_data_types() -> None:
    doc = {
        "kind": "MicrosoftThreatProtection",
        "etag": "e",
        "properties": {
            "tenantId": "t",
            "dataTypes": {"incidents": {"state": "Enabled"}, "alerts": {"state": "Disabled"}},
        },
    }
    body = DataConnector.from_json(doc).put_body({"dataTypes": {"alerts": {"state": "Enabled"}}})
    assert body == {
        "kind": "MicrosoftThreatProtection",
        "etag": "e",
        "properties": {
            "tenantId": "t",
            "dataTypes": {"incidents": {"state": "Enabled"}, "alerts": {"state": "Enabled"}},
        },
    }


def test_kind_dispatch_and_generic_fallback() -> None:
    mtp = DataConnector.from_json({"kind": "microsoftthreatprotection", "properties": {"tenantId": "t"}})
    assert type(mtp) is MicrosoftThreatProtectionConnector
    office = DataConnector.from_json({"kind": "Office365", "properties": {"tenantId": "t", "dataTypes": {}}})
    assert type(office) is DataConnector and office.tenant_id == "t"
    rule = AlertRule.from_json({"kind": "MicrosoftSecurityIncidentCreation", "properties": {"enabled": False}})
    assert type(rule) is MicrosoftSecurityIncidentCreationRule and rule.enabled is False
    assert type(Setting.from_json({"kind": "Ueba", "properties": {"dataSources": ["AuditLogs"]}})) is UebaSetting
    assert type(Setting.from_json({"kind": "SomethingNew", "properties": {}})) is Setting


def test_specific_class_refuses_another_kind() -> None:
    with pytest.raises(SerializationError, match="kind is 'Office365', expected 'MicrosoftThreatProtection'"):
        MicrosoftThreatProtectionConnector.from_json({"kind": "Office365"})


def test_errors_name_every_failing_path() -> None:
    bad = {"properties": {"createdTimeUtc": "not a time", "incidentNumber": "x", "labels": [{}]}}
    with pytest.raises(SerializationError) as info:
        Incident.from_json(bad)
    text = str(info.value)
    assert "Incident.created_time_utc" in text and "'not a time'" in text
    assert "Incident.incident_number" in text
    assert "Incident.labels[0].label_name" in text
    with pytest.raises(SerializationError, match="expected a JSON object"):
        Incident.from_json([])  # type: ignore[arg-type]


def test_unstructure_uses_camel_case_and_omits_raw() -> None:
    inc = Incident.from_json(INCIDENT)
    out = converter.unstructure(inc.owner)
    assert out == {
        "objectId": "o1",
        "email": "a@b.c",
        "assignedTo": None,
        "userPrincipalName": None,
        "ownerType": None,
    }
    assert "raw" not in converter.unstructure(inc)
    assert converter.unstructure(inc)["lastModifiedTimeUtc"] == "2024-01-02T03:04:05.6789010Z"


def test_subscription_workspace_onboarding_state() -> None:
    from m365sentinel.models import OnboardingState, Subscription, Workspace

    sub = Subscription.from_json(
        {"id": "/subscriptions/s1", "subscriptionId": "s1", "tenantId": "t1", "displayName": "Prod", "state": "Enabled"}
    )
    assert (sub.subscription_id, sub.tenant_id, sub.display_name) == ("s1", "t1", "Prod")
    ws = Workspace.from_json(
        {
            "id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w",
            "name": "w",
            "location": "westeurope",
            "properties": {
                "customerId": "c1",
                "provisioningState": "Succeeded",
                "retentionInDays": 90,
                "sku": {"name": "PerGB2018"},
                "createdDate": "2024-01-01T00:00:00.1234567Z",
            },
        }
    )
    assert (ws.name, ws.location, ws.customer_id, ws.retention_in_days) == ("w", "westeurope", "c1", 90)
    assert ws.sku is not None and ws.sku["name"] == "PerGB2018"
    assert ws.created_date is not None and ws.created_date.microsecond == 123456
    state = OnboardingState.from_json({"name": "default", "etag": "e", "properties": {"customerManagedKey": False}})
    assert (state.name, state.customer_managed_key) == ("default", False)


def test_raw_and_mapping_fields_are_read_only_views_without_copies() -> None:
    import pytest

    from m365sentinel.models import FrozenJson, Incident

    doc = {
        "name": "1",
        "etag": '"e"',
        "properties": {
            "title": "t",
            "severity": "High",
            "status": "New",
            "additionalData": {"alertProductNames": ["MDE"], "x": {"y": 1}},
            "labels": [{"labelName": "a"}],
        },
    }
    incident = Incident.from_json(doc)
    assert isinstance(incident.raw, FrozenJson) and incident.raw == doc
    with pytest.raises(TypeError):
        incident.raw["properties"]["title"] = "changed"  # type: ignore[index]
    assert incident.raw["properties"]["labels"] == ({"labelName": "a"},)
    assert incident.to_json() == doc and incident.to_json() is not doc


def test_a_document_key_named_like_the_raw_slot_does_not_replace_raw() -> None:
    from m365sentinel.models._converter import RAW_KEY, structure

    doc = {**INCIDENT, RAW_KEY: "spoofed", "properties": {**INCIDENT["properties"], RAW_KEY: "spoofed"}}
    incident = structure(doc, Incident)
    assert thaw(incident.raw) == doc
    assert "\x00" not in RAW_KEY  # cattrs before 26.2 pastes keys into generated source, which cannot hold NUL


def test_inline_string_arrays_and_enums_match_the_hooks() -> None:
    # The fast path reads string arrays and enum members inline; every other value must take the hook's way.
    ok = {"properties": {"severity": "low", "status": "Closed", "relatedAnalyticRuleIds": ["r1", "r2"], "labels": []}}
    inc = Incident.from_json(ok)
    assert (inc.severity, inc.status, inc.related_analytic_rule_ids, inc.labels) == ("Low", "Closed", ("r1", "r2"), ())
    assert type(inc.related_analytic_rule_ids) is tuple
    assert Incident.from_json({"properties": {"severity": "Someday"}}).severity.raw == "Someday"  # type: ignore[union-attr]
    assert Incident.from_json({"properties": {"relatedAnalyticRuleIds": ("r1",)}}).related_analytic_rule_ids == ("r1",)
    doc = {"properties": {"relatedAnalyticRuleIds": ["r1", 2]}}  # a JSON number where text is due: its text
    assert Incident.from_json(doc) == converter.structure(doc, Incident)
    assert Incident.from_json(doc).related_analytic_rule_ids == ("r1", "2")
    for odd in ("Someday", 3):
        doc = {"properties": {"severity": odd}}
        assert Incident.from_json(doc).severity == converter.structure(doc, Incident).severity


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("relatedAnalyticRuleIds", "r1", "Incident.related_analytic_rule_ids"),  # was ('r', '1')
        ("relatedAnalyticRuleIds", {"r": 1}, "Incident.related_analytic_rule_ids"),  # was ('r',)
        ("relatedAnalyticRuleIds", ["r1", {"a": 1}], "Incident.related_analytic_rule_ids[1]"),
        ("title", True, "Incident.title"),  # was 'True'
        ("title", [1], "Incident.title"),  # was '[1]'
    ],
)
def test_text_and_arrays_are_never_coerced_from_other_json(field: str, value: object, where: str) -> None:
    # A string is not an array of its characters, nor an object an array of its keys, nor a list or a boolean
    # text: each is a SerializationError naming the field, never a silently changed value.
    with pytest.raises(SerializationError, match=re.escape(where)):
        Incident.from_json({"properties": {field: value}})
