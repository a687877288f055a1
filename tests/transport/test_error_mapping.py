"""One pure mapping from error responses to typed exceptions (cases A1, A2)."""

from __future__ import annotations

import json

import pytest

from m365sentinel._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConsentRequiredError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitedError,
    ServerError,
    UnsupportedApiVersionError,
)
from m365sentinel._transport import CONSENT_REMEDIATION, map_status_error

URL = "https://management.azure.com/subscriptions/s/x/dataConnectors/c1?api-version=2025-10-01-preview"


def body(code: str | None, message: str, **extra: object) -> bytes:
    err: dict[str, object] = {"message": message, **extra}
    if code is not None:
        err["code"] = code
    return json.dumps({"error": err}).encode()


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (412, PreconditionFailedError),
        (429, RateLimitedError),
        (500, ServerError),
        (503, ServerError),
        (418, APIStatusError),
    ],
)
def test_status_to_class(status: int, cls: type[APIStatusError]) -> None:
    err = map_status_error(status, {}, body("Code", "msg"), method="GET", url=URL)
    assert type(err) is cls
    assert (err.status_code, err.code, err.message, err.method, err.url) == (status, "Code", "msg", "GET", URL)


def test_arm_cloud_error_request_id_from_headers() -> None:
    err = map_status_error(
        404, {"x-ms-request-id": "rid-1", "x-ms-correlation-request-id": "corr"}, body("ResourceNotFound", "gone")
    )
    assert (err.code, err.message, err.request_id) == ("ResourceNotFound", "gone", "rid-1")
    assert err.body == {"error": {"message": "gone", "code": "ResourceNotFound"}}
    assert "404 ResourceNotFound: gone" in str(err) and "[request id rid-1]" in str(err)


def test_correlation_id_when_no_request_id() -> None:
    err = map_status_error(409, {"x-ms-correlation-request-id": "corr-2"}, body("Conflict", "x"))
    assert err.request_id == "corr-2"


def test_graph_error_inner_request_id() -> None:
    content = body("Forbidden", "Insufficient privileges", innerError={"request-id": "g-req-9", "date": "2024"})
    err = map_status_error(403, {}, content)
    assert type(err) is PermissionDeniedError
    assert err.request_id == "g-req-9"


def test_log_analytics_error_shape() -> None:
    content = json.dumps(
        {
            "error": {
                "message": "The request had some invalid properties",
                "code": "BadArgumentError",
                "correlationId": "la-corr-3",
                "innererror": {"code": "SyntaxError", "message": "bad"},
            }
        }
    ).encode()
    err = map_status_error(400, {}, content)
    assert (type(err), err.code, err.request_id) == (BadRequestError, "BadArgumentError", "la-corr-3")


def test_non_json_body_and_empty_body() -> None:
    err = map_status_error(502, {}, b"<html>Bad Gateway</html>", reason="Bad Gateway")
    assert (type(err), err.code, err.message, err.body) == (ServerError, None, "<html>Bad Gateway</html>", None)
    err = map_status_error(503, {}, b"", reason="Service Unavailable")
    assert err.message == "Service Unavailable"


def test_rate_limited_carries_retry_after() -> None:
    err = map_status_error(429, {"Retry-After": "17"}, body("TooManyRequests", "slow down"))
    assert isinstance(err, RateLimitedError) and err.retry_after == 17.0


# -- case A1 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "The kind 'MicrosoftThreatProtection' is not supported in api-version '2022-11-01'.",
        "Data connector kind MicrosoftThreatProtection is not supported in api version 2022-11-01",
        'KIND "MicrosoftThreatProtection" IS NOT SUPPORTED IN API-VERSION 2022-11-01',
    ],
)
def test_a1_kind_not_supported(message: str) -> None:
    err = map_status_error(400, {}, body("BadRequest", message), method="PUT", url=URL)
    assert type(err) is UnsupportedApiVersionError
    assert (err.kind, err.api_version) == ("MicrosoftThreatProtection", "2022-11-01")
    assert err.status_code == 400
    assert "MicrosoftThreatProtection" in str(err) and "2022-11-01" in str(err)


def test_a1_version_from_url_and_kind_from_request_body() -> None:
    err = map_status_error(
        400,
        {},
        body("InvalidApiVersionParameter", "The api-version is invalid for this resource type."),
        url=URL,
        request_json={"kind": "MicrosoftThreatProtection", "properties": {}},
    )
    assert isinstance(err, UnsupportedApiVersionError)
    assert (err.kind, err.api_version) == ("MicrosoftThreatProtection", "2025-10-01-preview")


def test_a1_no_registered_provider() -> None:
    msg = (
        "No registered resource provider found for location 'westeurope' and API version '2019-01-01-preview' "
        "for type 'dataConnectors'. The supported api-versions are '2025-09-01'."
    )
    err = map_status_error(400, {}, body("NoRegisteredProviderFound", msg), url=URL)
    assert isinstance(err, UnsupportedApiVersionError)
    assert err.api_version == "2019-01-01-preview"


def test_a1_plain_bad_request_is_not_api_version() -> None:
    err = map_status_error(400, {}, body("BadRequest", "Property 'tenantId' is required"), url=URL)
    assert type(err) is BadRequestError


# -- case A2 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (401, "InvalidLicense", "Tenant is not licensed"),
        (403, "LicenseInvalid", "x"),
        (403, "MissingConsent", "x"),
        (403, "BadRequest", "Missing consent for the Microsoft Sentinel integration"),
        (401, None, "License is invalid"),
        (403, "ConsentRequired", "x"),
    ],
)
def test_a2_consent_and_licence(status: int, code: str | None, message: str) -> None:
    err = map_status_error(status, {"x-ms-request-id": "r"}, body(code, message), method="PUT", url=URL)
    assert type(err) is ConsentRequiredError
    assert isinstance(err, PermissionDeniedError)
    assert (err.status_code, err.code, err.request_id) == (status, code, "r")
    assert err.remediation == CONSENT_REMEDIATION
    assert "Settings > Microsoft Sentinel" in str(err)
    assert err.remediation == (
        "A Global Administrator or Security Administrator must switch on the Microsoft Sentinel integration in the "
        "Microsoft Defender portal (Settings > Microsoft Sentinel) before the connector can be enabled; service "
        "principals are refused until then."
    )


def test_a2_not_for_other_statuses() -> None:
    assert type(map_status_error(400, {}, body("InvalidLicense", "x"))) is BadRequestError
