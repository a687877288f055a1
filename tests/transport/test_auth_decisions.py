"""Pure token decisions: where a token may go, and which 401s are genuine token errors (case B6)."""

from __future__ import annotations

import base64
import json

import pytest

from m365sentinel._errors import UnsafeRequestError
from m365sentinel._transport import Audience, Cloud, check_token_target, parse_token_challenge

CLAIMS = json.dumps({"access_token": {"nbf": {"essential": True, "value": "1700000000"}}})


def test_invalid_token_challenge() -> None:
    c = parse_token_challenge(
        {
            "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/t", '
            'error="invalid_token", '
            'error_description="The access token expiry UTC time is earlier than current UTC time"'
        }
    )
    assert c is not None and (c.error, c.claims) == ("invalid_token", None)


def test_claims_challenge_is_decoded() -> None:
    encoded = base64.b64encode(CLAIMS.encode()).decode().rstrip("=")
    c = parse_token_challenge({"www-authenticate": f'Bearer realm="", error="insufficient_claims", claims="{encoded}"'})
    assert c is not None and (c.error, c.claims) == ("insufficient_claims", CLAIMS)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/t"'},
        {"WWW-Authenticate": 'Bearer error="invalid_request"'},
    ],
)
def test_not_token_errors(headers: dict[str, str]) -> None:
    assert parse_token_challenge(headers) is None


def test_token_targets_public_cloud() -> None:
    cloud = Cloud.resolve("AzureCloud")
    check_token_target(cloud, Audience.ARM, "https://management.azure.com/subscriptions/x")
    check_token_target(cloud, Audience.LOG_ANALYTICS, "https://api.loganalytics.azure.com/v1/workspaces/x/query")
    check_token_target(cloud, Audience.LOG_ANALYTICS, "https://api.loganalytics.io/v1/workspaces/x/query")
    check_token_target(cloud, Audience.GRAPH, "https://graph.microsoft.com:443/v1.0/security/incidents")


@pytest.mark.parametrize(
    ("audience", "url", "match"),
    [
        (Audience.ARM, "https://graph.microsoft.com/v1.0/x", "origin is not one of"),
        (Audience.GRAPH, "https://management.azure.com/x", "origin is not one of"),
        (Audience.ARM, "https://management.azure.com.evil.example/x", "origin is not one of"),
        (Audience.ARM, "https://management.azure.com:8443/x", "origin is not one of"),
        (Audience.ARM, "http://management.azure.com/x", "plain http"),
        (Audience.ARM, "http://127.0.0.1/x", "plain http"),
    ],
)
def test_token_targets_refused(audience: Audience, url: str, match: str) -> None:
    with pytest.raises(UnsafeRequestError, match=match):
        check_token_target(Cloud.resolve("AzureCloud"), audience, url)


def test_loopback_cloud_allows_http_only_on_its_origin() -> None:
    cloud = Cloud.custom(
        arm="http://127.0.0.1:8080", log_analytics="http://127.0.0.1:8080", graph="http://127.0.0.1:8080"
    )
    check_token_target(cloud, Audience.ARM, "http://127.0.0.1:8080/subscriptions/x")
    with pytest.raises(UnsafeRequestError):
        check_token_target(cloud, Audience.ARM, "http://127.0.0.1:9090/subscriptions/x")
    with pytest.raises(UnsafeRequestError, match="plain http"):
        check_token_target(cloud, Audience.ARM, "http://10.1.1.1:8080/subscriptions/x")
