"""Connector at the HTTP level (pytest-httpx): exact URLs, api-versions and bodies; cases A1, A2, A4; stale plans."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from azure.core.credentials import AccessToken
from contract.bodies import validate_body

from m365sentinel._connector import Connector
from m365sentinel._errors import (
    ConsentRequiredError,
    InvalidInputError,
    PartialApplyError,
    PreflightError,
    QueryError,
    StalePlanError,
    UnsupportedApiVersionError,
)
from m365sentinel._plan import deterministic_connector_id

SUB = "d0cfe6b2-9ac0-4464-9919-dccaee2e48c0"
TENANT = "2070ecc9-b4d5-4ae4-adaa-936fa1954fa8"
WS = f"/subscriptions/{SUB}/resourceGroups/myRg/providers/Microsoft.OperationalInsights/workspaces/myWorkspace"
ARM = "https://management.azure.com"
SI = f"{ARM}{WS}/providers/Microsoft.SecurityInsights"
PREVIEW = "api-version=2025-10-01-preview"


class Cred:
    def __init__(self):
        self.scopes = []

    def get_token(self, *scopes, **kw):
        self.scopes.extend(scopes)
        return AccessToken("secret-token-value", 4_102_444_800)


def rule(i, product, enabled=True):
    return {
        "id": f"{WS}/providers/Microsoft.SecurityInsights/alertRules/r{i}",
        "name": f"r{i}",
        "type": "Microsoft.SecurityInsights/alertRules",
        "etag": f'"e{i}"',
        "kind": "MicrosoftSecurityIncidentCreation",
        "properties": {"displayName": f"rule {i}", "enabled": enabled, "productFilter": product},
    }


def mock_reads(httpx_mock, connectors=(), rules=(), onboarded=True, requirements=("Valid", "Valid"), incidents=()):
    httpx_mock.add_response(
        url=f"{ARM}/subscriptions/{SUB}?api-version=2022-12-01",
        json={"subscriptionId": SUB, "tenantId": TENANT},
        is_reusable=True,
    )
    if onboarded:
        httpx_mock.add_response(
            url=f"{SI}/onboardingStates/default?{PREVIEW}", json={"name": "default", "properties": {}}, is_reusable=True
        )
    else:
        httpx_mock.add_response(
            url=f"{SI}/onboardingStates/default?{PREVIEW}",
            status_code=404,
            json={"error": {"code": "NotFound", "message": "not onboarded"}},
            is_reusable=True,
        )
        # after that 404 the workspace itself is read: it exists, so the workspace is not onboarded
        httpx_mock.add_response(
            url=f"{ARM}{WS}?api-version=2023-09-01",
            json={"properties": {"customerId": "6c2d6c1e-0000-4000-8000-000000000001"}},
        )
        return
    httpx_mock.add_response(
        method="POST",
        url=f"{SI}/dataConnectorsCheckRequirements?{PREVIEW}",
        json={"authorizationState": requirements[0], "licenseState": requirements[1]},
        is_reusable=True,
    )
    httpx_mock.add_response(url=f"{SI}/dataConnectors?{PREVIEW}", json={"value": list(connectors)}, is_reusable=True)
    httpx_mock.add_response(url=f"{SI}/alertRules?{PREVIEW}", json={"value": list(rules)}, is_reusable=True)
    for item, kind in [(r, "alertRules") for r in rules] + [(c, "dataConnectors") for c in connectors]:
        # apply() re-reads every planned resource before the first write (stale-plan check)
        httpx_mock.add_response(
            method="GET", url=f"{SI}/{kind}/{item['name']}?{PREVIEW}", json=item, is_reusable=True, is_optional=True
        )
    httpx_mock.add_response(
        url=httpx.URL(
            f"{SI}/incidents",
            params={"api-version": "2025-09-01", "$filter": "properties/providerName eq 'Microsoft XDR'", "$top": "1"},
        ),
        json={"value": list(incidents)},
        is_reusable=True,
        is_optional=True,  # asked only when no covered creation rule is enabled
    )


@pytest.fixture
def connector():
    cred = Cred()
    c = Connector(WS, credential=cred, sleep=lambda s: None)
    yield c
    c.close()


def writes(httpx_mock):
    return [r for r in httpx_mock.get_requests() if r.method in ("PUT", "DELETE", "PATCH")]


def test_plan_apply_creates_connector_then_turns_rules_off(httpx_mock, connector):
    mock_reads(httpx_mock, rules=[rule(1, "Microsoft Cloud App Security"), rule(2, "Azure Security Center")])
    cid = deterministic_connector_id(WS)
    httpx_mock.add_response(
        method="PUT",
        url=f"{SI}/dataConnectors/{cid}?{PREVIEW}",
        status_code=201,
        json={"name": cid, "etag": '"new"', "kind": "MicrosoftThreatProtection"},
    )
    httpx_mock.add_response(method="PUT", url=f"{SI}/alertRules/r1?{PREVIEW}", json={"name": "r1", "etag": '"e1b"'})

    plan = connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True).plan()
    assert writes(httpx_mock) == []  # plan reads only
    result = plan.apply()
    sent = writes(httpx_mock)
    assert [(r.method, str(r.url)) for r in sent] == [
        ("PUT", f"{SI}/dataConnectors/{cid}?{PREVIEW}"),  # the connector before any rule is turned off
        ("PUT", f"{SI}/alertRules/r1?{PREVIEW}"),
    ]
    assert json.loads(sent[0].content) == {
        "kind": "MicrosoftThreatProtection",
        "properties": {
            "tenantId": TENANT,
            "dataTypes": {"incidents": {"state": "Enabled"}, "alerts": {"state": "Enabled"}},
        },
    }
    assert json.loads(sent[1].content) == {
        "etag": '"e1"',
        "kind": "MicrosoftSecurityIncidentCreation",
        "properties": {"displayName": "rule 1", "enabled": False, "productFilter": "Microsoft Cloud App Security"},
    }
    # every body sent validates against the official definitions (tests/contract/schemas)
    validate_body("mtp_data_connector", json.loads(sent[0].content))
    validate_body("incident_creation_rule", json.loads(sent[1].content))
    (check,) = [r for r in httpx_mock.get_requests() if r.url.path.endswith("/dataConnectorsCheckRequirements")]
    assert json.loads(check.content) == {"kind": "MicrosoftThreatProtection", "properties": {"tenantId": TENANT}}
    validate_body("check_requirements", json.loads(check.content))
    assert result.etags == ('"new"', '"e1b"') and result.writes == 2
    assert plan.apply() is result and len(writes(httpx_mock)) == 2  # applying an applied plan writes nothing
    assert all(r.headers["Authorization"] == "Bearer secret-token-value" for r in httpx_mock.get_requests())


def test_case_a1_old_api_version_error_is_typed_and_not_retried(httpx_mock, connector):
    mock_reads(httpx_mock)
    httpx_mock.add_response(
        method="PUT",
        status_code=400,
        json={
            "error": {
                "code": "BadRequest",
                "message": "The kind 'MicrosoftThreatProtection' is not supported in api-version '2025-10-01-preview'.",
            }
        },
    )
    plan = connector.incidents_and_alerts().plan()
    with pytest.raises(UnsupportedApiVersionError) as err:
        plan.apply()
    assert (err.value.kind, err.value.api_version) == ("MicrosoftThreatProtection", "2025-10-01-preview")
    assert len(writes(httpx_mock)) == 1


def test_case_a2_consent_error_carries_remediation_and_nothing_else_changes(httpx_mock, connector):
    mock_reads(httpx_mock, rules=[rule(1, "Microsoft Cloud App Security")])
    httpx_mock.add_response(
        method="PUT",
        status_code=403,
        json={"error": {"code": "InvalidLicense", "message": "Missing consent: the integration is not switched on."}},
    )
    plan = connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True).plan()
    with pytest.raises(ConsentRequiredError) as err:
        plan.apply()
    assert err.value.code == "InvalidLicense"
    assert "Microsoft Defender portal" in err.value.remediation
    assert [r.method for r in writes(httpx_mock)] == ["PUT"]  # rules not touched, no retry
    assert "secret-token-value" not in str(err.value)


def test_stale_plan_on_conflict(httpx_mock, connector):
    existing = {
        "name": "abc",
        "etag": '"e1"',
        "kind": "MicrosoftThreatProtection",
        "properties": {"tenantId": TENANT, "dataTypes": {"incidents": {"state": "Disabled"}}},
    }
    mock_reads(httpx_mock, connectors=[existing])
    httpx_mock.add_response(
        method="PUT",
        url=f"{SI}/dataConnectors/abc?{PREVIEW}",
        status_code=409,
        json={"error": {"code": "Conflict", "message": "Newer version of resource exists"}},
    )
    plan = connector.incidents_and_alerts().plan()
    with pytest.raises(StalePlanError) as err:
        plan.apply()
    assert err.value.planned_etag == '"e1"' and err.value.resource_id == "abc"


def test_partial_apply_is_never_reported_as_success(httpx_mock, connector):
    mock_reads(httpx_mock, rules=[rule(1, "Microsoft Cloud App Security")])
    httpx_mock.add_response(
        method="PUT", url=f"{SI}/dataConnectors/{deterministic_connector_id(WS)}?{PREVIEW}", json={"etag": '"n"'}
    )
    httpx_mock.add_response(
        method="PUT",
        url=f"{SI}/alertRules/r1?{PREVIEW}",
        status_code=403,
        json={"error": {"code": "AuthorizationFailed", "message": "no write on alertRules"}},
    )
    plan = connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True).plan()
    with pytest.raises(PartialApplyError) as err:
        plan.apply()
    assert [c.resource_type for c in err.value.applied] == ["dataConnectors"]
    assert [c.name for c in err.value.not_applied] == ["r1"]
    assert type(err.value.__cause__).__name__ == "PermissionDeniedError"


def test_tenant_mismatch_blocks_apply_with_zero_writes(httpx_mock):
    other = "11111111-1111-1111-1111-111111111111"
    mock_reads(httpx_mock)
    with Connector(WS, credential=Cred(), tenant_id=other) as c:
        plan = c.incidents_and_alerts().plan()
        assert plan.blockers[0].startswith(f"tenant_id {other} is not the workspace's home tenant {TENANT}")
        with pytest.raises(PreflightError):
            plan.apply()
    assert writes(httpx_mock) == []


def test_not_onboarded_blocks(httpx_mock, connector):
    mock_reads(httpx_mock, onboarded=False)
    plan = connector.incidents_and_alerts().plan()
    assert plan.changes[0].action.value == "create" and "not onboarded" in plan.blockers[0]
    with pytest.raises(PreflightError, match="not onboarded"):
        plan.apply()


def test_query_requires_timespan_before_any_request(httpx_mock, connector):
    with pytest.raises(InvalidInputError, match="timespan is required"):
        connector.query("SecurityIncident | take 1")
    assert httpx_mock.get_requests() == []


def test_query_resolves_customer_id_once(httpx_mock, connector):
    cust = "6c2d6c1e-0000-4000-8000-000000000001"
    httpx_mock.add_response(url=f"{ARM}{WS}?api-version=2023-09-01", json={"properties": {"customerId": cust}})
    body = {"tables": [{"name": "PrimaryResult", "columns": [{"name": "n", "type": "long"}], "rows": [[3]]}]}
    httpx_mock.add_response(
        method="POST", url=f"https://api.loganalytics.azure.com/v1/workspaces/{cust}/query", json=body, is_reusable=True
    )
    for _ in range(2):
        result = connector.query("SecurityIncident | count", timespan=timedelta(days=14))
        assert result.primary.rows == [(3,)] or list(result.primary.rows) == [(3,)]
    posts = [r for r in httpx_mock.get_requests() if r.method == "POST"]
    assert [json.loads(r.content) for r in posts] == [{"query": "SecurityIncident | count", "timespan": "P14D"}] * 2
    validate_body("log_analytics_query", json.loads(posts[0].content))
    assert len([r for r in httpx_mock.get_requests() if r.method == "GET"]) == 1


def test_rejected_query_is_a_query_error_with_status_and_request_id(httpx_mock, connector):
    cust = "6c2d6c1e-0000-4000-8000-000000000001"
    httpx_mock.add_response(url=f"{ARM}{WS}?api-version=2023-09-01", json={"properties": {"customerId": cust}})
    error = {
        "error": {
            "code": "BadArgumentError",
            "message": "The request had some invalid properties",
            "innererror": {"code": "SemanticError", "message": "'NoSuch' is not a known column"},
        }
    }
    httpx_mock.add_response(
        method="POST",
        url=f"https://api.loganalytics.azure.com/v1/workspaces/{cust}/query",
        status_code=400,
        json=error,
        headers={"x-ms-request-id": "req-400-1"},
    )
    with pytest.raises(QueryError) as err:
        connector.query("SecurityIncident | where NoSuch == 1", timespan=timedelta(days=1))
    assert (err.value.status_code, err.value.request_id, err.value.code) == (400, "req-400-1", "SemanticError")
    assert str(err.value) == (
        "SemanticError: 'NoSuch' is not a known column (BadArgumentError: The request had some invalid properties)"
    )


def test_disconnect_is_idempotent(httpx_mock, connector):
    httpx_mock.add_response(
        url=f"{SI}/onboardingStates/default?{PREVIEW}", json={"name": "default", "properties": {}}, is_reusable=True
    )
    httpx_mock.add_response(
        url=f"{SI}/dataConnectors?{PREVIEW}",
        json={"value": [{"name": "abc", "kind": "MicrosoftThreatProtection"}, {"name": "o365", "kind": "Office365"}]},
    )
    httpx_mock.add_response(method="DELETE", url=f"{SI}/dataConnectors/abc?{PREVIEW}", status_code=200)
    assert connector.disconnect().deleted == ("abc",)
    httpx_mock.add_response(
        url=f"{SI}/dataConnectors?{PREVIEW}", json={"value": [{"name": "o365", "kind": "Office365"}]}
    )
    assert connector.disconnect().deleted == ()
    assert [r.method for r in writes(httpx_mock)] == ["DELETE"]


def test_bad_constructor_input_raises_before_io():
    with pytest.raises(InvalidInputError, match="malformed workspace resource id"):
        Connector("myWorkspace", credential=Cred())
    with pytest.raises(InvalidInputError, match="tenant_id must be a GUID"):
        Connector(WS, credential=Cred(), tenant_id="contoso")
    with pytest.raises(InvalidInputError):
        Connector(WS, credential=Cred(), cloud="AzureChinaCloud")
    with pytest.raises(InvalidInputError):
        Connector(WS, credential=Cred(), cloud="Mars")


def test_connector_is_immutable_and_fluent_copies_share_the_session(connector):
    other = connector.incidents_and_alerts()
    assert other is not connector
    with pytest.raises(AttributeError, match="immutable"):
        connector._desired = None
    assert "secret" not in repr(connector)
