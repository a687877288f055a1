"""compute_changes is pure: the cases A3-A5 at the level of the diff (the HTTP level is in tests/connector)."""

import pytest

from m365sentinel._plan import (
    Action,
    IncidentsAndAlerts,
    Observed,
    Plan,
    compute_changes,
    deterministic_connector_id,
)
from m365sentinel._providers import provider_names
from m365sentinel.models import AlertRule, DataConnector

TENANT = "2070ecc9-b4d5-4ae4-adaa-936fa1954fa8"
WS = "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/myRg/providers/Microsoft.OperationalInsights/workspaces/myWorkspace"

SIX_PRODUCTS = [
    "Microsoft Defender Advanced Threat Protection",
    "Azure Advanced Threat Protection",
    "Office 365 Advanced Threat Protection",
    "Microsoft Cloud App Security",
    "Azure Active Directory Identity Protection",
    "Azure Security Center",
]


def rule(i, product, enabled=True):
    return {
        "id": f"{WS}/providers/Microsoft.SecurityInsights/alertRules/rule{i}",
        "name": f"rule{i}",
        "type": "Microsoft.SecurityInsights/alertRules",
        "etag": f'"etag-{i}"',
        "kind": "MicrosoftSecurityIncidentCreation",
        "properties": {
            "displayName": f"Create incidents from {product}",
            "enabled": enabled,
            "productFilter": product,
            "severitiesFilter": None,
            "lastModifiedUtc": "2019-09-04T12:05:35.7296311Z",
        },
    }


def observed(connectors=(), rules=(), **kw):
    base = dict(
        home_tenant_id=TENANT,
        onboarded=True,
        authorization_state="Valid",
        license_state="Valid",
        data_connectors=tuple(DataConnector.from_json(c) for c in connectors),
        alert_rules=tuple(AlertRule.from_json(r) for r in rules),
    )
    base.update(kw)
    return Observed(**base)


def changes(desired, obs, tenant=TENANT):
    return compute_changes(desired, obs, tenant_id=tenant, workspace_id=WS, providers=provider_names())


def test_create_connector_with_deterministic_id_and_every_data_type():
    ch, notes, blockers = changes(IncidentsAndAlerts(), observed())
    assert (notes, blockers) == ((), ())
    (c,) = ch
    assert c.action is Action.CREATE
    assert (
        c.name
        == deterministic_connector_id(WS)
        == deterministic_connector_id(WS.upper().replace("SUBSCRIPTIONS", "subscriptions"))
    )
    # case A3: every required data type explicit
    assert c.body == {
        "kind": "MicrosoftThreatProtection",
        "properties": {
            "tenantId": TENANT,
            "dataTypes": {"incidents": {"state": "Enabled"}, "alerts": {"state": "Enabled"}},
        },
    }
    assert c.etag is None


def test_alerts_disabled_still_sent_explicitly():
    (c,), _, _ = changes(IncidentsAndAlerts(alerts=False), observed())
    assert c.body["properties"]["dataTypes"]["alerts"] == {"state": "Disabled"}


def test_update_keeps_name_etag_and_unknown_fields():
    existing = {
        "id": f"{WS}/providers/Microsoft.SecurityInsights/dataConnectors/abc",
        "name": "abc",
        "type": "Microsoft.SecurityInsights/dataConnectors",
        "etag": '"e1"',
        "kind": "MicrosoftThreatProtection",
        "systemData": {"createdBy": "x"},
        "properties": {
            "tenantId": TENANT,
            "dataTypes": {"incidents": {"state": "Disabled"}},
            "filteredProviders": {"alerts": ["microsoftDefenderForCloudApps"]},
            "futureField": {"a": 1},
        },
    }
    (c,), _, _ = changes(IncidentsAndAlerts(), observed([existing]))
    assert (c.action, c.name, c.etag) == (Action.UPDATE, "abc", '"e1"')
    assert c.body == {
        "etag": '"e1"',
        "kind": "MicrosoftThreatProtection",
        "properties": {
            "tenantId": TENANT,
            "dataTypes": {"incidents": {"state": "Enabled"}, "alerts": {"state": "Enabled"}},
            "filteredProviders": {"alerts": ["microsoftDefenderForCloudApps"]},
            "futureField": {"a": 1},
        },
    }
    assert [str(f) for f in c.fields] == [
        'properties.dataTypes.incidents.state: "Disabled" -> "Enabled"',
        'properties.dataTypes.alerts.state: null -> "Enabled"',
    ]
    assert existing["properties"]["dataTypes"] == {"incidents": {"state": "Disabled"}}  # input untouched


def test_connected_connector_gives_no_change():
    existing = {
        "name": "abc",
        "etag": '"e1"',
        "kind": "MicrosoftThreatProtection",
        "properties": {
            "tenantId": TENANT,
            "dataTypes": {"incidents": {"state": "Enabled"}, "alerts": {"state": "Enabled"}},
        },
    }
    assert changes(IncidentsAndAlerts(), observed([existing])) == ((), (), ())


