"""Tokens: per-audience credentials and scopes, origin checks before sending, one refresh on a token error (B6)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import httpx
import pytest
from pytest_httpx import HTTPXMock

from m365sentinel._errors import AuthenticationError, ConsentRequiredError, InvalidInputError, UnsafeRequestError
from m365sentinel._transport import (
    Audience,
    Cloud,
    HttpClient,
    RequestSpec,
    arm_request,
    graph_request,
    log_analytics_query_request,
)

from .conftest import WS, FakeCredential, SleepRecorder, per_audience

CLOUD = Cloud.resolve("AzureCloud")
SPEC = arm_request(CLOUD, "GET", WS + "/incidents", "2025-09-01")
CUSTOMER_ID = "b6f2c8a4-1d3e-4f5a-9b7c-0123456789ab"
EXPIRED = {
    "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/t", error="invalid_token", '
    'error_description="The access token has expired"'
}


def test_bearer_token_and_user_agent(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    httpx_mock.add_response(url=SPEC.url, json={})
    make_client().send(SPEC)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Authorization"] == "Bearer token-1"
    assert request.headers["User-Agent"].startswith("m365sentinel/")
    assert f" python-httpx/{httpx.__version__}" in request.headers["User-Agent"]


def test_user_agent_suffix(httpx_mock: HTTPXMock, credential: FakeCredential) -> None:
    httpx_mock.add_response(url=SPEC.url, json={})
    with HttpClient(CLOUD, credential, user_agent_suffix="my-tool/2.0") as client:
        client.send(SPEC)
    request = httpx_mock.get_request()
    assert request is not None and request.headers["User-Agent"].endswith(" my-tool/2.0")


def test_token_requested_once_and_cached_with_arm_scope(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], credential: FakeCredential
) -> None:
    httpx_mock.add_response(url=SPEC.url, json={}, is_reusable=True)
    client = make_client()
    client.send(SPEC)
    client.send(SPEC)
    assert credential.calls == [(("https://management.azure.com/.default",), {})]  # the second send reuses it


def test_per_audience_credentials(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    arm, la, graph = FakeCredential("arm-token"), FakeCredential("la-token"), FakeCredential("graph-token")
    client = make_client(cred=per_audience(arm=arm, log_analytics=la, graph=graph))
    la_spec = log_analytics_query_request(CLOUD, CUSTOMER_ID, "T", "P1D")
    graph_spec = graph_request(CLOUD, "GET", "/security/incidents")
    httpx_mock.add_response(url=SPEC.url, json={})
    httpx_mock.add_response(url=la_spec.url, method="POST", json={})
    httpx_mock.add_response(url=graph_spec.url, json={})
    client.send(SPEC)
    client.send(la_spec)
    client.send(graph_spec)
    assert arm.scopes == ["https://management.azure.com/.default"]
    assert la.scopes == ["https://api.loganalytics.io/.default"]
    assert graph.scopes == ["https://graph.microsoft.com/.default"]
    sent = [r.headers["Authorization"] for r in httpx_mock.get_requests()]
    assert sent == ["Bearer arm-token", "Bearer la-token", "Bearer graph-token"]
    graph_request_sent = httpx_mock.get_requests()[2]
    assert graph_request_sent.headers["Prefer"] == "include-unknown-enum-members"
    assert graph_request_sent.headers["client-request-id"] == graph_request_sent.headers["x-ms-client-request-id"]


def test_missing_audience_in_mapping(make_client: Callable[..., HttpClient]) -> None:
    client = make_client(cred={Audience.ARM: FakeCredential()})
    with pytest.raises(InvalidInputError, match="no credential given for audience GRAPH"):
        client.send(graph_request(CLOUD, "GET", "/security/incidents"))


def test_bad_credential_arguments() -> None:
    with pytest.raises(InvalidInputError, match="Audience members"):
        HttpClient(CLOUD, {"arm": FakeCredential()})  # type: ignore[dict-item]
    with pytest.raises(InvalidInputError, match="TokenCredential"):
        HttpClient(CLOUD, object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://management.azure.com/subscriptions/x?api-version=1",
        "https://evil.example/subscriptions/x?api-version=1",
        "https://graph.microsoft.com/v1.0/x",
    ],
)
def test_unsafe_targets_refused_before_sending(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], credential: FakeCredential, url: str
) -> None:
    with pytest.raises(UnsafeRequestError):
        make_client().send(RequestSpec("GET", Audience.ARM, url))
    assert httpx_mock.get_requests() == []
    assert credential.calls == []  # not even fetched


def test_loopback_emulator_cloud_over_http(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    local = Cloud.custom(
        arm="http://127.0.0.1:8765", log_analytics="http://127.0.0.1:8765", graph="http://127.0.0.1:8765"
    )
    spec = arm_request(local, "GET", "/subscriptions/x", "2022-12-01")
    httpx_mock.add_response(url="http://127.0.0.1:8765/subscriptions/x?api-version=2022-12-01", json={"id": 1})
    assert make_client(cloud_=local).send_json(spec) == {"id": 1}


# -- case B6 ------------------------------------------------------------------------------------------------


def test_b6_expired_token_refreshed_once_and_retried(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    cred = FakeCredential("old-token", "new-token")
    httpx_mock.add_response(url=SPEC.url, status_code=401, headers=EXPIRED)
    httpx_mock.add_response(url=SPEC.url, json={"value": []})
    assert make_client(cred=cred).send_json(SPEC) == {"value": []}
    assert [r.headers["Authorization"] for r in httpx_mock.get_requests()] == ["Bearer old-token", "Bearer new-token"]
    assert len(cred.calls) == 2
    assert cred.calls[1] == (("https://management.azure.com/.default",), {})
    assert sleeps.calls == []
    ids = {r.headers["x-ms-client-request-id"] for r in httpx_mock.get_requests()}
    assert len(ids) == 1


def test_b6_same_token_returned_is_authentication_error(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]
) -> None:
    cred = FakeCredential("stuck-token")
    httpx_mock.add_response(
        url=SPEC.url,
        status_code=401,
        headers={**EXPIRED, "x-ms-request-id": "r401"},
        json={"error": {"code": "ExpiredAuthenticationToken", "message": "The access token has expired."}},
    )
    with pytest.raises(AuthenticationError) as info:
        make_client(cred=cred).send(SPEC)
    assert "same rejected token" in str(info.value)
    assert (info.value.status_code, info.value.code, info.value.request_id) == (
        401,
        "ExpiredAuthenticationToken",
        "r401",
    )
    assert len(httpx_mock.get_requests()) == 1
    assert len(cred.calls) == 2
    assert "stuck-token" not in str(info.value)


def test_b6_second_401_is_authentication_error_without_more_attempts(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]
) -> None:
    cred = FakeCredential("t1", "t2", "t3")
    httpx_mock.add_response(url=SPEC.url, status_code=401, headers=EXPIRED)
    httpx_mock.add_response(url=SPEC.url, status_code=401, headers=EXPIRED)
    with pytest.raises(AuthenticationError):
        make_client(cred=cred).send(SPEC)
    assert len(httpx_mock.get_requests()) == 2
    assert len(cred.calls) == 2


def test_b6_claims_challenge_passes_decoded_claims(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]
) -> None:
    claims = json.dumps({"access_token": {"nbf": {"essential": True, "value": "1726000000"}}})
    encoded = base64.b64encode(claims.encode()).decode()
    cred = FakeCredential("t1", "t2")
    httpx_mock.add_response(
        url=SPEC.url,
        status_code=401,
        headers={"WWW-Authenticate": f'Bearer realm="", error="insufficient_claims", claims="{encoded}"'},
    )
    httpx_mock.add_response(url=SPEC.url, json={})
    make_client(cred=cred).send(SPEC)
    assert cred.calls[1] == (("https://management.azure.com/.default",), {"claims": claims})


def test_claims_challenge_token_replaces_the_cached_one(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]
) -> None:
    encoded = base64.b64encode(b'{"access_token":{"nbf":{"essential":true}}}').decode()
    cred = FakeCredential("t1", "t2", "t3")
    httpx_mock.add_response(
        url=SPEC.url,
        status_code=401,
        headers={"WWW-Authenticate": f'Bearer realm="", error="insufficient_claims", claims="{encoded}"'},
    )
    httpx_mock.add_response(url=SPEC.url, json={}, is_reusable=True)
    client = make_client(cred=cred)
    client.send(SPEC)
    client.send(SPEC)
    assert [r.headers["Authorization"] for r in httpx_mock.get_requests()] == ["Bearer t1", "Bearer t2", "Bearer t2"]
    assert len(cred.calls) == 2


def test_b6_plain_401_without_challenge_is_not_refreshed(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], credential: FakeCredential
) -> None:
    httpx_mock.add_response(
        url=SPEC.url, status_code=401, json={"error": {"code": "AuthenticationFailed", "message": "x"}}
    )
    with pytest.raises(AuthenticationError):
        make_client().send(SPEC)
    assert len(credential.calls) == 1


def test_consent_401_never_refreshed_or_retried(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], credential: FakeCredential, sleeps: SleepRecorder
) -> None:
    put = arm_request(
        CLOUD, "PUT", WS + "/dataConnectors/c1", "2025-10-01-preview", json={"kind": "MicrosoftThreatProtection"}
    )
    httpx_mock.add_response(
        url=put.url,
        method="PUT",
        status_code=401,
        headers=EXPIRED,
        json={"error": {"code": "InvalidLicense", "message": "Missing consent"}},
    )
    with pytest.raises(ConsentRequiredError) as info:
        make_client().send(put)
    assert info.value.status_code == 401 and info.value.code == "InvalidLicense"
    assert len(httpx_mock.get_requests()) == 1
    assert len(credential.calls) == 1
    assert sleeps.calls == []


def test_credential_failure_is_a_credential_error(httpx_mock, cloud) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    from m365sentinel._errors import CredentialError
    from m365sentinel._transport import arm_request

    class Broken:
        def get_token(self, *scopes, **kw):
            raise ClientAuthenticationError("secret expired for app 123")

    client = HttpClient(cloud, Broken())
    with pytest.raises(
        CredentialError, match=r"could not get a token for https://management\.azure\.com/\.default"
    ) as err:
        client.send(arm_request(cloud, "GET", "/subscriptions/x", "2022-12-01"))
    assert isinstance(err.value.__cause__, ClientAuthenticationError)
    assert httpx_mock.get_requests() == []


def test_closed_client_is_a_typed_error(httpx_mock, cloud, credential) -> None:
    from m365sentinel._errors import ClientClosedError
    from m365sentinel._transport import arm_request

    client = HttpClient(cloud, credential)
    client.close()
    with pytest.raises(ClientClosedError, match="closed"):
        client.send(arm_request(cloud, "GET", "/subscriptions/x", "2022-12-01"))
