"""The synchronous HTTP client: one ``httpx.Client``, bearer tokens per audience, retries, paging.

Every decision (where a token may go, what is retried and how long to wait, how errors map, how pages
link) lives in the pure modules next to this one; this module only performs the I/O.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from .._errors import ClientClosedError, CredentialError, InvalidInputError
from ._claims import token_claims
from ._clouds import Audience, Cloud
from ._flow import (
    Flow,
    Identity,
    Prefetch,
    Send,
    Sleep,
    Token,
    Transmit,
    check_flow,
    json_body,
    page_flow,
    request_flow,
)
from ._gates import Gate
from ._requests import RequestSpec
from ._retry import RetryPolicy
from ._shell import ClientShell, check_client_args, credential_for
from ._tokens import TokenCache, check_sync_credential

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

__all__ = ["HttpClient", "check_client_args", "credential_for"]

T = TypeVar("T")
_EFFECTS = (Send, Prefetch, Sleep)


class HttpClient(ClientShell):
    """One pooled ``httpx.Client`` for ARM, Log Analytics and Graph, with tokens, retries and paging.

    Parameters:
        cloud: endpoints (``Cloud.resolve(...)`` or ``Cloud.custom(...)``).
        credential: any azure-identity ``TokenCredential`` used for every audience, or a mapping
            ``{Audience: TokenCredential}`` when audiences need different credentials.
        retry: ``RetryPolicy`` (attempts, Retry-After ceiling, backoff).
        timeout: httpx timeout (seconds or ``httpx.Timeout``).
        transport: any httpx transport (tests, the emulator); default: httpx's network transport.
        sleep: how to wait between attempts (tests inject a recorder).
        user_agent_suffix: appended to ``m365sentinel/<version> python-httpx/<version>``.
        clock: POSIX-seconds clock used to measure HTTP-date Retry-After values and token expiry.
        tenant_id: the tenant tokens are asked for (``get_token(tenant_id=)``); None: the credential's own.

    Tokens are cached per (credential, scope, tenant) and refreshed ahead of expiry (``_tokens.TokenCache``):
    one token request per token lifetime per audience.

    Usage::

        with HttpClient(Cloud.resolve("AzureCloud"), DefaultAzureCredential()) as http:
            workspace = http.send_json(arm_request(cloud, "GET", ws_path, "2023-09-01"))
    """

    _client: httpx.Client

    def __init__(
        self,
        cloud: Cloud,
        credential: TokenCredential | Mapping[Audience, TokenCredential],
        *,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 (frozen value object, safe as a default)
        timeout: httpx.Timeout | float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent_suffix: str | None = None,
        clock: Callable[[], float] = time.time,
        tenant_id: str | None = None,
    ) -> None:
        options = self._setup(
            cloud, credential, retry, timeout, clock, tenant_id, user_agent_suffix, check_sync_credential
        )
        self._tokens = TokenCache(clock)
        self._client = httpx.Client(transport=transport, **options)
        self._sleep = sleep
        self._gate = Gate(clock, sleep)  # the request budget per principal, shared by credential twins

    # -- public API ---------------------------------------------------------------------------------------

    def send(self, spec: RequestSpec) -> httpx.Response:
        """Send ``spec`` with a bearer token for its audience; return the 2xx response (body read).

        Retries per the RetryPolicy (429/5xx/connection errors/timeouts; POST only when ``spec.retry_post``),
        refreshes the token once on a genuine token error, and keeps one ``x-ms-client-request-id`` across
        attempts (the decisions: ``_flow.request_flow``, shared with the async client). Raises UnsafeRequestError
        (before sending) when the URL is not one of the cloud's endpoints for the audience or is plain http off
        loopback; APIStatusError subclasses for error statuses; RateLimitedError at once when Retry-After exceeds
        the ceiling; ConnectError / RequestTimeout when no response came; CredentialError when the credential
        fails.
        """
        if self._client.is_closed:
            raise ClientClosedError("the client is closed (close() or the end of its with block); create a new one")
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
                    outcome = self._budgeted(effect, waited_until)
                elif isinstance(effect, Token):
                    credential, key = self._token_key(effect)
                    if effect.rejected is None:
                        outcome = self._tokens.get(credential, key)
                    else:
                        outcome = self._tokens.renew(credential, key, effect.rejected, effect.claims)
                else:
                    waited_until = self._clock() + effect.seconds
                    self._sleep(effect.seconds)
            except (httpx.TransportError, CredentialError, InvalidInputError) as exc:
                failure = exc

    def send_json(self, spec: RequestSpec) -> Any:
        """``send`` and parse the body as JSON; ``None`` for 204 or an empty body.

        Raises SerializationError when the body is not JSON (besides everything ``send`` raises).
        """
        return json_body(spec, self.send(spec))

    def run(self, flow: Flow[T]) -> T:
        """Drive a flow (``_flow``) that only sends: each ``Send`` through ``send``; its return value."""
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
                    outcome = self.send(effect.spec) if isinstance(effect, Send) else self._claims(effect.audience)
                except Exception as exc:  # thrown in: the flow sees it where it asked, as a call would
                    failure = exc
            elif not isinstance(effect, Prefetch):
                raise TypeError(f"a flow run by HttpClient.run yielded an item: {effect!r}")

    def iterate(self, flow: Generator[Any, Any, Any], *, wait: Callable[[float], None] | None = None) -> Iterator[Any]:
        """Drive a listing flow: each ``Send`` through ``send``, each ``Prefetch`` in a worker thread while the
        caller handles the items before it; every other value yielded is an item for the caller.

        A prefetched outcome is delivered exactly where it would have been without prefetching (an error is raised
        at the ``Send`` that asks for it); closing the iterator early abandons it (a request in flight completes in
        the background and is discarded)."""
        check_flow(flow)
        pending: tuple[RequestSpec, concurrent.futures.Future[httpx.Response]] | None = None
        prefetcher: _Prefetcher | None = None
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
                elif isinstance(effect, Send):
                    try:
                        if pending is not None and pending[0] is effect.spec and not self._client.is_closed:
                            future, pending = pending[1], None
                            outcome = self._read_prefetched(future.result(), effect.spec)
                        else:  # no prefetch, or the client was closed meanwhile: ClientClosedError, as without one
                            pending = None
                            outcome = self.send(effect.spec)
                    except Exception as exc:
                        failure = exc
                elif isinstance(effect, Sleep):  # between polls (follow): the caller's wait
                    (wait or time.sleep)(effect.seconds)
                elif isinstance(effect, Prefetch):
                    prefetcher = prefetcher or _Prefetcher(self.send)
                    pending = (effect.spec, prefetcher.submit(effect.spec))
        finally:
            flow.close()
            if pending is not None:
                pending[1].cancel()
                pending[1].add_done_callback(_close_unread)  # a page fetched for nobody gives its connection back
            if prefetcher is not None:
                prefetcher.stop()

    def iter_pages(self, spec: RequestSpec, *, next_link_key: str = "nextLink") -> Iterator[dict[str, Any]]:
        """Each page's JSON object, fetched lazily: ``spec`` first, then the link under ``next_link_key``
        (``"@odata.nextLink"`` for Graph) exactly as given, until a page has none. No page cap.

        Raises UnsafeRequestError before following a link to another origin (the token is not sent), and
        SerializationError for a page that is not a JSON object.
        """
        for page, _response in self.iter_page_responses(spec, next_link_key=next_link_key):
            yield page

    def iter_page_responses(
        self,
        spec: RequestSpec,
        *,
        next_link_key: str = "nextLink",
        prefetch: bool | Callable[[dict[str, Any]], bool] = False,
    ) -> Iterator[tuple[dict[str, Any], httpx.Response]]:
        """``iter_pages`` with each page's response (status, headers such as ``Date``; body already parsed).

        ``prefetch`` (True, or a predicate on the page just read): request the next page in a worker thread
        while the caller handles this one, so the service's latency overlaps the caller's work. Its outcome is
        delivered exactly where it would have been without prefetching (an error is raised when the next page is
        asked for); closing the iterator early abandons it (a request in flight completes in the background and
        is discarded).
        """
        return self.iterate(page_flow(spec, next_link_key=next_link_key, prefetch=prefetch))

    def close(self) -> None:
        """Close the pooled connections. The client cannot be used afterwards (ClientClosedError).

        Returns at once: a page prefetch still in flight is discarded; its iterator raises ClientClosedError
        where it asks for that page, as it would without prefetching."""
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpClient(cloud={self._cloud.name!r})"

    # -- one exchange (the I/O of request_flow's Transmit) -----------------------------------------------------

    def _claims(self, audience: Audience) -> dict[str, Any]:
        """The claims of this principal's (cached) token for ``audience`` (``_claims.token_claims``)."""
        credential, key = self._claims_key(audience)
        return token_claims(self._tokens.get(credential, key))

    def _budgeted(self, effect: Transmit, waited_until: float) -> httpx.Response:
        """``_transmit`` within the budget of its principal (``_budget``: Log Analytics query limits, throttling
        pauses), shared by every twin of this client."""
        audience = effect.spec.audience
        principal = self._principal(audience)
        self._gate.enter(principal, audience, waited_until)
        response = None
        try:
            response = self._transmit(effect)
            return response
        finally:
            self._gate.leave(principal, audience, response)

    def _transmit(self, effect: Transmit) -> httpx.Response:
        request = self._build(effect)
        sent = getattr(_sending, "sent", None)
        if sent is not None:  # a prefetch: tell the iterator when the request is on the wire
            request.extensions = {**request.extensions, "trace": _on_sent(sent)}
        started = time.perf_counter()
        try:
            response = self._client.send(request, stream=sent is not None)
        except RuntimeError as exc:
            if self._client.is_closed:  # closed by another thread between our check and this send
                raise ClientClosedError("the client was closed while this request was being sent") from exc
            raise
        if sent is not None:
            if response.is_success:  # a prefetched page's body is read by the iterator (``_read_prefetched``)
                return self._received(effect, response, started, read=False)
            response.read()  # the flow maps an error status from its body
        return self._received(effect, response, started)

    def _read_prefetched(self, response: httpx.Response, spec: RequestSpec) -> httpx.Response:
        """The body of a prefetched page, read in the caller's thread when the page is asked for: it waits in the
        socket meanwhile, and reading it in the worker would take a GIL hand-over per chunk while the caller hands
        out items. A transport error while reading fetches the page again under the whole retry policy, as
        ``send`` would have retried it."""
        try:
            response.read()
        except httpx.TransportError:
            response.close()
            return self.send(spec)
        return self._detached(response)


