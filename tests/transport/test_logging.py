"""Redacted logging: no token anywhere, allow-listed headers only, retries that succeed are INFO."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from pytest_httpx import HTTPXMock

from m365sentinel._transport import Audience, Cloud, HttpClient, RequestSpec, _logging, arm_request
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


def test_a_paged_flow_over_a_socket_logs_no_continuation_token_in_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    """httpx and httpcore log request URLs themselves: the SDK's filter on their loggers hides the $skipToken."""
    from datetime import UTC, datetime

    from m365sentinel import Connector
    from m365sentinel.emulator import Emulator

    emu = Emulator(now=datetime(2026, 11, 20, 12, tzinfo=UTC), seed=3, incidents=9)
    caplog.set_level(logging.DEBUG)  # root: every logger, httpx's and httpcore's included
    with emu.serve() as server:
        cloud = Cloud.custom(arm=server.url, log_analytics=server.url, graph=server.url)
        with Connector(emu.workspace_resource_id, cloud=cloud, credential=emu.credential()) as c:
            seen = [item.incident.name for item in c.incidents().provider(None).page(2).run()]
    emu.close()
    tokens = [r.query["$skipToken"] for r in emu.requests if "$skipToken" in r.query]
    assert len(seen) == len(set(seen)) >= 9 and len(tokens) >= 4  # the flow did page
    loggers = {r.name for r in caplog.records}
    assert {"httpx", "httpcore.http11", "httpcore.connection", "m365sentinel.http"} <= loggers
    for record in caplog.records:
        text = record.getMessage()
        assert not [t for t in tokens if t in text], (record.name, text)
    assert any("$skipToken=REDACTED" in r.getMessage() for r in caplog.records if r.name == "httpx")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "GET https://x/y?api-version=1&$skipToken=abc123&$top=5",
            "GET https://x/y?api-version=1&$skipToken=REDACTED&$top=5",
        ),
        (
            "https://graph/v1.0/security/incidents?$skiptoken=QW1%3D%3D",
            "https://graph/v1.0/security/incidents?$skiptoken=REDACTED",
        ),
        ("request=b'/a?%24skiptoken=zz9'", "request=b'/a?%24skiptoken=REDACTED'"),
        ('{"continuationToken": "c-42"}', '{"continuationToken": "REDACTED"}'),
        ("Authorization: Bearer eyJ.abc.def", "Authorization: Bearer REDACTED"),
        ("nothing to hide ?$top=5", "nothing to hide ?$top=5"),
    ],
)
def test_redact_text_hides_every_spelling_of_a_token(text: str, shown: str) -> None:
    from m365sentinel._transport._logging import redact_text

    assert redact_text(text) == shown


def test_response_url_is_not_redacted_when_info_is_off(
    httpx_mock: HTTPXMock,
    make_client: Callable[..., HttpClient],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redacting parses the URL again: a fleet sends thousands of requests with nobody listening at INFO."""
    redacted: list[object] = []
    monkeypatch.setattr(_logging, "redact_url", lambda url: redacted.append(url) or "<redacted>")
    url = f"https://management.azure.com{WS}/incidents?api-version=2025-09-01"
    httpx_mock.add_response(url=url, json={}, is_reusable=True)
    caplog.set_level(logging.WARNING, logger="m365sentinel")
    client = make_client()
    client.send(RequestSpec("GET", Audience.ARM, url))
    assert redacted == []
    caplog.set_level(logging.INFO, logger="m365sentinel")
    client.send(RequestSpec("GET", Audience.ARM, url))
    assert redacted == [url]
    assert "HTTP response: GET <redacted> -> 200" in caplog.text
