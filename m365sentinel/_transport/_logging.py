"""Redacted HTTP logging on the ``m365sentinel.http`` logger (no handlers or levels configured here).

Only allow-listed headers and query parameters are shown; every other value is ``REDACTED``. The
``Authorization`` header is never logged, not even as REDACTED.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote

import httpx

__all__ = ["LOGGER", "REDACTED", "redact_headers", "redact_url"]

LOGGER = logging.getLogger("m365sentinel.http")
REDACTED = "REDACTED"

_HEADER_ALLOW = frozenset(
    {
        "accept",
        "client-request-id",
        "content-length",
        "content-type",
        "date",
        "etag",
        "if-match",
        "if-none-match",
        "location",
        "prefer",
        "preference-applied",
        "request-id",
        "retry-after",
        "retry-after-ms",
        "user-agent",
        "x-ms-client-request-id",
        "x-ms-correlation-request-id",
        "x-ms-request-id",
        "x-ms-retry-after-ms",
        "x-ms-routing-request-id",
    }
)
_HEADER_ALLOW_PREFIXES = ("x-ms-ratelimit-",)
_QUERY_ALLOW = frozenset(
    {"api-version", "$filter", "$orderby", "$top", "$skip", "$expand", "$select", "$count", "$search"}
)


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Allow-listed headers with their values, others as REDACTED, Authorization dropped entirely."""
    shown: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key in ("authorization", "proxy-authorization"):
            continue
        allowed = key in _HEADER_ALLOW or key.startswith(_HEADER_ALLOW_PREFIXES)
        shown[key] = value if allowed else REDACTED
    return shown


def redact_url(url: str | httpx.URL) -> str:
    """The URL with non-allow-listed query values (``$skipToken`` and anything unknown) as REDACTED."""
    u = httpx.URL(url) if isinstance(url, str) else url
    base = str(u.copy_with(query=None, fragment=None))
    query = u.query.decode("ascii", "replace")
    if not query:
        return base
    parts = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        shown = value if key.lower() in _QUERY_ALLOW else REDACTED
        parts.append(f"{quote(key, safe='$')}={quote(shown, safe=chr(39) + '(),:/$')}")
    return base + "?" + "&".join(parts)


def log_request(method: str, request: httpx.Request) -> None:
    """DEBUG line for a request about to be sent (before the Authorization header is set)."""
    if LOGGER.isEnabledFor(logging.DEBUG):  # the header dict is only built when it will be shown
        LOGGER.debug(
            "HTTP request: %s %s headers=%s", method, redact_url(request.url), redact_headers(request.headers.items())
        )


def log_response(method: str, url: str, response: httpx.Response, elapsed_ms: float, client_request_id: str) -> None:
    """INFO line for a response (status, time, both request ids); its headers at DEBUG."""
    request_id = next((response.headers[h] for h in ("x-ms-request-id", "request-id") if h in response.headers), None)
    LOGGER.info(
        "HTTP response: %s %s -> %d in %.0f ms (request id %s, client request id %s)",
        method,
        redact_url(url),
        response.status_code,
        elapsed_ms,
        request_id,
        client_request_id,
    )
    if LOGGER.isEnabledFor(logging.DEBUG):
        LOGGER.debug("HTTP response headers: %s", redact_headers(response.headers.items()))