class _Prefetcher:
    """One daemon thread per paging iterator, fetching the next page while the caller handles the current one.

    A daemon, so an abandoned fetch (iterator closed early, client closed) never holds up the caller or the
    interpreter's exit, even while it waits out a Retry-After; one thread for the whole iteration, not one per
    page (a thread per page spreads the pages' memory over many allocator arenas).

    ``submit`` returns once the request is on the wire (or failed, or ``_SENT_WAIT`` passed): a caller busy
    handing out items holds the GIL, and the woken thread would wait a switch interval (5 ms) for each step
    before the service even hears of the next page.
    """

    def __init__(self, fetch: Callable[[RequestSpec], httpx.Response]) -> None:
        self._fetch = fetch
        self._jobs: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], RequestSpec, threading.Event] | None] = (
            queue.SimpleQueue()
        )
        threading.Thread(target=self._work, name="m365sentinel-prefetch", daemon=True).start()

    def submit(self, spec: RequestSpec) -> concurrent.futures.Future[httpx.Response]:
        future: concurrent.futures.Future[httpx.Response] = concurrent.futures.Future()
        sent = threading.Event()
        future.add_done_callback(lambda _: sent.set())
        self._jobs.put((future, spec, sent))
        sent.wait(_SENT_WAIT)
        return future

    def stop(self) -> None:
        self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, spec, sent = job
            if not future.set_running_or_notify_cancel():
                continue
            _sending.sent = sent
            try:
                future.set_result(self._fetch(spec))
            except BaseException as exc:  # delivered to the iterator, raised where the page is asked for
                future.set_exception(exc)
            finally:
                _sending.sent = None


# How long ``_Prefetcher.submit`` waits for the request to be written (it is sub-millisecond unless the request
# waits for the budget or a retry, which the caller should not wait for).
_SENT_WAIT = 0.01
# The prefetch thread's "request written" signal, which ``_transmit`` hands to httpcore's trace hook.
_sending = threading.local()


def _close_unread(future: concurrent.futures.Future[httpx.Response]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


def _on_sent(sent: threading.Event) -> Callable[[str, Any], None]:
    def trace(event: str, info: Any) -> None:
        if event.endswith("send_request_body.complete"):
            sent.set()

    return trace
