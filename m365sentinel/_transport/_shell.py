"""What the sync and async HTTP clients share outside the flows: argument checks, set-up, the credential twin,
token keys and the logging around one exchange. ``HttpClient`` and ``AsyncHttpClient`` subclass ``ClientShell``
and add only their I/O.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Mapping
from typing import Any, Self

import httpx

from .._errors import InvalidInputError
from .._ids import validate_guid
from ._clouds import Audience, Cloud
from ._flow import Token, Transmit, request_timeout
from ._logging import log_request, log_response
from ._retry import RetryPolicy
from ._tokens import TokenKey

__all__ = ["POOL_LIMITS", "ClientShell", "check_client_args", "credential_for"]


@functools.cache
def _user_agent() -> str:
    # The package's own constant (a test checks it against the installed metadata): importlib.metadata costs a
    # client 5-30 ms to import and scan, which a plain httpx client never pays (issue 17).
    from .. import __version__

    return f"m365sentinel/{__version__} python-httpx/{httpx.__version__}"


def check_client_args(
    cloud: Any, credential: Any, check_credential: Callable[[Any], None], timeout: Any = 30.0, tenant_id: Any = None
) -> None:
    """InvalidInputError for a cloud that is not a ``Cloud``, a mapping not keyed by ``Audience``, a credential
    ``check_credential`` (the face's: sync or async) refuses, a timeout neither ``httpx.Timeout`` nor seconds > 0,
    or a ``tenant_id`` that is neither None nor a GUID."""
    if tenant_id is not None:
        validate_guid(tenant_id, "tenant_id")
    if not isinstance(timeout, httpx.Timeout) and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
    ):
        raise InvalidInputError(
            f"timeout must be a positive number of seconds or an httpx.Timeout, got {timeout!r:.80}"
        )
    if not isinstance(cloud, Cloud):
        raise InvalidInputError(f"cloud must be a Cloud (Cloud.resolve(...) or Cloud.custom(...)), got {cloud!r}")
    if isinstance(credential, Mapping):
        bad = [k for k in credential if not isinstance(k, Audience)]
        if bad or not credential:
            raise InvalidInputError(
                f"credential mapping keys must be Audience members (ARM, LOG_ANALYTICS, GRAPH), got {bad or '{}'}"
            )
        for each in credential.values():
            check_credential(each)
    else:
        check_credential(credential)


def credential_for(credential: Any, audience: Audience) -> Any:
    """The credential for ``audience``: the one given, or its entry in an ``{Audience: credential}`` mapping."""
    if isinstance(credential, Mapping):
        try:
            return credential[audience]
        except KeyError:
            raise InvalidInputError(
                f"no credential given for audience {audience.name}; pass one in the credential mapping"
            ) from None
    return credential


# A fleet runs up to 256 workspaces at once over one session's pool; httpx's default (100 connections, 20 kept
# alive) would queue them or reconnect for each request. Only a network transport has a pool.
POOL_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=256)


class ClientShell:
    """The state and decisions both client faces hold; a subclass owns ``_client`` (an ``httpx.Client`` or
    ``httpx.AsyncClient``)."""

    _client: httpx.Client | httpx.AsyncClient

    def _setup(
        self,
        cloud: Cloud,
        credential: Any,
        retry: RetryPolicy,
        timeout: httpx.Timeout | float,
        clock: Callable[[], float],
        tenant_id: str | None,
        user_agent_suffix: str | None,
        check_credential: Callable[[Any], None],
    ) -> dict[str, Any]:
        """Check the arguments (InvalidInputError; ``check_credential``: the face's), keep them; the keyword
        arguments of the face's httpx client."""
        check_client_args(cloud, credential, check_credential, timeout, tenant_id)
        self._check_credential = check_credential
        self._cloud = cloud
        self._credential = credential
        self._policy = retry
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._clock = clock
        self._tenant_id = tenant_id
        user_agent = _user_agent() + (f" {user_agent_suffix}" if user_agent_suffix else "")
        return {
            "timeout": self._timeout,
            "limits": POOL_LIMITS,
            "follow_redirects": False,  # a redirect could carry the token elsewhere
            "headers": {"User-Agent": user_agent, "Accept": "application/json"},
        }

    def with_credential(self, credential: Any, *, tenant_id: str | None) -> Self:
        """A twin signing with ``credential`` (tokens asked for ``tenant_id``) over this client's pool, retry
        policy and token cache (keyed by credential and tenant): a fleet's per-tenant credentials share one pool.
        Closing either closes the pool. InvalidInputError for a credential of the other face."""
        check_client_args(self._cloud, credential, self._check_credential, tenant_id=tenant_id)
        twin = copy.copy(self)
        twin._credential, twin._tenant_id = credential, tenant_id
        return twin

    @property
    def cloud(self) -> Cloud:
        """The endpoints this client talks to."""
        return self._cloud

    @property
    def closed(self) -> bool:
        """True once the client was closed."""
        return self._client.is_closed

    def _token_key(self, effect: Token) -> tuple[Any, TokenKey]:
        credential = credential_for(self._credential, effect.audience)
        return credential, TokenKey.of(credential, effect.scope, tenant_id=self._tenant_id)

    def _claims_key(self, audience: Audience) -> tuple[Any, TokenKey]:
        """The credential and cache key of this principal's token for ``audience`` (whose claims ``Identity``
        effects read)."""
        credential = credential_for(self._credential, audience)
        return credential, TokenKey.of(credential, self._cloud.scope(audience), tenant_id=self._tenant_id)

    def _principal(self, audience: Audience) -> tuple[int, str | None]:
        """Who a request to ``audience`` counts against in the request budget: its credential and tenant."""
        return id(credential_for(self._credential, audience)), self._tenant_id

    def _build(self, effect: Transmit) -> httpx.Request:
        """The request for ``effect``, logged, then signed (the token is never logged)."""
        spec = effect.spec
        request = self._client.build_request(
            spec.method,
            spec.url,
            json=spec.json,
            headers=effect.headers,
            timeout=request_timeout(self._timeout, spec),
        )
        log_request(spec.method, request)
        request.headers["Authorization"] = f"Bearer {effect.token}"  # after logging; never logged
        return request

    @staticmethod
    def _received(effect: Transmit, response: httpx.Response, started: float, *, read: bool = True) -> httpx.Response:
        """Log ``response`` (``started``: ``time.perf_counter()`` before sending) and detach its body (``read``:
        it has been read; a prefetched page's is read later)."""
        spec = effect.spec
        log_response(
            spec.method, spec.url, response, (time.perf_counter() - started) * 1000.0, effect.client_request_id
        )
        return ClientShell._detached(response) if read else response

    @staticmethod
    def _detached(response: httpx.Response) -> httpx.Response:
        """``response`` (body read) with its body detached from the connection's stream."""
        # httpx binds the (fully read, closed) body stream back to its response: a reference cycle that keeps each
        # page's body alive until a full garbage collection. A plain stream over the same bytes breaks it.
        response.stream = httpx.ByteStream(response.content)
        return response
