"""Exceptions raised by m365sentinel.

The tree (every class is exported from ``m365sentinel``)::

    SentinelError                       root of everything the SDK raises on purpose
    ├── InvalidInputError (ValueError)  bad caller input, raised before any request is sent
    │   └── UnsupportedCloudError       e.g. Azure China (Sentinel retired there in August 2026)
    ├── TransportError                  no HTTP response: connection refused/reset, timeout
    │   ├── ConnectError
    │   └── RequestTimeout
    ├── UnsafeRequestError              refusing to send a token cross-origin or over plain http
    ├── CredentialError                 the credential could not produce a token (azure-identity's error chained)
    ├── ClientClosedError (RuntimeError) the Connector (its HTTP client) was closed
    │   └── EventLoopError              an aio client used from a second event loop
    ├── MissingExtraError (ImportError) an optional feature used without its extra (names the pip install)
    ├── APIStatusError                  the service answered with an error status
    │   ├── BadRequestError (400)
    │   │   └── UnsupportedApiVersionError   kind not supported at this api-version (case A1)
    │   ├── AuthenticationError (401)
    │   ├── PermissionDeniedError (403)
    │   │   └── ConsentRequiredError    licence / consent missing (case A2), also raised for a 401 with such a code
    │   ├── NotFoundError (404)
    │   ├── ConflictError (409)         also raised after etag retries are exhausted
    │   ├── PreconditionFailedError (412)
    │   ├── RateLimitedError (429)      carries ``retry_after`` (seconds) when the service advised one
    │   └── ServerError (5xx)
    ├── SerializationError              a response could not be parsed into the typed model
    ├── QueryError                      a Log Analytics query failed (semantic error, or PartialError on demand)
    │   └── QueryLimitError             a service limit cut the result (rows, time, quota): it would be incomplete
    ├── PreflightError                  a prerequisite of a write is not met (onboarding, tenant, requirements)
    ├── StalePlanError                  a resource changed between plan() and apply() (etag differs)
    ├── CheckpointError                 a checkpoint or its store cannot be used safely: corrupt, unknown version,
    │   │                               another stream's, ahead of the service's clock (raised before any item)
    │   └── CheckpointConflictError     another worker committed the incident checkpoint first (compare-and-swap)
    └── PartialApplyError               apply() stopped part-way: says what was applied and what was not

Caller mistakes are ``InvalidInputError`` (a ``ValueError``) so ``except ValueError`` also works.
Messages never contain tokens or secrets. Every class pickles with its fields (``args``, ``str`` and every
attribute survive, e.g. across a ``ProcessPoolExecutor``); the chained ``__cause__`` is not pickled, as for any
exception.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "CheckpointConflictError",
    "CheckpointError",
    "ClientClosedError",
    "ConflictError",
    "ConnectError",
    "EventLoopError",
    "ConsentRequiredError",
    "FleetIncidentsError",
    "CredentialError",
    "InvalidInputError",
    "MissingExtraError",
    "NotFoundError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "PartialApplyError",
    "PreflightError",
    "QueryError",
    "QueryLimitError",
    "RateLimitedError",
    "RequestTimeout",
    "SentinelError",
    "SerializationError",
    "ServerError",
    "StalePlanError",
    "TransportError",
    "UnsafeRequestError",
    "UnsupportedApiVersionError",
    "UnsupportedCloudError",
]


def _rebuild(cls: type[SentinelError], args: tuple[Any, ...]) -> SentinelError:
    """Unpickle without calling ``__init__`` (most subclasses take keyword-only fields): ``args`` back, then the
    attributes restored by pickle from the instance ``__dict__``."""
    exc = cls.__new__(cls)
    exc.args = args
    return exc


class SentinelError(Exception):
    """Root of every exception m365sentinel raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's default re-calls ``cls(*args)``, which fails for keyword-only fields and loses the others.
        return (_rebuild, (type(self), self.args), dict(self.__dict__))


class InvalidInputError(SentinelError, ValueError):
    """Bad caller input (malformed id, non-GUID tenant, naive datetime, ...), raised before any I/O."""


class UnsupportedCloudError(InvalidInputError):
    """The named cloud is unknown or not supported (Azure China: Sentinel was retired there)."""


class TransportError(SentinelError):
    """The request got no HTTP response (connection error or timeout), after retries."""


class ConnectError(TransportError):
    """Connecting failed or the connection was dropped."""


class RequestTimeout(TransportError):
    """The request timed out."""


class UnsafeRequestError(SentinelError):
    """Refused to send a bearer token: cross-origin nextLink or plain-http endpoint."""


class CredentialError(SentinelError):
    """The credential raised while getting a token (no sign-in, expired secret, ...); its error is ``__cause__``."""


class ClientClosedError(SentinelError, RuntimeError):
    """The client was closed (``close()`` or the end of a ``with`` block); create a new Connector."""


class EventLoopError(ClientClosedError):
    """An ``m365sentinel.aio`` session or connector was used from an event loop other than the one it first ran
    in (its HTTP pool and token locks belong to that loop); create one per loop, inside it."""


class MissingExtraError(SentinelError, ImportError):
    """An optional feature was used without its extra; the message says ``pip install 'm365sentinel[<extra>]'``.

    Attributes: ``feature`` (what was used), ``extra`` (``"emulator"``, ``"charts"``), ``name`` (the missing module,
    as on ``ImportError``). The original ImportError is ``__cause__``.
    """

    def __init__(self, feature: str, extra: str, module: str | None = None) -> None:
        super().__init__(f"{feature} needs the {extra!r} extra: pip install 'm365sentinel[{extra}]'", name=module)
        self.feature = feature
        self.extra = extra

    def __reduce__(self) -> tuple[Any, ...]:  # ImportError's own pickles keyword ``name``, not these arguments
        return (type(self), (self.feature, self.extra, self.name))


