"""Transport core (DESIGN layer 4): clouds, request building, retries, paging, error mapping, the HTTP client.

Everything except ``HttpClient`` is free of I/O, so the async twin shares it.
"""

from __future__ import annotations

from ._auth import TokenChallenge, check_token_target, parse_token_challenge
from ._client import HttpClient
from ._clouds import Audience, Cloud, is_loopback_host
from ._error_mapping import CONSENT_REMEDIATION, map_status_error
from ._paging import Pager, next_link_of, next_page_spec
from ._requests import RequestSpec, arm_request, encode_query, graph_request, log_analytics_query_request
from ._retry import RetryDecision, RetryPolicy, decide_retry, retry_after_seconds, should_retry, should_retry_transport

__all__ = [
    "CONSENT_REMEDIATION",
    "Audience",
    "Cloud",
    "HttpClient",
    "Pager",
    "RequestSpec",
    "RetryDecision",
    "RetryPolicy",
    "TokenChallenge",
    "arm_request",
    "check_token_target",
    "decide_retry",
    "encode_query",
    "graph_request",
    "is_loopback_host",
    "log_analytics_query_request",
    "map_status_error",
    "next_link_of",
    "next_page_spec",
    "parse_token_challenge",
    "retry_after_seconds",
    "should_retry",
    "should_retry_transport",
]
