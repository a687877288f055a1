"""ARM routes: exact statuses and bodies, api-version checks, etags, paging, cases A1-A5 and C1."""

from __future__ import annotations

from typing import Any

from m365sentinel.emulator import Emulator

from .conftest import ARM, INCIDENTS, NOW, Api

MTP_BODY: dict[str, Any] = {
    "kind": "MicrosoftThreatProtection",
    "properties": {
        "tenantId": "",
        "dataTypes": {"incidents": {"state": "Enabled"}, "alerts": {"state": "Enabled"}},
        "futureField": {"kept": True},
    },
}


def mtp(api: Api, **changes: Any) -> dict[str, Any]:
    body = {"kind": MTP_BODY["kind"], "properties": {**MTP_BODY["properties"], "tenantId": api.emu.tenant_id}}
    body.update(changes)
    return body


def test_subscription_answers_its_tenant(bare: Api) -> None:
    r = bare.request("GET", f"{ARM}/subscriptions/{bare.emu.subscription_id}?api-version=2022-12-01")
    assert r.status_code == 200
    assert r.json()["tenantId"] == bare.emu.tenant_id
    assert r.json()["id"] == f"/subscriptions/{bare.emu.subscription_id}"


def test_api_version_missing_or_unknown_is_400(bare: Api) -> None:
    missing = bare.request("GET", f"{ARM}/subscriptions/{bare.emu.subscription_id}")
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    unknown = bare.request("GET", f"{ARM}/subscriptions/{bare.emu.subscription_id}?api-version=2099-01-01")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "InvalidApiVersionParameter"
    twice = bare.request(
        "GET", f"{ARM}/subscriptions/{bare.emu.subscription_id}?api-version=2022-12-01&api-version=2022-12-01"
    )
    assert twice.status_code == 400


def test_workspace_resource(bare: Api) -> None:
    emu = bare.emu
    r = bare.request("GET", f"{ARM}{emu.workspace_resource_id}?api-version=2023-09-01")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == emu.workspace_resource_id
    assert emu.workspace_resource_id == (
        f"/subscriptions/{emu.subscription_id}/resourceGroups/{emu.resource_group}"
        f"/providers/Microsoft.OperationalInsights/workspaces/{emu.workspace_name}"
    )
    assert body["name"] == emu.workspace_name
    assert body["location"] == "westeurope"
    assert body["properties"]["customerId"] == emu.customer_id
    other = bare.request("GET", f"{ARM}{emu.workspace_resource_id[:-1]}x?api-version=2023-09-01")
    assert other.status_code == 404


def test_onboarding_state_and_not_onboarded_workspace(bare: Api) -> None:
    r = bare.request("GET", bare.ws("onboardingStates/default"))
    assert r.status_code == 200
    assert r.json()["name"] == "default"
    assert r.json()["properties"] == {"customerManagedKey": False}
    bare.emu.state.sentinel_onboarded = False
    gone = bare.request("GET", bare.ws("onboardingStates/default"))
    assert gone.status_code == 404
    assert bare.request("GET", bare.ws("onboardingStates")).json() == {"value": []}
    assert bare.request("GET", bare.ws("dataConnectors")).status_code == 400


def test_check_requirements(bare: Api) -> None:
    body = {"kind": "MicrosoftThreatProtection", "properties": {"tenantId": bare.emu.tenant_id}}
    r = bare.request("POST", bare.ws("dataConnectorsCheckRequirements"), json=body)
    assert (r.status_code, r.json()) == (200, {"authorizationState": "Valid", "licenseState": "Valid"})
    bare.emu.faults.require_consent()
    r = bare.request("POST", bare.ws("dataConnectorsCheckRequirements"), json=body)
    assert r.json() == {"authorizationState": "Valid", "licenseState": "Invalid"}
    other = {"kind": "MicrosoftThreatProtection", "properties": {"tenantId": "00000000-0000-0000-0000-000000000001"}}
    assert (
        bare.request("POST", bare.ws("dataConnectorsCheckRequirements"), json=other).json()["authorizationState"]
        == "Invalid"
    )
    stable = bare.request("POST", bare.ws("dataConnectorsCheckRequirements", "2025-09-01"), json=body)
    assert stable.status_code == 400