class APIStatusError(SentinelError):
    """The service answered with an error status.

    Attributes:
        status_code: HTTP status (int).
        code: service error code from the body (``error.code``), or ``None``.
        message: service error message (``error.message``), or the reason phrase.
        request_id: ``x-ms-request-id`` (ARM), ``x-ms-correlation-request-id``, or Graph's
            ``request-id``, or ``None``.
        method, url: what was requested (the URL without credentials; tokens never appear).
        body: the parsed JSON error body, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        url: str | None = None,
        body: Any = None,
        remediation: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id
        self.method = method
        self.url = url
        self.body = body
        self.remediation = remediation
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [f"{self.status_code}"]
        if self.code:
            parts.append(self.code)
        text = " ".join(parts) + f": {self.message}"
        if self.method and self.url:
            text += f" ({self.method} {self.url})"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        if self.remediation:
            text += f"\nRemediation: {self.remediation}"
        return text


class BadRequestError(APIStatusError):
    """400."""


class UnsupportedApiVersionError(BadRequestError):
    """400: the service does not know the resource kind at this api-version (case A1). Never retried.

    Attributes (besides APIStatusError's): ``kind`` and ``api_version`` when known.
    """

    def __init__(self, message: str, *, kind: str | None = None, api_version: str | None = None, **kw: Any) -> None:
        self.kind = kind
        self.api_version = api_version
        super().__init__(message, **kw)


class AuthenticationError(APIStatusError):
    """401 that survived the single token refresh (case B6)."""


class PermissionDeniedError(APIStatusError):
    """403."""


class ConsentRequiredError(PermissionDeniedError):
    """401/403 with a licence or consent code (case A2). Never retried; ``remediation`` says what to do."""


class NotFoundError(APIStatusError):
    """404."""


class ConflictError(APIStatusError):
    """409, or an etag conflict that persisted after the bounded re-read attempts."""


class PreconditionFailedError(APIStatusError):
    """412 (etag mismatch)."""


class RateLimitedError(APIStatusError):
    """429 after retries, or with a Retry-After beyond the configured ceiling.

    ``retry_after``: the wait the service advised, in seconds (float), or ``None``.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(APIStatusError):
    """5xx after retries."""


class SerializationError(SentinelError):
    """A response body could not be parsed into the typed model; names the path that failed."""


class QueryError(SentinelError):
    """A Log Analytics query failed.

    Attributes: ``code`` and ``message`` of the service error, ``inner`` (list of inner error dicts),
    ``query`` (the KQL text); as on ``APIStatusError``, ``status_code`` (the HTTP status, e.g. 400 for a rejected
    query, 200 for a partial answer) and ``request_id`` (``x-ms-request-id``), each ``None`` when unknown.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        inner: Any = None,
        query: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.inner = inner
        self.query = query
        self.status_code = status_code
        self.request_id = request_id
        super().__init__(f"{code}: {message}" if code else message)


class QueryLimitError(QueryError):
    """A query hit a service limit (rows, execution time, quota): its answer would be incomplete, so none is given.

    Attributes as QueryError, plus ``limit`` (a short name such as ``"rows"``, ``"timeout"``, ``"quota"``).
    """

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        code: str | None = None,
        inner: Any = None,
        query: str | None = None,
    ) -> None:
        self.limit = limit
        super().__init__(message, code=code, inner=inner, query=query)


class PreflightError(SentinelError):
    """A prerequisite of a write is not met. ``problems`` lists each one with its remediation."""

    def __init__(self, message: str, *, problems: tuple[str, ...] = ()) -> None:
        self.problems = problems
        super().__init__(message + "".join(f"\n - {p}" for p in problems))


class StalePlanError(SentinelError):
    """A resource changed between plan() and apply(): its etag differs. Make a fresh plan."""

    def __init__(
        self,
        message: str,
        *,
        resource_id: str | None = None,
        planned_etag: str | None = None,
        current_etag: str | None = None,
    ) -> None:
        self.resource_id = resource_id
        self.planned_etag = planned_etag
        self.current_etag = current_etag
        super().__init__(message)


class PartialApplyError(SentinelError):
    """apply() stopped part-way. ``applied`` and ``not_applied`` are the plan's changes on each side;
    the cause (the typed error that stopped it) is chained as ``__cause__``. Nothing is reported as done that was not.
    """

    def __init__(self, message: str, *, applied: tuple[Any, ...], not_applied: tuple[Any, ...]) -> None:
        self.applied = applied
        self.not_applied = not_applied
        super().__init__(message)


class CheckpointError(SentinelError):
    """A checkpoint, or the store holding it, cannot be used without risking a silent loss: unreadable or corrupt,
    an unknown version, written by another stream (workspace, kind or filters), or ahead of the service's clock.
    Raised when the stream starts, before any item is handed over. ``path``: the store's file or database, when
    there is one."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class CheckpointConflictError(CheckpointError):
    """Another worker committed this checkpoint since it was loaded (``expected`` vs ``actual`` version)."""

    def __init__(
        self, message: str, *, expected: str | None = None, actual: str | None = None, path: str | None = None
    ) -> None:
        super().__init__(message, path=path)
        self.expected = expected
        self.actual = actual


class FleetIncidentsError(SentinelError):
    """A fleet incident pass ended with workspaces whose stream failed (``Fleet.incidents()``). Raised at the end
    of the pass, after every other workspace's items were delivered; ``errors``: {workspace resource id: the
    exception its stream raised}. A failed workspace's checkpoint holds only what the caller committed."""

    def __init__(self, message: str, *, errors: dict[str, Exception]) -> None:
        super().__init__(message)
        self.errors = errors
