"""Error responses -> typed exceptions, in one pure function (``map_status_error``).

Body shapes understood:
- ARM CloudError / ErrorResponse: ``{"error": {"code", "message", "target"?, "details"?}}``
- Graph: ``{"error": {"code", "message", "innerError": {"request-id", "date", ...}}}``
- Log Analytics: ``{"error": {"code", "message", "correlationId"?, "innererror": {...}}}``
- a bare ``{"code", "message"}`` (some resource providers), keys in any casing (``{"Code", "Message"}``), OData v3's
  ``{"odata.error": {"code", "message": {"lang", "value"}}}``, or any non-JSON text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from .._errors import (
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
from .._json import loads as decode_json
from .._lazy import LazyPattern
from ._retry import retry_after_seconds

__all__ = [
    "CONSENT_REMEDIATION",
    "ServiceError",
    "is_consent_error",
    "is_error_envelope",
    "map_status_error",
    "parse_service_error",
    "request_id_from",
    "unsupported_api_version",
]

CONSENT_REMEDIATION = (
    "A Global Administrator or Security Administrator must switch on the Microsoft Sentinel integration in the "
    "Microsoft Defender portal (Settings > Microsoft Sentinel) before the connector can be enabled; service "
    "principals are refused until then."
)
# Compared after lower-casing and dropping everything but letters and digits ("Missing consent" == "MissingConsent").
_CONSENT_MARKERS = ("invalidlicense", "licenseinvalid", "missingconsent", "licenseisinvalid", "consentrequired")
_KIND_NOT_SUPPORTED = LazyPattern(
    r"kind\W+(?P<kind>[A-Za-z][\w.-]*)\W*\s+is\s+not\s+supported\s+(?:in|for|at|by)\s+(?:the\s+)?"
    r"api[\s-]?version\W*(?P<version>\d{4}-\d{2}-\d{2}(?:-preview)?)?",
    re.IGNORECASE,
)
_API_VERSION_CODES = frozenset(
    {"invalidapiversionparameter", "noregisteredproviderfound", "invalidapiversion", "unsupportedapiversion"}
)
_VERSION = LazyPattern(r"\d{4}-\d{2}-\d{2}(?:-preview)?")
_REQUEST_ID_HEADERS = ("x-ms-request-id", "x-ms-correlation-request-id", "request-id")
_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    429: RateLimitedError,
}


@attrs.frozen
class ServiceError:
    """The parts of an error body we use: parsed JSON (or None), ``code``, ``message``, inner request id."""

    body: Any
    code: str | None
    message: str | None
    inner_request_id: str | None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _get(obj: dict[str, Any], *names: str) -> Any:
    """The first of ``names`` present in ``obj``, matched case-insensitively (``code``/``Code``, ``Error``)."""
    folded = {k.casefold(): v for k, v in obj.items() if isinstance(k, str)}
    for name in names:
        if name in folded:
            return folded[name]
    return None


def _text(value: Any) -> str | None:
    # OData v3 ("odata.error") sends the message as {"lang": "en-US", "value": "..."}.
    if isinstance(value, dict):
        value = _get(value, "value")
    return _str(value)


def parse_service_error(content: bytes) -> ServiceError:
    """Parse an error body of any of the shapes above (keys in any casing; ``odata.error``); never raises."""
    try:
        body = decode_json(content) if content.strip() else None
    except (ValueError, UnicodeDecodeError):
        text = content.decode("utf-8", "replace").strip()
        return ServiceError(None, None, text[:500] or None, None)
    if not isinstance(body, dict):
        return ServiceError(body, None, None, None)
    err: Any = _get(body, "error", "odata.error")
    if isinstance(err, str):  # OAuth style: {"error": "invalid_token", "error_description": "..."}
        desc = _str(_get(body, "error_description")) or _text(_get(body, "message"))
        return ServiceError(body, err, desc, None)
    if not isinstance(err, dict):
        err = body
    inner = _get(err, "innererror") or {}
    inner_id = (_str(_get(inner, "request-id", "requestid"))) if isinstance(inner, dict) else None
    inner_id = inner_id or _str(_get(err, "correlationid"))
    return ServiceError(body, _str(_get(err, "code")), _text(_get(err, "message")), inner_id)


def is_error_envelope(body: Any) -> bool:
    """True for a decoded body that is nothing but an error: ``{"error": {...}}`` (any casing, ``odata.error``),
    beside at most OData annotations. A success status with such a body carries no data: it is an error."""
    if not isinstance(body, dict):
        return False
    keys = {k.casefold() for k in body if isinstance(k, str) and not k.startswith("@odata.")}
    return len(keys) == 1 and keys <= {"error", "odata.error"} and isinstance(_get(body, "error", "odata.error"), dict)


def request_id_from(headers: Mapping[str, str], error: ServiceError | None = None) -> str | None:
    """``x-ms-request-id`` (ARM), ``x-ms-correlation-request-id``, ``request-id`` (Graph), else the body's."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in _REQUEST_ID_HEADERS:
        if lowered.get(name):
            return lowered[name]
    return error.inner_request_id if error is not None else None