def test_data_connectors_list_is_paged_with_next_links(bare: Api) -> None:
    bare.emu.state.page_size = 2
    names: list[str] = []
    url: str | None = bare.ws("dataConnectors")
    pages = 0
    while url:
        body = bare.request("GET", url).json()
        names += [c["kind"] for c in body["value"]]
        url = body.get("nextLink")
        pages += 1
    assert pages == 3
    assert sorted(names) == [
        "AzureActiveDirectory",
        "AzureAdvancedThreatProtection",
        "MicrosoftCloudAppSecurity",
        "MicrosoftDefenderAdvancedThreatProtection",
        "Office365",
    ]


def test_a1_mtp_kind_at_a_stable_or_old_api_version_is_400(bare: Api) -> None:
    r = bare.request("PUT", bare.ws("dataConnectors/mtp", "2025-09-01"), json=mtp(bare))
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "code": "BadRequest",
            "message": "The kind 'MicrosoftThreatProtection' is not supported in api-version '2025-09-01'.",
        }
    }
    old = bare.request("PUT", bare.ws("dataConnectors/mtp", "2024-01-01-preview"), json=mtp(bare))
    assert old.status_code == 400
    assert "2024-01-01-preview" in old.json()["error"]["message"]
    assert bare.request("PUT", bare.ws("dataConnectors/mtp", "2025-07-01-preview"), json=mtp(bare)).status_code == 201


def test_a2_missing_consent_is_403_and_changes_nothing(bare: Api) -> None:
    bare.emu.faults.require_consent()
    r = bare.request("PUT", bare.ws("dataConnectors/mtp"), json=mtp(bare))
    assert r.status_code == 403
    assert r.json() == {
        "error": {
            "code": "InvalidLicense",
            "message": "Missing consent: the Microsoft Sentinel "
            "integration has not been switched on in the Microsoft Defender portal.",
        }
    }
    assert bare.request("GET", bare.ws("dataConnectors/mtp")).status_code == 404


def test_a3_missing_required_data_type_is_400(bare: Api) -> None:
    body = mtp(bare)
    body["properties"] = {**body["properties"], "dataTypes": {"alerts": {"state": "Enabled"}}}
    r = bare.request("PUT", bare.ws("dataConnectors/mtp"), json=body)
    assert r.status_code == 400
    assert r.json() == {
        "error": {"code": "BadRequest", "message": "The 'properties.dataTypes.incidents' property is required."}
    }
    no_tenant = mtp(bare)
    no_tenant["properties"] = {k: v for k, v in no_tenant["properties"].items() if k != "tenantId"}
    assert bare.request("PUT", bare.ws("dataConnectors/mtp"), json=no_tenant).status_code == 400
    bad_state = mtp(bare)
    bad_state["properties"] = {**bad_state["properties"], "dataTypes": {"incidents": {"state": "On"}}}
    assert bare.request("PUT", bare.ws("dataConnectors/mtp"), json=bad_state).status_code == 400


def test_connector_put_get_etag_conflict_and_delete(bare: Api) -> None:
    created = bare.request("PUT", bare.ws("dataConnectors/mtp"), json=mtp(bare))
    assert created.status_code == 201
    stored = created.json()
    assert stored["properties"]["futureField"] == {"kept": True}  # unknown fields survive
    assert stored["id"] == f"{bare.emu.workspace_resource_id}/providers/Microsoft.SecurityInsights/dataConnectors/mtp"
    assert stored["type"] == "Microsoft.SecurityInsights/dataConnectors"
    assert bare.request("GET", bare.ws("dataConnectors/mtp")).json() == stored
    updated = bare.request("PUT", bare.ws("dataConnectors/mtp"), json=mtp(bare, etag=stored["etag"]))
    assert updated.status_code == 200
    assert updated.json()["etag"] != stored["etag"]
    stale = bare.request("PUT", bare.ws("dataConnectors/mtp"), json=mtp(bare, etag=stored["etag"]))
    assert stale.status_code == 409
    assert stale.json() == {"error": {"code": "Conflict", "message": "Newer version of resource exists"}}
    second = bare.request("PUT", bare.ws("dataConnectors/another"), json=mtp(bare))
    assert second.status_code == 400  # the kind is a singleton per workspace (case A4)
    assert bare.request("DELETE", bare.ws("dataConnectors/mtp")).status_code == 200
    assert bare.request("DELETE", bare.ws("dataConnectors/mtp")).status_code == 204


