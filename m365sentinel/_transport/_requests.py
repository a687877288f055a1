"""Request building (I/O-free): a ``RequestSpec`` says what to send; ``HttpClient`` sends it.

Builders take paths the caller has already percent-encoded (``WorkspaceId`` does that) and add the query
string themselves, so a URL is assembled in exactly one place. A ``nextLink`` never passes through here: it
is requested verbatim (``_paging``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs

from .._errors import InvalidInputError
from .._ids import validate_guid
from ._clouds import Audience, Cloud

__all__ = [
    "LOG_ANALYTICS_WAIT_SECONDS",
    "RequestSpec",
    "arm_request",
    "encode_query",
    "graph_request",
    "log_analytics_query_request",
]

# The query API stops a query after 3 minutes unless asked to wait longer; 10 minutes is its maximum.
LOG_ANALYTICS_WAIT_SECONDS = 600
# The data-plane APIs carry their version in the path, not as an api-version parameter (DESIGN table).
_LA_PATH = "v1"
_GRAPH_PATH = "v1.0"
_METHODS = frozenset({"GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"})
# Readable OData in URLs ($filter=status eq 'New' -> status%20eq%20'New'); everything else percent-encoded.
_SAFE_KEY = "$"
_SAFE_VALUE = "'(),:/$"


def _headers(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in value)


def _check_method(_inst: Any, _attr: attrs.Attribute[str], value: str) -> None:
    if value not in _METHODS:
        raise InvalidInputError(f"method must be one of {sorted(_METHODS)} (upper case), got {value!r}")


def _check_headers(_inst: Any, _attr: attrs.Attribute[Any], value: tuple[tuple[str, str], ...]) -> None:
    if any(k.lower() == "authorization" for k, _ in value):
        raise InvalidInputError("RequestSpec.headers must not carry Authorization; the client adds the token")


@attrs.frozen
class RequestSpec:
    """One logical request, not yet sent.

    - ``method``: upper-case HTTP method.
    - ``audience``: which token (and which endpoints) the URL belongs to.
    - ``url``: absolute URL, query string included (api-version for ARM first requests).
    - ``json``: the JSON body, or ``None`` for no body.
    - ``headers``: extra headers as ``(name, value)`` pairs (never ``Authorization``: the client adds it).
    - ``retry_post``: this POST is a read (query, list alerts/entities, checkRequirements) and may be retried.
    - ``timeout``: read timeout in seconds for this request, overriding the client's (long queries), or ``None``.
    """

    method: str = attrs.field(validator=_check_method)
    audience: Audience
    url: str
    json: Any = None
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_headers, validator=_check_headers)
    retry_post: bool = False
    timeout: float | None = None


def encode_query(params: Mapping[str, str] | Sequence[tuple[str, str]]) -> str:
    """``k=v&...`` in the given order, percent-encoded; OData punctuation (``$ ' ( ) , : /``) kept readable."""
    items = params.items() if isinstance(params, Mapping) else params
    parts = []
    for key, value in items:
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInputError(f"query parameters must be str -> str, got {key!r}: {value!r}")
        parts.append(f"{quote(key, safe=_SAFE_KEY)}={quote(value, safe=_SAFE_VALUE)}")
    return "&".join(parts)


def _check_path(path: object) -> str:
    if (
        not isinstance(path, str)
        or not path.startswith("/")
        or path.startswith("//")
        or any(c in path for c in "?# \t\r\n")
    ):
        raise InvalidInputError(
            f"path must be an absolute, percent-encoded path such as '/subscriptions/<id>' with no query, got {path!r}"
        )
    return path


def _with_query(base: str, params: Mapping[str, str] | Sequence[tuple[str, str]]) -> str:
    query = encode_query(params)
    return f"{base}?{query}" if query else base


def arm_request(
    cloud: Cloud,
    method: str,
    path: str,
    api_version: str,
    *,
    json: Any = None,
    params: Mapping[str, str] | None = None,
    retry_post: bool = False,
) -> RequestSpec:
    """ARM request: ``{cloud.arm}{path}?api-version={api_version}[&params...]``.

    ``path`` starts with ``/subscriptions/...`` and is already percent-encoded. ``params`` (OData ``$filter``,
    ``$orderby``, ``$top``...) are encoded after the api-version; pass none rather than empty values. Raises
    InvalidInputError for a malformed path, an empty api-version or an empty parameter value.
    """
    _check_path(path)
    if not isinstance(api_version, str) or not api_version.strip():
        raise InvalidInputError(f"api_version must be a non-empty string such as '2025-09-01', got {api_version!r}")
    extra = dict(params or {})
    empty = [k for k, v in extra.items() if v == ""]
    if empty:
        raise InvalidInputError(f"query parameters must not be empty (never send '{empty[0]}='); omit them instead")
    if any(k.lower() == "api-version" for k in extra):
        raise InvalidInputError("pass the api-version as api_version, not in params")
    url = _with_query(cloud.arm + path, [("api-version", api_version), *extra.items()])
    return RequestSpec(method, Audience.ARM, url, json=json, retry_post=retry_post)


def log_analytics_query_request(
    cloud: Cloud,
    workspace_customer_id: str,
    query: str,
    timespan: str | None,
    *,
    workspaces: Sequence[str] = (),
) -> RequestSpec:
    """Log Analytics query: ``POST {cloud.log_analytics}/v1/workspaces/{customerId}/query``.

    Body ``{"query": ..., "timespan": "P14D" | "start/end" (ISO 8601), "workspaces": [...]}`` (timespan and
    workspaces omitted when not given). A read, so it is retried; asks the service to wait up to 10 minutes
    (``Prefer: wait=600``) with a matching read timeout. Raises InvalidInputError for a non-GUID customer id
    or an empty query.
    """
    customer_id = validate_guid(workspace_customer_id, "workspace_customer_id (the workspace's customerId)")
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError(f"query must be non-empty KQL text, got {query!r}")
    if timespan is not None and (not isinstance(timespan, str) or not timespan.strip()):
        raise InvalidInputError(f"timespan must be an ISO 8601 duration or 'start/end' interval, got {timespan!r}")
    body: dict[str, Any] = {"query": query}
    if timespan is not None:
        body["timespan"] = timespan
    if workspaces:
        if isinstance(workspaces, str):
            raise InvalidInputError(f"workspaces must be a sequence of workspace ids, got the string {workspaces!r}")
        body["workspaces"] = list(workspaces)
    return RequestSpec(
        "POST",
        Audience.LOG_ANALYTICS,
        f"{cloud.log_analytics}/{_LA_PATH}/workspaces/{customer_id}/query",
        json=body,
        headers=(("Prefer", f"wait={LOG_ANALYTICS_WAIT_SECONDS}"),),
        retry_post=True,
        timeout=LOG_ANALYTICS_WAIT_SECONDS + 30.0,
    )


def graph_request(
    cloud: Cloud,
    method: str,
    path: str,
    *,
    params: Mapping[str, str] | None = None,
    json: Any = None,
) -> RequestSpec:
    """Microsoft Graph request: ``{cloud.graph}/v1.0{path}[?params]``.

    Always sends ``Prefer: include-unknown-enum-members`` so evolvable enums arrive as their real values
    (case D1); the header stays on every page. Raises InvalidInputError for a malformed path or empty
    parameter value.
    """
    _check_path(path)
    extra = dict(params or {})
    empty = [k for k, v in extra.items() if v == ""]
    if empty:
        raise InvalidInputError(f"query parameters must not be empty (never send '{empty[0]}='); omit them instead")
    url = _with_query(f"{cloud.graph}/{_GRAPH_PATH}{path}", list(extra.items()))
    return RequestSpec(
        method,
        Audience.GRAPH,
        url,
        json=json,
        headers=(("Prefer", "include-unknown-enum-members"),),
    )
