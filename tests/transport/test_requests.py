"""Request builders: exact URLs, api-versions, headers and bodies."""

from __future__ import annotations

import pytest

from m365sentinel._errors import InvalidInputError
from m365sentinel._transport import (
    Audience,
    Cloud,
    RequestSpec,
    arm_request,
    graph_request,
    log_analytics_query_request,
)

from .conftest import WS

CLOUD = Cloud.resolve("AzureCloud")
CUSTOMER_ID = "b6f2c8a4-1d3e-4f5a-9b7c-0123456789ab"


def test_arm_get_data_connectors() -> None:
    spec = arm_request(CLOUD, "GET", WS + "/dataConnectors", "2025-10-01-preview")
    assert spec.url == f"https://management.azure.com{WS}/dataConnectors?api-version=2025-10-01-preview"
    assert (spec.method, spec.audience, spec.json, spec.headers, spec.retry_post) == (
        "GET",
        Audience.ARM,
        None,
        (),
        False,
    )


def test_arm_incidents_with_odata_params() -> None:
    spec = arm_request(
        CLOUD,
        "GET",
        WS + "/incidents",
        "2025-09-01",
        params={"$filter": "properties/status eq 'New'", "$orderby": "properties/createdTimeUtc desc", "$top": "50"},
    )
    assert spec.url == (
        f"https://management.azure.com{WS}/incidents?api-version=2025-09-01"
        "&$filter=properties/status%20eq%20'New'&$orderby=properties/createdTimeUtc%20desc&$top=50"
    )


def test_arm_post_read_with_body() -> None:
    spec = arm_request(CLOUD, "POST", WS + "/incidents/abc/alerts", "2025-09-01", retry_post=True, json={"a": 1})
    assert spec.url.endswith("/incidents/abc/alerts?api-version=2025-09-01")
    assert spec.retry_post is True
    assert spec.json == {"a": 1}


def test_arm_usgov_host() -> None:
    spec = arm_request(Cloud.resolve("AzureUSGovernment"), "GET", "/subscriptions/x", "2022-12-01")
    assert spec.url == "https://management.usgovcloudapi.net/subscriptions/x?api-version=2022-12-01"


@pytest.mark.parametrize(
    "path", ["subscriptions/x", "//evil.example/x", "https://evil.example/x", "/a?b=c", "/a#f", "/a b"]
)
def test_arm_rejects_bad_paths(path: str) -> None:
    with pytest.raises(InvalidInputError, match="path must be"):
        arm_request(CLOUD, "GET", path, "2025-09-01")


def test_arm_never_sends_empty_filter() -> None:
    with pytest.raises(InvalidInputError, match=r"never send '\$filter='"):
        arm_request(CLOUD, "GET", WS + "/incidents", "2025-09-01", params={"$filter": ""})


def test_arm_rejects_api_version_in_params_and_empty_version() -> None:
    with pytest.raises(InvalidInputError, match="api_version"):
        arm_request(CLOUD, "GET", WS, "2025-09-01", params={"api-version": "2020-01-01"})
    with pytest.raises(InvalidInputError, match="api_version must be"):
        arm_request(CLOUD, "GET", WS, "")


def test_log_analytics_query_request() -> None:
    spec = log_analytics_query_request(CLOUD, CUSTOMER_ID.upper(), "SecurityIncident | count", "P14D")
    assert spec.method == "POST"
    assert spec.audience is Audience.LOG_ANALYTICS
    assert spec.url == f"https://api.loganalytics.azure.com/v1/workspaces/{CUSTOMER_ID}/query"
    assert spec.json == {"query": "SecurityIncident | count", "timespan": "P14D"}
    assert spec.headers == (("Prefer", "wait=600"),)
    assert spec.retry_post is True
    assert spec.timeout == 630.0


def test_log_analytics_interval_and_workspaces() -> None:
    spec = log_analytics_query_request(
        Cloud.resolve("AzureUSGovernment"),
        CUSTOMER_ID,
        "T",
        "2024-01-01T00:00:00Z/2024-01-15T00:00:00Z",
        workspaces=["w2", "w3"],
    )
    assert spec.url == f"https://api.loganalytics.us/v1/workspaces/{CUSTOMER_ID}/query"
    assert spec.json == {
        "query": "T",
        "timespan": "2024-01-01T00:00:00Z/2024-01-15T00:00:00Z",
        "workspaces": ["w2", "w3"],
    }


def test_log_analytics_without_timespan_omits_key() -> None:
    assert log_analytics_query_request(CLOUD, CUSTOMER_ID, "T", None).json == {"query": "T"}


@pytest.mark.parametrize(
    ("customer_id", "query", "match"),
    [("not-a-guid", "T", "customerId"), (CUSTOMER_ID, "  ", "query must be")],
)
def test_log_analytics_bad_input(customer_id: str, query: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        log_analytics_query_request(CLOUD, customer_id, query, "P1D")


def test_graph_request_prefers_unknown_enum_members() -> None:
    spec = graph_request(CLOUD, "GET", "/security/incidents", params={"$top": "50", "$expand": "alerts"})
    assert spec.url == "https://graph.microsoft.com/v1.0/security/incidents?$top=50&$expand=alerts"
    assert spec.audience is Audience.GRAPH
    assert spec.headers == (("Prefer", "include-unknown-enum-members"),)


def test_graph_dod_host_and_patch_body() -> None:
    cloud = Cloud.resolve("AzureUSGovernment", graph="DoD")
    spec = graph_request(cloud, "PATCH", "/security/incidents/29", json={"status": "resolved"})
    assert spec.url == "https://dod-graph.microsoft.us/v1.0/security/incidents/29"
    assert spec.json == {"status": "resolved"}


def test_request_spec_validates_method_and_authorization() -> None:
    with pytest.raises(InvalidInputError, match="method must be"):
        RequestSpec("get", Audience.ARM, "https://management.azure.com/")
    with pytest.raises(InvalidInputError, match="Authorization"):
        RequestSpec("GET", Audience.ARM, "https://management.azure.com/", headers=(("authorization", "x"),))