def is_consent_error(code: str | None, message: str | None) -> bool:
    """True when the code or message says the licence is missing or the Defender integration lacks consent."""
    text = re.sub(r"[^a-z0-9]", "", f"{code or ''} {message or ''}".lower())
    return any(marker in text for marker in _CONSENT_MARKERS)


def unsupported_api_version(
    code: str | None, message: str | None, url: str | None, request_json: Any = None
) -> tuple[str | None, str | None] | None:
    """For a 400 body: ``(kind, api_version)`` when it says the kind or api-version is unsupported, else None.

    Matches "kind X is not supported in api-version V" in any casing, and codes such as
    InvalidApiVersionParameter / NoRegisteredProviderFound whose message mentions an api-version. Missing
    parts come from the request body's ``kind`` and the URL's ``api-version``.
    """
    msg = message or ""
    kind: str | None = None
    version: str | None = None
    m = _KIND_NOT_SUPPORTED.search(msg)
    if m:
        kind, version = m["kind"], m["version"]
    elif (code or "").lower() in _API_VERSION_CODES and re.search(r"api[\s-]?version", msg, re.IGNORECASE):
        found = _VERSION.search(msg)
        version = found.group(0) if found else None
    else:
        return None
    if kind is None and isinstance(request_json, dict):
        kind = _str(request_json.get("kind"))
    if version is None and url:
        q = re.search(r"[?&]api-version=([^&#]+)", url)
        version = q.group(1) if q else None
    return kind, version


def _safe_url(url: str | None) -> str | None:
    # URLs here never carry credentials; drop any userinfo defensively.
    return re.sub(r"^(\w+://)[^/@]*@", r"\1", url) if url else url


def map_status_error(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    method: str | None = None,
    url: str | None = None,
    reason: str | None = None,
    request_json: Any = None,
    now: float = 0.0,
) -> APIStatusError:
    """Build the typed exception for an error response (pure).

    400 -> BadRequestError (UnsupportedApiVersionError for case A1), 401 -> AuthenticationError,
    403 -> PermissionDeniedError, 401/403 with a licence/consent code -> ConsentRequiredError (case A2),
    404 NotFoundError, 409 ConflictError, 412 PreconditionFailedError, 429 RateLimitedError (``retry_after``
    from the headers, measured against ``now``), 5xx ServerError, anything else APIStatusError.
    """
    error = parse_service_error(content)
    message = error.message or reason or f"HTTP {status}"
    common: dict[str, Any] = {
        "status_code": status,
        "code": error.code,
        "request_id": request_id_from(headers, error),
        "method": method,
        "url": _safe_url(url),
        "body": error.body,
    }
    if status in (401, 403) and is_consent_error(error.code, error.message):
        return ConsentRequiredError(message, remediation=CONSENT_REMEDIATION, **common)
    if status == 400:
        parsed = unsupported_api_version(error.code, error.message, url, request_json)
        if parsed is not None:
            kind, version = parsed
            return UnsupportedApiVersionError(
                message,
                kind=kind,
                api_version=version,
                remediation=(
                    f"The service does not accept {f'kind {kind} at ' if kind else ''}api-version {version or '?'}; "
                    "use an api-version that declares it (see m365sentinel ApiVersions)."
                ),
                **common,
            )
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after_seconds(headers, now), **common)
    if status >= 500:
        return ServerError(message, **common)
    return _BY_STATUS.get(status, APIStatusError)(message, **common)
