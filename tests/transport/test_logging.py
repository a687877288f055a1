"""Redacted logging: no token anywhere, allow-listed headers only, retries that succeed are INFO."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from pytest_httpx import HTTPXMock

from m365sentinel._transport import Audience, Cloud, HttpClient, RequestSpec, arm_request
from m365sentinel._transport._logging import redact_headers, redact_url

from .conftest import WS, FakeCredential

CLOUD = Cloud.resolve("AzureCloud")
SECRET = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-token-value"


def test_no_token_in_logs_and_headers_redacted(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], caplog: pytest.LogCaptureFixture
) -> None:
    spec = RequestSpec(
        "GET",
        Audience.ARM,
        f"https://management.azure.com{WS}/incidents?api-version=2025-09-01&$skipToken=opaque",
        headers=(("x-custom-secret", "hunter2"),),
    )
    httpx_mock.add_response(
        url=spec.url, status_code=503, headers={"x-ms-request-id": "rid-1", "set-cookie": "session=abc"}
    )
    httpx_mock.add_response(url=spec.url, json={}, headers={"x-ms-request-id": "rid-2"})
    caplog.set_level(logging.DEBUG, logger="m365sentinel")
    make_client(cred=FakeCredential(SECRET)).send(spec)
    text = caplog.text
    assert SECRET not in text and "secret-token-value" not in text
    assert "authorization" not in text.lower()
    assert "hunter2" not in text and "session=abc" not in text and "opaque" not in text
    assert "'x-custom-secret': 'REDACTED'" in text
    assert "'set-cookie': 'REDACTED'" in text
    assert "$skipToken=REDACTED" in text
    assert "api-version=2025-09-01" in text
    assert "-> 503" in text and "-> 200" in text and "request id rid-2" in text
    assert all(r.name == "m365sentinel.http" for r in caplog.records)
    retry_records = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(retry_records) == 1 and retry_records[0].levelno == logging.INFO
    assert max(r.levelno for r in caplog.records) == logging.INFO  # a retry that succeeds is not a warning


def test_errors_never_carry_the_token(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    spec = arm_request(CLOUD, "GET", WS + "/incidents", "2025-09-01")
    httpx_mock.add_response(url=spec.url, status_code=404, json={"error": {"code": "NotFound", "message": "x"}})
    with pytest.raises(Exception) as info:
        make_client(cred=FakeCredential(SECRET)).send(spec)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value.__dict__)


def test_redact_helpers() -> None:
    assert redact_headers([("Authorization", "Bearer x"), ("Retry-After", "3"), ("Cookie", "c")]) == {
        "retry-after": "3",
        "cookie": "REDACTED",
    }
    assert redact_headers([("x-ms-ratelimit-remaining-subscription-reads", "11999")]) == {
        "x-ms-ratelimit-remaining-subscription-reads": "11999"
    }
    assert (
        redact_url("https://h/p?api-version=1&$filter=status%20eq%20'New'&code=abc")
        == "https://h/p?api-version=1&$filter=status%20eq%20'New'&code=REDACTED"
    )


def test_no_logging_configuration_at_import() -> None:
    logger = logging.getLogger("m365sentinel.http")
    assert logger.handlers == [] and logger.level == logging.NOTSET
    parent = logging.getLogger("m365sentinel")
    assert parent.handlers == [] and parent.level == logging.NOTSET
