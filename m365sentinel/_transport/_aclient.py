"""The asynchronous HTTP client: the async shell over the same flows as ``HttpClient`` (``_flow``).

It holds no decision of its own: the retry loop, token refresh, error mapping and paging are ``_flow``'s
generators; this module performs their effects with ``httpx.AsyncClient``, an ``azure.identity.aio`` credential
and ``asyncio`` (a ``Prefetch`` becomes a task).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, TypeVar

import httpx

from .._errors import ClientClosedError, CredentialError, EventLoopError, InvalidInputError
from ._atokens import AsyncTokenCache
from ._claims import token_claims
from ._clouds import Audience, Cloud
from ._flow import Flow, Identity, Prefetch, Send, Sleep, Token, Transmit, check_flow, json_body, request_flow
from ._gates import AsyncGate
from ._requests import RequestSpec
from ._retry import RetryPolicy
from ._shell import ClientShell
from ._tokens import is_async_credential

__all__ = ["AsyncHttpClient", "check_async_credential"]

T = TypeVar("T")
_EFFECTS = (Send, Prefetch, Sleep)


def check_async_credential(credential: Any) -> None:
    """InvalidInputError unless ``credential`` is an async credential (``azure.identity.aio``: ``get_token`` a
    coroutine function). A sync credential would block the event loop on every token (the Azure CLI one runs a
    subprocess). The mirror of ``_tokens.check_sync_credential``."""
    if not is_async_credential(credential):
        raise InvalidInputError(
            f"the async face needs an async credential (azure.identity.aio, e.g. "
            f"azure.identity.aio.DefaultAzureCredential), got the sync {type(credential).__name__}; use the sync "
            "m365sentinel.Connector with it, or its azure.identity.aio counterpart here"
        )


class AsyncHttpClient(ClientShell):
    """One pooled ``httpx.AsyncClient`` for ARM, Log Analytics and Graph: ``HttpClient``'s async twin.

    Parameters as ``HttpClient``'s (tokens cached the same way, ``_atokens``), except: ``credential`` is an
    ``azure.identity.aio`` credential (or a mapping
    ``{Audience: credential}`` of them; a sync one is InvalidInputError), ``transport`` an
    ``httpx.AsyncBaseTransport``, and ``sleep`` may return an awaitable (default ``asyncio.sleep``);
    ``close_credential``: close the credential with the client (for one the SDK created).

    Usage::

        async with AsyncHttpClient(Cloud.resolve("AzureCloud"), DefaultAzureCredential()) as http:
            workspace = await http.send_json(arm_request(cloud, "GET", ws_path, "2023-09-01"))
    """

    _client: httpx.AsyncClient

    def __init__(
        self,
        cloud: Cloud,
        credential: Any,
        *,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 (frozen value object, safe as a default)
        timeout: httpx.Timeout | float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None] | None] = asyncio.sleep,
        user_agent_suffix: str | None = None,
        clock: Callable[[], float] = time.time,
        tenant_id: str | None = None,
        close_credential: bool = False,
    ) -> None:
        options = self._setup(
            cloud, credential, retry, timeout, clock, tenant_id, user_agent_suffix, check_async_credential
        )
        self._tokens = AsyncTokenCache(clock)
        self._sleep = sleep
        self._close_credential = close_credential
        self._gate = AsyncGate(clock, sleep)  # the request budget per principal, shared by credential twins
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop it first ran in (see _check_loop)
        self._client = httpx.AsyncClient(transport=transport, **options)

    async def send(self, spec: RequestSpec) -> httpx.Response:
        """The 2xx ``httpx.Response`` for ``spec`` (``HttpClient.send``, awaited: same retries and token refresh).
        Raises InvalidInputError (not a RequestSpec), UnsafeRequestError (before sending), APIStatusError
        subclasses, RateLimitedError, ConnectError / RequestTimeout, CredentialError, ClientClosedError."""
        if self._client.is_closed:
            raise ClientClosedError("the client is closed (aclose() or the end of its async with); create a new one")
        self._check_loop()
        flow = request_flow(spec, self._cloud, self._policy, self._clock)
        outcome: Any = None
        failure: BaseException | None = None
        waited_until = 0.0  # the end of this request's last retry wait (the budget counts it as passed)
        while True:
            try:
                effect = flow.send(outcome) if failure is None else flow.throw(failure)
            except StopIteration as done:
                response: httpx.Response = done.value
                return response
            outcome, failure = None, None
            try:
                if isinstance(effect, Transmit):
                    outcome = await self._budgeted(effect, waited_until)
                elif isinstance(effect, Token):
                    credential, key = self._token_key(effect)
                    if effect.rejected is None:
                        outcome = await self._tokens.get(credential, key)
                    else:
                        outcome = await self._tokens.renew(credential, key, effect.rejected, effect.claims)
                else:
                    waited_until = self._clock() + effect.seconds
                    waited = self._sleep(effect.seconds)
                    if inspect.isawaitable(waited):
                        await waited
            except (httpx.TransportError, CredentialError, InvalidInputError) as exc:
                failure = exc

    async def send_json(self, spec: RequestSpec) -> Any:
        """``send`` and parse the body as JSON; ``None`` for 204 or an empty body. Raises what ``send`` raises and
        SerializationError when the body is not JSON."""
        return json_body(spec, await self.send(spec))

    async def run(self, flow: Flow[T]) -> T:
        """Drive a flow that only sends (``HttpClient.run``'s twin); its return value. Raises InvalidInputError
        when ``flow`` is not a generator, and whatever the flow raises."""
        check_flow(flow)
        outcome: Any = None
        failure: BaseException | None = None
        while True:
            try:
                effect = flow.send(outcome) if failure is None else flow.throw(failure)
            except StopIteration as done:
                result: T = done.value
                return result
            outcome, failure = None, None
            if isinstance(effect, Send | Identity):
                try:
                    outcome = await (
                        self.send(effect.spec) if isinstance(effect, Send) else self._claims(effect.audience)
                    )
                except Exception as exc:  # thrown in: the flow sees it where it asked, as a call would
                    failure = exc
            elif not isinstance(effect, Prefetch):
                raise TypeError(f"a flow run by AsyncHttpClient.run yielded an item: {effect!r}")

    async def iterate(
        self, flow: Generator[Any, Any, Any], *, wait: Callable[[float], Awaitable[None]] | None = None
    ) -> AsyncIterator[Any]:
        """Drive a listing flow (``HttpClient.iterate``'s twin): a ``Prefetch`` runs as a task while the caller
        handles the items before it; its outcome (or error) is delivered at the ``Send`` that asks for it.
        Raises InvalidInputError when ``flow`` is not a generator (at the first item), and whatever it raises."""
        check_flow(flow)
        pending: tuple[RequestSpec, asyncio.Task[httpx.Response]] | None = None
        handed = 0
        outcome: Any = None
        failure: BaseException | None = None
        try:
            while True:
                try:
                    effect = flow.send(outcome) if failure is None else flow.throw(failure)
                except StopIteration:
                    return
                outcome, failure = None, None
                if not isinstance(effect, _EFFECTS):  # an item (the common case: checked once)
                    yield effect
                    handed += 1
                    if pending is not None and handed % 16 == 0 and not pending[1].done():
                        await asyncio.sleep(0)  # let the prefetch read its response while the caller handles items
                elif isinstance(effect, Send):
                    try:
                        if pending is not None and pending[0] is effect.spec and not self._client.is_closed:
                            task, pending = pending[1], None
                            outcome = await task
                        else:
                            if pending is not None:
                                pending[1].cancel()
                            pending = None
                            outcome = await self.send(effect.spec)
                    except Exception as exc:
                        failure = exc
                elif isinstance(effect, Sleep):  # between polls (follow): the caller's wait
                    await (wait or asyncio.sleep)(effect.seconds)
                elif isinstance(effect, Prefetch):
                    pending = (effect.spec, asyncio.ensure_future(self.send(effect.spec)))
                    await asyncio.sleep(0)  # let the task send its request: the service works while we hand out items
        finally:
            flow.close()
            if pending is not None:
                pending[1].cancel()

    async def aclose(self) -> None:
        """Close the pooled connections (and the credential when ``close_credential``: one this SDK created); the
        client cannot be used afterwards (ClientClosedError)."""
        await self._client.aclose()
        if self._close_credential:
            close = getattr(self._credential, "close", None)
            if close is not None:
                await close()

    async def __aenter__(self) -> AsyncHttpClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncHttpClient(cloud={self._cloud.name!r})"

    def _check_loop(self) -> None:
        # httpx's pool and the token cache's locks belong to the loop the client first ran in: from another one
        # they fail inside asyncio ("bound to a different event loop", "Event loop is closed") or hang.
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise EventLoopError(
                "this m365sentinel.aio client first ran in another event loop, and is used in one event loop only: "
                "create the Session or Connector inside the loop that uses it (e.g. in the coroutine asyncio.run "
                "runs), one per loop"
            )

    async def _claims(self, audience: Audience) -> dict[str, Any]:
        """The claims of this principal's (cached) token for ``audience`` (``_claims.token_claims``)."""
        credential, key = self._claims_key(audience)
        return token_claims(await self._tokens.get(credential, key))

    async def _budgeted(self, effect: Transmit, waited_until: float) -> httpx.Response:
        """``_transmit`` within the budget of its principal (``_budget``; ``HttpClient._budgeted``'s twin)."""
        audience = effect.spec.audience
        principal = self._principal(audience)
        await self._gate.enter(principal, audience, waited_until)
        response = None
        try:
            response = await self._transmit(effect)
            return response
        finally:
            self._gate.leave(principal, audience, response)

    async def _transmit(self, effect: Transmit) -> httpx.Response:
        request = self._build(effect)
        started = time.perf_counter()
        try:
            response = await self._client.send(request)
        except RuntimeError as exc:
            if self._client.is_closed:
                raise ClientClosedError("the client was closed while this request was being sent") from exc
            raise
        return self._received(effect, response, started)