def test_a5_six_incident_creation_rules_enabled_with_etags(bare: Api) -> None:
    rules = bare.request("GET", bare.ws("alertRules")).json()["value"]
    creation = [r for r in rules if r["kind"] == "MicrosoftSecurityIncidentCreation"]
    assert sorted(r["properties"]["productFilter"] for r in creation) == sorted(
        [
            "Microsoft Defender Advanced Threat Protection",
            "Azure Advanced Threat Protection",
            "Office 365 Advanced Threat Protection",
            "Microsoft Cloud App Security",
            "Azure Active Directory Identity Protection",
            "Azure Security Center",
        ]
    )
    assert all(r["properties"]["enabled"] is True and r["etag"] for r in creation)
    assert [r["kind"] for r in rules].count("Scheduled") == 1
    rule = creation[0]
    off = {"kind": rule["kind"], "etag": rule["etag"], "properties": {**rule["properties"], "enabled": False}}
    r = bare.request("PUT", bare.ws(f"alertRules/{rule['name']}"), json=off)
    assert r.status_code == 200
    assert r.json()["properties"]["enabled"] is False
    assert bare.request("PUT", bare.ws(f"alertRules/{rule['name']}"), json=off).status_code == 409
    missing = {"kind": rule["kind"], "properties": {"displayName": "x", "enabled": True}}
    assert bare.request("PUT", bare.ws("alertRules/new-rule"), json=missing).status_code == 400
    assert bare.request("DELETE", bare.ws(f"alertRules/{rule['name']}")).status_code == 200
    assert bare.request("GET", bare.ws(f"alertRules/{rule['name']}")).status_code == 404


def test_unified_portal_has_no_creation_rules_and_a_connected_mtp() -> None:
    emu = Emulator(now=NOW, incidents=20, unified_portal=True)
    api = Api(emu)
    rules = api.request("GET", api.ws("alertRules")).json()["value"]
    assert [r["kind"] for r in rules] == ["Scheduled"]
    kinds = [c["kind"] for c in api.request("GET", api.ws("dataConnectors")).json()["value"]]
    assert "MicrosoftThreatProtection" in kinds
    providers = {
        i["properties"]["providerName"]
        for i in api.request("GET", api.ws("incidents?$top=1000", INCIDENTS)).json()["value"]
    }
    assert providers == {"Microsoft XDR", "Azure Sentinel"}
    assert emu.state.unified_portal is True
    api.client.close()
    emu.close()


def test_settings_routes(bare: Api) -> None:
    listed = bare.request("GET", bare.ws("settings")).json()["value"]
    assert sorted(s["name"] for s in listed) == ["Anomalies", "EyesOn"]
    assert bare.request("GET", bare.ws("settings/Ueba")).status_code == 404
    body = {
        "kind": "Ueba",
        "properties": {"dataSources": ["AuditLogs", "AzureActivity", "SecurityEvent", "SigninLogs"]},
    }
    created = bare.request("PUT", bare.ws("settings/Ueba"), json=body)
    assert created.status_code == 201
    assert created.json()["properties"] == body["properties"]
    assert created.json()["id"].endswith("/providers/Microsoft.SecurityInsights/settings/Ueba")
    stale = bare.request("PUT", bare.ws("settings/Ueba"), json={**body, "etag": '"old"'})
    assert stale.status_code == 409
    wrong_kind = bare.request("PUT", bare.ws("settings/EntityAnalytics"), json=body)
    assert wrong_kind.status_code == 400
    ea = {"kind": "EntityAnalytics", "properties": {"entityProviders": ["ActiveDirectory", "AzureActiveDirectory"]}}
    assert bare.request("PUT", bare.ws("settings/EntityAnalytics"), json=ea).status_code == 201
    assert bare.request("GET", bare.ws("settings", "2025-09-01")).status_code == 400  # preview only
    assert bare.request("DELETE", bare.ws("settings/Ueba")).status_code == 200
    assert bare.request("DELETE", bare.ws("settings/Ueba")).status_code == 204
    # A6: enabling UEBA does not create its tables
    assert "BehaviorAnalytics" not in bare.emu.state.table_names()
