"""Pure retry decisions (shared with the async twin): statuses, methods, Retry-After parsing (case F1)."""

from __future__ import annotations

import email.utils

import pytest

from m365sentinel._errors import InvalidInputError
from m365sentinel._transport import RetryPolicy, decide_retry, retry_after_seconds, should_retry, should_retry_transport

NOW = 1_700_000_000.0


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_retryable_statuses_on_idempotent_methods(status: int, method: str) -> None:
    assert should_retry(status, {}, method, False) is True


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 412, 408, 501])
def test_other_statuses_never_retried(status: int) -> None:
    assert should_retry(status, {"Retry-After": "1"}, "GET", True) is False


def test_post_only_when_marked_as_read() -> None:
    assert should_retry(429, {}, "POST", True) is True
    assert should_retry(500, {}, "POST", False) is False
    assert should_retry(429, {}, "POST", False) is False


def test_transport_retry_rules() -> None:
    assert should_retry_transport("POST", False, request_sent=False) is True  # never left: always safe
    assert should_retry_transport("POST", False, request_sent=True) is False
    assert should_retry_transport("POST", True, request_sent=True) is True
    assert should_retry_transport("GET", False, request_sent=True) is True


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "-3"}, 0.0),
        ({"retry-after-ms": "2500"}, 2.5),
        ({"x-ms-retry-after-ms": "100", "Retry-After": "9"}, 0.1),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, NOW) == expected


def test_retry_after_http_date_future() -> None:
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert retry_after_seconds({"Retry-After": date}, NOW) == 30.0


def test_retry_after_http_date_in_the_past_is_zero_not_a_day() -> None:
    date = email.utils.formatdate(NOW - 5, usegmt=True)
    assert retry_after_seconds({"Retry-After": date}, NOW) == 0.0


def test_decide_retry_table() -> None:
    policy = RetryPolicy()
    d = decide_retry(429, {"Retry-After": "7"}, "GET", False, NOW, policy)
    assert (d.retry, d.wait, d.advised, d.over_ceiling) == (True, 7.0, 7.0, False)
    d = decide_retry(503, {}, "GET", False, NOW, policy)
    assert (d.retry, d.wait, d.advised, d.over_ceiling) == (True, None, None, False)
    d = decide_retry(429, {"Retry-After": "120"}, "GET", False, NOW, policy)
    assert (d.retry, d.wait, d.advised, d.over_ceiling) == (False, None, 120.0, True)
    d = decide_retry(429, {"Retry-After": "60"}, "GET", False, NOW, policy)  # at the ceiling: still waited
    assert (d.retry, d.wait) == (True, 60.0)
    d = decide_retry(409, {"Retry-After": "1"}, "PUT", False, NOW, policy)
    assert (d.retry, d.over_ceiling) == (False, False)


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"max_retry_after": -1}, {"jitter": "x"}, {"backoff_max": float("nan")}]
)
def test_retry_policy_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError, match="RetryPolicy"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_backoff_doubles_from_initial_adds_scaled_jitter_and_caps() -> None:
    policy = RetryPolicy(backoff_initial=0.5, backoff_max=8.0, jitter=0.5)
    assert [policy.backoff(n, 0.0) for n in (1, 2, 3, 4, 5, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.backoff(2, 0.5) == 1.25
    assert policy.backoff(10_000, 0.0) == 8.0  # 2.0**9999 overflows: the cap, not an exception