def test_case_a5_turns_off_exactly_the_five_defender_products():
    rules = [rule(i, p) for i, p in enumerate(SIX_PRODUCTS)] + [
        {"name": "sched", "kind": "Scheduled", "etag": '"s"', "properties": {"enabled": True}}
    ]
    ch, _, _ = changes(IncidentsAndAlerts(turn_off_microsoft_incident_creation_rules=True), observed(rules=rules))
    assert [c.resource_type for c in ch] == ["dataConnectors"] + ["alertRules"] * 5  # connector first
    turned_off = ch[1:]
    assert [c.name for c in turned_off] == ["rule0", "rule1", "rule2", "rule3", "rule4"]
    assert [c.etag for c in turned_off] == ['"etag-0"', '"etag-1"', '"etag-2"', '"etag-3"', '"etag-4"']
    assert all(c.body["properties"]["enabled"] is False for c in turned_off)
    assert turned_off[0].body == {
        "etag": '"etag-0"',
        "kind": "MicrosoftSecurityIncidentCreation",
        "properties": {
            "displayName": "Create incidents from Microsoft Defender Advanced Threat Protection",
            "enabled": False,
            "productFilter": "Microsoft Defender Advanced Threat Protection",
            "severitiesFilter": None,
            "lastModifiedUtc": "2019-09-04T12:05:35.7296311Z",
        },
    }
    # second run: rules already off, connector connected -> nothing
    done = [
        dict(r, properties=dict(r["properties"], enabled=r["properties"]["productFilter"] == "Azure Security Center"))
        for r in rules[:6]
    ]
    conn = {
        "name": "x",
        "kind": "MicrosoftThreatProtection",
        "properties": {
            "tenantId": TENANT,
            "dataTypes": {"incidents": {"state": "Enabled"}, "alerts": {"state": "Enabled"}},
        },
    }
    assert changes(IncidentsAndAlerts(turn_off_microsoft_incident_creation_rules=True), observed([conn], done))[0] == ()


def test_rules_untouched_unless_asked():
    ch, _, _ = changes(IncidentsAndAlerts(), observed(rules=[rule(0, SIX_PRODUCTS[0])]))
    assert [c.resource_type for c in ch] == ["dataConnectors"]


def test_duplicate_connectors_update_one_and_say_so():
    a = {"name": "b-2", "kind": "MicrosoftThreatProtection", "properties": {"tenantId": TENANT}}
    b = {"name": "a-1", "kind": "MicrosoftThreatProtection", "properties": {"tenantId": TENANT}}
    (c,), notes, _ = changes(IncidentsAndAlerts(), observed([a, b]))
    assert c.name == "a-1"
    assert notes == (
        "2 MicrosoftThreatProtection data connectors exist (a-1, b-2); updating a-1 only. "
        "A workspace should have one: remove the others.",
    )


@pytest.mark.parametrize(
    ("obs", "tenant", "expected"),
    [
        (observed(onboarded=False), TENANT, "Microsoft Sentinel is not onboarded"),
        (
            observed(),
            "11111111-1111-1111-1111-111111111111",
            f"tenant_id 11111111-1111-1111-1111-111111111111 is not the workspace's home tenant {TENANT}",
        ),
        (observed(license_state="Invalid"), TENANT, "licence state is Invalid"),
        (observed(authorization_state="Invalid"), TENANT, "authorization state is Invalid"),
    ],
)
def test_blockers(obs, tenant, expected):
    _, _, blockers = changes(IncidentsAndAlerts(), obs, tenant)
    assert len(blockers) == 1 and blockers[0].startswith(expected)


def test_unified_portal_is_reported_not_fought():
    obs = observed(
        rules=[rule(0, SIX_PRODUCTS[0])],
        unified_portal_evidence=("incidents arrive under provider name 'Microsoft XDR'",),
    )
    ch, notes, blockers = changes(IncidentsAndAlerts(turn_off_microsoft_incident_creation_rules=True), obs)
    assert ch == () and blockers == ()
    assert "unified Microsoft Defender portal" in notes[0] and "'Microsoft XDR'" in notes[0]


def test_plan_apply_is_memoised_and_printable():
    calls = []

    def applier(plan):
        calls.append(plan)
        from m365sentinel._plan import ApplyResult

        return ApplyResult(plan.changes, ('"new"',))

    ch, notes, blockers = changes(IncidentsAndAlerts(), observed())
    plan = Plan(WS, TENANT, ch, notes, blockers, applier=applier)
    first = plan.apply()
    assert plan.apply() is first and len(calls) == 1
    text = str(plan)
    assert text.splitlines()[0] == f"Plan for {WS} (tenant {TENANT})"
    assert "create dataConnectors/" in text and 'properties.dataTypes.incidents.state: null -> "Enabled"' in text
    assert plan.to_dict()["changes"][0]["action"] == "create"
