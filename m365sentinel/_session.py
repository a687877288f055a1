"""Session: one HTTP pool and one token cache shared by every Connector made from it.

Building an ``httpx.Client`` costs ~50-130 ms (its TLS context loads the CA bundle), and each client would cache
its own tokens; a session pays both once. A ``Connector`` made alone owns a private session.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs
import httpx

from ._errors import ClientClosedError, InvalidInputError
from ._ids import validate_guid
from ._inputs import check_callable
from ._transport import Audience, Cloud, HttpClient, RetryPolicy
from ._transport._tokens import check_sync_credential

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from ._api_versions import ApiVersions
    from ._connector import Connector
    from ._ids import WorkspaceId

__all__ = ["Session", "SessionFace", "default_credential", "open_client", "resolve_cloud"]

C = TypeVar("C")


def default_credential(cloud: Cloud) -> TokenCredential:
    """``DefaultAzureCredential`` signing in at the cloud's authority (``login.microsoftonline.us`` for
    AzureUSGovernment). It takes ``authority=``, not ``tenant_id=``: a tenant goes with each token request."""
    from azure.identity import DefaultAzureCredential  # imported only when used (import cost)

    return DefaultAzureCredential(authority=cloud.authority)


def _check_options(
    credential: Any,
    retry: Any,
    timeout: Any,
    transport: Any,
    sleep: Any,
    clock: Any,
    *,
    check_credential: Callable[[Any], None] = check_sync_credential,
    transport_type: type | None = None,
) -> None:
    """Options are checked here, before any request (a wrong type would otherwise fail on first use).
    ``check_credential``, ``transport_type``: the face's (the async face passes its own; default the sync ones)."""
    if isinstance(credential, Mapping):
        if not credential or not all(isinstance(k, Audience) for k in credential):
            raise InvalidInputError(f"credential mapping keys must be Audience members, got {list(credential)!r}")
        for c in credential.values():
            check_credential(c)
    elif credential is not None:
        check_credential(credential)
    for name, value, cls in (
        ("retry", retry, RetryPolicy),
        ("transport", transport, transport_type or httpx.BaseTransport),
    ):
        if value is not None and not isinstance(value, cls):
            raise InvalidInputError(f"{name} must be a {cls.__module__}.{cls.__qualname__} or None, got {value!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise InvalidInputError(f"timeout must be a positive number of seconds, got {timeout!r}")
    for name, value, arity, expected in (("sleep", sleep, 1, "sleep(seconds)"), ("clock", clock, 0, "clock()")):
        if value is not None:
            check_callable(value, name, arity, f"a callable {expected} or None")


def resolve_cloud(cloud: str | Cloud, graph: str | None) -> Cloud:
    """``cloud`` as a ``Cloud`` (a name resolved with ``graph``); InvalidInputError for ``graph=`` with a Cloud."""
    if isinstance(cloud, Cloud):
        if graph is not None:
            raise InvalidInputError("graph= applies to a named cloud; a Cloud object already carries its Graph host")
        return cloud
    return Cloud.resolve(cloud, graph=graph)


@attrs.frozen
class SessionFace(Generic[C]):
    """What differs between the sync and async sessions' set-up: the client type, the credential check, the
    transport type, the default credential and sleep, and whether a default credential is closed with the pool."""

    client: Callable[..., C]
    check_credential: Callable[[Any], None]
    transport_type: type
    default_credential: Callable[[Cloud], Any]
    default_sleep: Callable[[float], Any]
    closes_default: bool = False


def service_clock(transport: Any) -> Callable[[], float]:
    """The clock token expiry and HTTP-date ``Retry-After`` are measured on when no ``clock=`` is given: the one a
    transport standing in for the service carries (``transport.clock``, POSIX seconds: the emulator's transports
    carry its pinned or moved clock, on which it issues tokens), else the wall clock."""
    clock = getattr(transport, "clock", None)
    return clock if callable(clock) else time.time


def open_client(
    face: SessionFace[C],
    credential: Any,
    tenant_id: str | None,
    cloud: str | Cloud,
    graph: str | None,
    retry: RetryPolicy | None,
    timeout: float,
    transport: Any,
    sleep: Callable[[float], Any] | None,
    clock: Callable[[], float] | None,
) -> C:
    """A session's HTTP client from its options, all checked first (InvalidInputError, before any request)."""
    tenant = validate_guid(tenant_id, "tenant_id") if tenant_id is not None else None
    _check_options(
        credential,
        retry,
        timeout,
        transport,
        sleep,
        clock,
        check_credential=face.check_credential,
        transport_type=face.transport_type,
    )
    resolved = resolve_cloud(cloud, graph)
    extra = {"close_credential": credential is None} if face.closes_default else {}
    return face.client(
        resolved,
        face.default_credential(resolved) if credential is None else credential,
        retry=retry or RetryPolicy(),
        timeout=timeout,
        transport=transport,
        sleep=face.default_sleep if sleep is None else sleep,
        clock=service_clock(transport) if clock is None else clock,
        tenant_id=tenant,
        **extra,
    )


_FACE: SessionFace[HttpClient] = SessionFace(
    HttpClient, check_sync_credential, httpx.BaseTransport, default_credential, time.sleep
)


class SessionCore:
    """What both faces' sessions share: the pooled client (``_http``), its cloud, whether it is closed, the repr."""

    __slots__ = ("_http",)
    _http: Any

    @property
    def cloud(self) -> Cloud:
        """The endpoints every connector of this session talks to."""
        return self._http.cloud  # type: ignore[no-any-return]

    @property
    def closed(self) -> bool:
        """True once ``close()`` ran (or its ``with`` / ``async with`` block ended)."""
        return self._http.closed  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"Session(cloud={self.cloud.name!r}{', closed' if self.closed else ''})"


class Session(SessionCore):
    """One HTTP connection pool and one token cache shared by every ``Connector`` made from it.

    ::

        from m365sentinel import Session

        with Session(cloud="AzureCloud") as session:  # DefaultAzureCredential for the cloud
            for workspace in workspaces:
                print(session.connector(workspace).status())

    Tokens are cached per (credential, scope, tenant) and refreshed ahead of expiry as azure-core's
    bearer-token policy does (``refresh_on``, else 5 minutes before ``expires_on``): one token request per token
    lifetime per audience (ARM, Log Analytics, Graph), however many connectors and requests.

    Parameters:
        credential: an azure-identity ``TokenCredential`` (sync; an ``azure.identity.aio`` credential belongs to
            ``m365sentinel.aio``), or ``{Audience: TokenCredential}``. ``None``:
            ``DefaultAzureCredential(authority=<the cloud's sign-in host>)``.
        tenant_id: the tenant tokens are requested for (GUID; passed as ``get_token(tenant_id=)``). ``None``: the
            credential's own.
        cloud: as ``Connector``; applies to every connector of the session, as do the options below.
        graph: as ``Connector``.
        retry: a ``RetryPolicy`` (default: ``RetryPolicy()``).
        timeout: seconds per request.
        transport: any httpx transport (the emulator plugs in here).
        sleep: how retries wait (default ``time.sleep``).
        clock: POSIX seconds (UTC) for token expiry and HTTP-date ``Retry-After``; default the transport's
            ``clock`` when it carries one (the emulator's transports carry ``emu.time``), else ``time.time``.

    Raises InvalidInputError for a malformed option (before any request). ``close()`` (or the end of ``with``)
    closes the pool: requests of its connectors, and ``connector()``, then raise ClientClosedError.
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        credential: TokenCredential | Mapping[Audience, TokenCredential] | None = None,
        tenant_id: str | None = None,
        cloud: str | Cloud = "AzureCloud",
        graph: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: Any = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._http = open_client(_FACE, credential, tenant_id, cloud, graph, retry, timeout, transport, sleep, clock)

    def connector(
        self,
        workspace: str | WorkspaceId,
        *,
        tenant_id: str | None = None,
        api_versions: ApiVersions | None = None,
    ) -> Connector:
        """A ``Connector`` for ``workspace`` (ARM resource id) sharing this session's pool and tokens; cheap (no
        I/O, no new client). ``tenant_id``, ``api_versions``: as ``Connector``. Closing the connector leaves the
        session open. Raises ClientClosedError when the session is closed, InvalidInputError for bad input."""
        if self.closed:
            raise ClientClosedError("the session is closed (close() or the end of its with block); create a new one")
        from ._connector import Connector  # deferred: _connector imports this module

        return Connector._of_session(self._http, workspace, tenant_id, api_versions)

    def close(self) -> None:
        """Close the pooled connections; the session's connectors cannot send afterwards (ClientClosedError)."""
        self._http.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
