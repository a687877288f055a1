"""Clouds matrix (DESIGN "Facts"): Azure cloud x Graph environment, China refused, custom endpoints."""

from __future__ import annotations

import pytest

from m365sentinel._errors import InvalidInputError, UnsupportedCloudError
from m365sentinel._transport import Audience, Cloud

COMMERCIAL = (
    "https://login.microsoftonline.com",
    "https://management.azure.com",
    "https://api.loganalytics.azure.com",
    "https://api.loganalytics.io",
)
USGOV = (
    "https://login.microsoftonline.us",
    "https://management.usgovcloudapi.net",
    "https://api.loganalytics.us",
    "https://api.loganalytics.us",
)


@pytest.mark.parametrize(
    ("name", "graph", "expected", "graph_host"),
    [
        ("AzureCloud", None, COMMERCIAL, "https://graph.microsoft.com"),
        ("AzureCloud", "Global", COMMERCIAL, "https://graph.microsoft.com"),
        ("AzureCloud", "GCC", COMMERCIAL, "https://graph.microsoft.com"),
        ("azurecloud", "gcc", COMMERCIAL, "https://graph.microsoft.com"),
        ("AzureUSGovernment", None, USGOV, "https://graph.microsoft.us"),
        ("AzureUSGovernment", "GCCHigh", USGOV, "https://graph.microsoft.us"),
        ("AzureUSGovernment", "GCC High", USGOV, "https://graph.microsoft.us"),
        ("AzureUSGovernment", "DoD", USGOV, "https://dod-graph.microsoft.us"),
    ],
)
def test_resolve_public_clouds(name: str, graph: str | None, expected: tuple[str, ...], graph_host: str) -> None:
    c = Cloud.resolve(name, graph=graph)
    assert (c.authority, c.arm, c.log_analytics, c.log_analytics_audience) == expected
    assert c.graph == graph_host
    assert c.allow_http_loopback is False


def test_scopes_per_audience() -> None:
    c = Cloud.resolve("AzureCloud")
    assert c.scope(Audience.ARM) == "https://management.azure.com/.default"
    assert c.scope(Audience.LOG_ANALYTICS) == "https://api.loganalytics.io/.default"
    assert c.scope(Audience.GRAPH) == "https://graph.microsoft.com/.default"
    gov = Cloud.resolve("AzureUSGovernment", graph="DoD")
    assert gov.scope(Audience.ARM) == "https://management.usgovcloudapi.net/.default"
    assert gov.scope(Audience.LOG_ANALYTICS) == "https://api.loganalytics.us/.default"
    assert gov.scope(Audience.GRAPH) == "https://dod-graph.microsoft.us/.default"


@pytest.mark.parametrize(
    ("name", "graph"),
    [("AzureCloud", "GCCHigh"), ("AzureCloud", "DoD"), ("AzureUSGovernment", "Global"), ("AzureUSGovernment", "GCC")],
)
def test_mismatched_pairs_refused(name: str, graph: str) -> None:
    with pytest.raises(UnsupportedCloudError, match="does not pair with cloud"):
        Cloud.resolve(name, graph=graph)


@pytest.mark.parametrize("name", ["AzureChinaCloud", "china", "AzureChina"])
def test_china_refused_with_reason(name: str) -> None:
    with pytest.raises(UnsupportedCloudError, match="retired there in August 2026"):
        Cloud.resolve(name)


def test_unknown_cloud_lists_valid_names() -> None:
    with pytest.raises(UnsupportedCloudError) as info:
        Cloud.resolve("AzureGermanCloud")
    assert "'AzureGermanCloud'" in str(info.value)
    assert "'AzureCloud', 'AzureUSGovernment'" in str(info.value)
    assert isinstance(info.value, InvalidInputError) and isinstance(info.value, ValueError)


def test_unknown_graph_environment() -> None:
    with pytest.raises(UnsupportedCloudError, match="'Global', 'GCC', 'GCCHigh', 'DoD'"):
        Cloud.resolve("AzureCloud", graph="Mars")


def test_custom_loopback_allows_http() -> None:
    c = Cloud.custom(arm="http://127.0.0.1:8080/", log_analytics="http://127.0.0.1:8080", graph="http://localhost:9")
    assert c.name == "Custom"
    assert c.arm == "http://127.0.0.1:8080"  # trailing slash dropped
    assert c.log_analytics_audience == "http://127.0.0.1:8080"
    assert c.allow_http_loopback is True


def test_custom_https_private_cloud() -> None:
    c = Cloud.custom(
        arm="https://management.contoso.local",
        log_analytics="https://la.contoso.local",
        log_analytics_audience="https://la-audience.contoso.local",
        graph="https://graph.contoso.local",
        authority="https://login.contoso.local",
        name="Contoso",
    )
    assert c.allow_http_loopback is False
    assert c.scope(Audience.LOG_ANALYTICS) == "https://la-audience.contoso.local/.default"
    assert c.authority == "https://login.contoso.local"


@pytest.mark.parametrize("host", ["http://127.5.6.7", "http://[::1]:8000", "http://LOCALHOST"])
def test_custom_loopback_variants(host: str) -> None:
    assert Cloud.custom(arm=host, log_analytics=host, graph=host).allow_http_loopback is True


@pytest.mark.parametrize(
    "bad",
    [
        "http://management.contoso.local",
        "http://10.0.0.1",
        "ftp://127.0.0.1",
        "not a url",
        "https://h/?x=1",
        "https://user:pw@h",
    ],
)
def test_custom_rejects_non_https(bad: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        Cloud.custom(arm=bad, log_analytics="https://la", graph="https://g")
    assert "arm must" in str(info.value)


def test_custom_endpoints_cannot_route_around_the_china_refusal() -> None:
    from m365sentinel._errors import UnsupportedCloudError

    with pytest.raises(UnsupportedCloudError, match=r"Azure China .* \(endpoint https://management.chinacloudapi.cn\)"):
        Cloud.custom(
            arm="https://management.chinacloudapi.cn",
            log_analytics="https://api.loganalytics.azure.cn",
            graph="https://microsoftgraph.chinacloudapi.cn",
        )
