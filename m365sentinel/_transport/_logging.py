"""Redacted HTTP logging on the ``m365sentinel.http`` logger (no handlers or levels configured here).

Only allow-listed headers and query parameters are shown; every other value is ``REDACTED``. The
``Authorization`` header is never logged, not even as REDACTED.

The SDK also drives httpx's and httpcore's own loggers, which print request URLs (a nextLink's ``$skipToken``)
as they are. ``RedactTokens`` is installed as a filter on each of those loggers (and on the SDK's) when this module
is imported, i.e. before the SDK sends anything: it rewrites a record's URLs as ``redact_url`` does and any
continuation token or bearer token left in its text as REDACTED. A logger's filter sees only the records logged
on that very logger, not its children's, so every httpcore module logger is named.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote

import httpx

from .._lazy import LazyPattern

__all__ = ["LOGGER", "REDACTED", "RedactTokens", "install_redaction", "redact_headers", "redact_text", "redact_url"]

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


# Continuation tokens in any spelling (``$skipToken``, ``$skiptoken``, ``%24skiptoken``, ``skip_token``,
# ``continuationToken``), and bearer tokens, wherever they appear in a message (URL, repr of bytes, header text).
_TOKENS = LazyPattern(
    r"(?i)((?:\$|%24)?(?:skip_?token|continuation_?token)(?:=|%3D|'\s*:\s*'|\"\s*:\s*\")|\bbearer\s+)"
    r"[^&\s\"'<>,)\]}]+"
)


def redact_text(text: str) -> str:
    """``text`` with every continuation token and bearer token value replaced by REDACTED."""
    return _TOKENS.sub(lambda m: m.group(1) + REDACTED, text)


class RedactTokens(logging.Filter):
    """Rewrites a record before any handler sees it: ``httpx.URL`` arguments through ``redact_url``, then token
    values in the formatted text through ``redact_text``. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(redact_url(a) if isinstance(a, httpx.URL) else a for a in record.args)
        try:
            text = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it for logging's own error report
            return True
        redacted = redact_text(text)
        if redacted != text:
            record.msg, record.args = redacted, ()
        return True


_REDACT = RedactTokens()
# httpcore names one logger per module; h2/socks ones exist only once those modules load, so all are named here.
_DRIVEN = (
    "m365sentinel",
    "m365sentinel.http",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def install_redaction() -> None:
    """Put the filter on every logger the SDK drives (idempotent): its own, httpx's and each of httpcore's."""
    names = set(_DRIVEN) | {n for n in list(logging.Logger.manager.loggerDict) if n.startswith("httpcore.")}
    for name in sorted(names):
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)


install_redaction()


def log_request(method: str, request: httpx.Request) -> None:
    """DEBUG line for a request about to be sent (before the Authorization header is set)."""
    if LOGGER.isEnabledFor(logging.DEBUG):  # the header dict is only built when it will be shown
        LOGGER.debug(
            "HTTP request: %s %s headers=%s", method, redact_url(request.url), redact_headers(request.headers.items())
        )


def log_response(method: str, url: str, response: httpx.Response, elapsed_ms: float, client_request_id: str) -> None:
    """INFO line for a response (status, time, both request ids); its headers at DEBUG."""
    if not LOGGER.isEnabledFor(logging.INFO):  # redacting the URL parses it again: a fleet sends thousands
        return
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
