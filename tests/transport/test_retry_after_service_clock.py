"""Retry-After as an HTTP-date is measured against the service's clock (the response's ``Date``), not the
client's (issue 10: a client 600 s slow raised RateLimitedError(603) where the service asked for 3 s)."""

from __future__ import annotations

import email.utils
from collections.abc import Callable

from pytest_httpx import HTTPXMock

from m365sentinel._transport import HttpClient, RetryPolicy, arm_request, decide_retry, retry_after_seconds

from .conftest import WS, SleepRecorder
from .test_client_retries import CLOUD

SERVICE = 1_700_000_000.0  # the service's clock
SLOW = SERVICE - 600  # a client clock 600 s behind it
FAST = SERVICE + 600


def _http(when: float) -> str:
    return email.utils.formatdate(when, usegmt=True)


def test_retry_after_http_date_is_measured_against_the_response_date_not_the_client_clock() -> None:
    headers = {"Retry-After": _http(SERVICE + 3), "Date": _http(SERVICE)}
    assert retry_after_seconds(headers, SLOW) == 3.0
    assert retry_after_seconds(headers, FAST) == 3.0


def test_retry_after_http_date_without_a_valid_date_header_falls_back_to_the_local_clock() -> None:
    assert retry_after_seconds({"Retry-After": _http(SERVICE + 3)}, SERVICE) == 3.0
    assert retry_after_seconds({"Retry-After": _http(SERVICE + 3), "Date": "yesterday"}, SERVICE) == 3.0


def test_retry_after_and_date_in_years_1_and_9999_do_not_crash() -> None:
    year1 = "Mon, 01 Jan 0001 00:00:00 GMT"
    year9999 = "Fri, 31 Dec 9999 23:59:59 GMT"
    assert retry_after_seconds({"Retry-After": year1}, SERVICE) == 0.0
    assert retry_after_seconds({"Retry-After": year9999, "Date": year9999}, SERVICE) == 0.0
    assert retry_after_seconds({"Retry-After": year9999}, SERVICE) == 253402300799.0 - SERVICE
    # RFC 5322's obsolete-year rule reads "0001" as 2001 (978307200): a plain number, never an exception.
    assert retry_after_seconds({"Retry-After": _http(SERVICE + 3), "Date": year1}, SERVICE) == SERVICE + 3 - 978307200


def test_decision_with_a_slow_client_clock_waits_what_the_service_asked() -> None:
    headers = {"Retry-After": _http(SERVICE + 3), "Date": _http(SERVICE)}
    d = decide_retry(429, headers, "GET", False, SLOW, RetryPolicy(max_retry_after=60))
    assert (d.retry, d.wait, d.over_ceiling) == (True, 3.0, False)


def test_client_600s_slow_waits_3s_instead_of_raising_rate_limited_603(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], sleeps: SleepRecorder
) -> None:
    spec = arm_request(CLOUD, "GET", WS + "/incidents", "2025-09-01")
    httpx_mock.add_response(
        url=spec.url, status_code=429, headers={"Retry-After": _http(SERVICE + 3), "Date": _http(SERVICE)}
    )
    httpx_mock.add_response(url=spec.url, json={"value": []})
    assert make_client(clock=lambda: SLOW).send_json(spec) == {"value": []}
    assert sleeps.calls == [3.0]
