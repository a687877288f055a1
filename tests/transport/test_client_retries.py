"""HttpClient retries through pytest-httpx with an injected sleep (case F1), transport errors, request ids."""

from __future__ import annotations

import email.utils
from collections.abc import Callable

import httpx
import pytest
from pytest_httpx import HTTPXMock

from m365sentinel._errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeout,
    ServerError,
)
from m365sentinel._transport import Cloud, HttpClient, RetryPolicy, arm_request, log_analytics_query_request

from .conftest import WS, SleepRecorder

CLOUD = Cloud.resolve("AzureCloud")
SPEC = arm_request(CLOUD, "GET", WS + "/incidents", "2025-09-01")
POST_READ = arm_request(CLOUD, "POST", WS + "/incidents/i1/alerts", "2025-09-01", retry_post=True)
POST_WRITE = arm_request(CLOUD, "POST", WS + "/incidents/i1/doSomething", "2025-09-01")
NOW = 1_700_000_000.0


def test_retry_after_7_waits_7_then_succeeds(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    httpx_mock.add_response(url=SPEC.url, status_code=429, headers={"Retry-After": "7"})
    httpx_mock.add_response(url=SPEC.url, json={"value": [1]})
    assert make_client().send_json(SPEC) == {"value": [1]}
    assert sleeps.calls == [7.0]
    assert len(httpx_mock.get_requests()) == 2


def test_no_header_uses_bounded_exponential_backoff(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    for _ in range(4):
        httpx_mock.add_response(url=SPEC.url, status_code=503)
    with pytest.raises(ServerError) as info:
        make_client().send(SPEC)
    assert info.value.status_code == 503
    assert len(httpx_mock.get_requests()) == 4  # max_attempts
    assert len(sleeps.calls) == 3
    for n, slept in enumerate(sleeps.calls):  # initial 0.5 * 2**n + uniform(0, jitter 0.5), capped at 8
        assert 0.5 * 2**n <= slept <= 0.5 * 2**n + 0.5


def test_backoff_is_capped_at_backoff_max(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    for _ in range(6):
        httpx_mock.add_response(url=SPEC.url, status_code=500)
    with pytest.raises(ServerError):
        make_client(retry=RetryPolicy(max_attempts=6, backoff_initial=1.0, backoff_max=3.0, jitter=0.0)).send(SPEC)
    assert sleeps.calls == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_retry_after_beyond_ceiling_raises_at_once(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    httpx_mock.add_response(
        url=SPEC.url,
        status_code=429,
        headers={"Retry-After": "120", "x-ms-request-id": "rid"},
        json={"error": {"code": "TooManyRequests", "message": "Rate limit exceeded"}},
    )
    with pytest.raises(RateLimitedError) as info:
        make_client().send(SPEC)
    assert info.value.retry_after == 120.0
    assert (info.value.code, info.value.request_id) == ("TooManyRequests", "rid")
    assert sleeps.calls == []
    assert len(httpx_mock.get_requests()) == 1


def test_503_with_retry_after_beyond_ceiling_is_rate_limited(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    httpx_mock.add_response(url=SPEC.url, status_code=503, headers={"Retry-After": "300"})
    with pytest.raises(RateLimitedError) as info:
        make_client().send(SPEC)
    assert (info.value.status_code, info.value.retry_after) == (503, 300.0)
    assert sleeps.calls == []


def test_429_exhausted_carries_last_retry_after(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    for _ in range(2):
        httpx_mock.add_response(url=SPEC.url, status_code=429, headers={"Retry-After": "3"})
    with pytest.raises(RateLimitedError) as info:
        make_client(retry=RetryPolicy(max_attempts=2)).send(SPEC)
    assert info.value.retry_after == 3.0
    assert sleeps.calls == [3.0]


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError), (409, ConflictError)],
)
def test_client_errors_never_retried(
    httpx_mock: HTTPXMock,
    make_client: Callable[..., HttpClient],
    sleeps: SleepRecorder,
    status: int,
    cls: type[Exception],
) -> None:
    httpx_mock.add_response(url=SPEC.url, status_code=status, headers={"Retry-After": "1"})
    with pytest.raises(cls):
        make_client().send(SPEC)
    assert len(httpx_mock.get_requests()) == 1
    assert sleeps.calls == []


def test_429_on_read_post_is_retried(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    httpx_mock.add_response(url=POST_READ.url, method="POST", status_code=429, headers={"Retry-After": "2"})
    httpx_mock.add_response(url=POST_READ.url, method="POST", json={"value": []})
    assert make_client().send_json(POST_READ) == {"value": []}
    assert sleeps.calls == [2.0]


def test_log_analytics_query_is_retried_with_same_body(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    spec = log_analytics_query_request(CLOUD, "b6f2c8a4-1d3e-4f5a-9b7c-0123456789ab", "T | count", "P14D")
    httpx_mock.add_response(url=spec.url, method="POST", status_code=502)
    httpx_mock.add_response(url=spec.url, method="POST", json={"tables": []})
    assert make_client().send_json(spec) == {"tables": []}
    first, second = httpx_mock.get_requests()
    assert first.content == second.content == b'{"query":"T | count","timespan":"P14D"}'
    assert first.headers["Prefer"] == "wait=600"
    assert len(sleeps.calls) == 1


def test_post_without_retry_post_not_retried_on_500(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    httpx_mock.add_response(url=POST_WRITE.url, method="POST", status_code=500)
    with pytest.raises(ServerError):
        make_client().send(POST_WRITE)
    assert len(httpx_mock.get_requests()) == 1
    assert sleeps.calls == []


def test_http_date_retry_after(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    httpx_mock.add_response(
        url=SPEC.url, status_code=429, headers={"Retry-After": email.utils.formatdate(NOW + 12, usegmt=True)}
    )
    httpx_mock.add_response(url=SPEC.url, json={})
    make_client(clock=lambda: NOW).send(SPEC)
    assert sleeps.calls == [12.0]


def test_http_date_retry_after_in_the_past_waits_zero(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    httpx_mock.add_response(
        url=SPEC.url, status_code=503, headers={"Retry-After": email.utils.formatdate(NOW - 3600, usegmt=True)}
    )
    httpx_mock.add_response(url=SPEC.url, json={})
    make_client(clock=lambda: NOW).send(SPEC)
    assert sleeps.calls == [0.0]


def test_same_client_request_id_across_retries(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    httpx_mock.add_response(url=SPEC.url, status_code=500)
    httpx_mock.add_response(url=SPEC.url, status_code=429, headers={"Retry-After": "0"})
    httpx_mock.add_response(url=SPEC.url, json={})
    client = make_client()
    client.send(SPEC)
    ids = {r.headers["x-ms-client-request-id"] for r in httpx_mock.get_requests()}
    assert len(ids) == 1 and len(httpx_mock.get_requests()) == 3
    httpx_mock.add_response(url=SPEC.url, json={})
    client.send(SPEC)  # a new logical request gets a new id
    assert httpx_mock.get_requests()[-1].headers["x-ms-client-request-id"] not in ids


def test_connect_error_retried_then_raised_chained(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    for _ in range(2):
        httpx_mock.add_exception(httpx.ConnectError("connection refused"), url=SPEC.url)
    with pytest.raises(ConnectError) as info:
        make_client(retry=RetryPolicy(max_attempts=2)).send(SPEC)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(sleeps.calls) == 1


def test_connect_error_then_success(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    httpx_mock.add_exception(httpx.RemoteProtocolError("server disconnected"), url=SPEC.url)
    httpx_mock.add_response(url=SPEC.url, json={"ok": True})
    assert make_client().send_json(SPEC) == {"ok": True}


def test_read_timeout_raises_request_timeout_after_retries(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    for _ in range(3):
        httpx_mock.add_exception(httpx.ReadTimeout("read timed out"), url=SPEC.url)
    with pytest.raises(RequestTimeout) as info:
        make_client(retry=RetryPolicy(max_attempts=3)).send(SPEC)
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert len(sleeps.calls) == 2


def test_read_timeout_on_write_post_not_retried(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("read timed out"), url=POST_WRITE.url, method="POST")
    with pytest.raises(RequestTimeout):
        make_client().send(POST_WRITE)
    assert sleeps.calls == []


def test_connect_timeout_on_write_post_is_retried_because_nothing_was_sent(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    httpx_mock.add_exception(httpx.ConnectTimeout("connect timed out"), url=POST_WRITE.url, method="POST")
    httpx_mock.add_response(url=POST_WRITE.url, method="POST", status_code=204)
    assert make_client().send_json(POST_WRITE) is None
    assert len(sleeps.calls) == 1
