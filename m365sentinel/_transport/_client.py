"""The synchronous HTTP client: one ``httpx.Client``, bearer tokens per audience, retries, paging.

Every decision (where a token may go, what is retried and how long to wait, how errors map, how pages
link) lives in the pure modules next to this one; this module only performs the I/O.
"""

from __future__ import annotations

import concurrent.futures
import functools
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import tenacity

from .._errors import (
    APIStatusError,
    AuthenticationError,
    ClientClosedError,
    ConnectError,
    InvalidInputError,
    RateLimitedError,
    RequestTimeout,
    SentinelError,
    SerializationError,
)
from .._json import loads as decode_json
from ._auth import check_token_target, parse_token_challenge
from ._clouds import Audience, Cloud
from ._error_mapping import is_consent_error, map_status_error, parse_service_error
from ._logging import LOGGER, redact_headers, redact_url
from ._paging import Pager
from ._requests import RequestSpec
from ._retry import RetryPolicy, decide_retry, should_retry_transport
from ._tokens import TokenCache, TokenKey, check_sync_credential

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

__all__ = ["HttpClient"]


@functools.cache
def _user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version  # deferred: only clients need it

    try:
        ours = version("m365sentinel")
    except PackageNotFoundError:  # running from a source tree that is not installed
        ours = "0.0.0"
    return f"m365sentinel/{ours} python-httpx/{httpx.__version__}"


class _Retryable(Exception):
    """Internal: one attempt failed in a way the policy retries.

    ``error`` is what the caller gets if attempts run out, ``wait`` the service-advised delay (None: use the
    backoff), ``cause`` the httpx exception to chain (None for error responses).
    """

    def __init__(self, error: SentinelError, wait: float | None, cause: BaseException | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait
        self.cause = cause


class _WaitAdvisedOrBackoff(tenacity.wait.wait_base):
    """Wait what the service advised (already checked against the ceiling), else the exponential backoff."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(exc, _Retryable) and exc.wait is not None:
            return exc.wait
        return self._policy.backoff(retry_state.attempt_number, random.random())


def _log_retry(retry_state: tenacity.RetryCallState) -> None:
    # INFO, not WARNING: a retry that then succeeds is normal operation.
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None and outcome.failed else None
    spec = retry_state.args[0] if retry_state.args else None
    delay = retry_state.next_action.sleep if retry_state.next_action is not None else 0.0
    what = exc.error if isinstance(exc, _Retryable) else exc
    reason = f"HTTP {what.status_code}" if isinstance(what, APIStatusError) else type(what).__name__
    if isinstance(spec, RequestSpec):
        LOGGER.info(
            "retrying %s %s in %.2f s after %s (attempt %d done)",
            spec.method,
            redact_url(spec.url),
            delay,
            reason,
            retry_state.attempt_number,
        )


def _over_ceiling(error: APIStatusError, advised: float) -> RateLimitedError:
    if isinstance(error, RateLimitedError):
        error.retry_after = advised
        return error
    return RateLimitedError(
        error.message,
        retry_after=advised,
        status_code=error.status_code,
        code=error.code,
        request_id=error.request_id,
        method=error.method,
        url=error.url,
        body=error.body,
    )


class HttpClient:
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
        if not isinstance(cloud, Cloud):
            raise InvalidInputError(f"cloud must be a Cloud (Cloud.resolve(...) or Cloud.custom(...)), got {cloud!r}")
        if isinstance(credential, Mapping):
            bad = [k for k in credential if not isinstance(k, Audience)]
            if bad or not credential:
                raise InvalidInputError(
                    f"credential mapping keys must be Audience members (ARM, LOG_ANALYTICS, GRAPH), got {bad or '{}'}"
                )
            for each in credential.values():
                check_sync_credential(each)
        else:
            check_sync_credential(credential)
        self._cloud = cloud
        self._credential = credential
        self._policy = retry
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._clock = clock
        self._tenant_id = tenant_id
        self._tokens = TokenCache(clock)
        user_agent = _user_agent() + (f" {user_agent_suffix}" if user_agent_suffix else "")
        self._client = httpx.Client(
            transport=transport,
            timeout=self._timeout,
            follow_redirects=False,  # a redirect could carry the token elsewhere
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )
        self._retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(retry.max_attempts),
            wait=_WaitAdvisedOrBackoff(retry),
            retry=tenacity.retry_if_exception_type(_Retryable),
            reraise=True,
            sleep=sleep,
            before_sleep=_log_retry,
        )

    @property
    def cloud(self) -> Cloud:
        """The endpoints this client talks to."""
        return self._cloud

    @property
    def closed(self) -> bool:
        """True once ``close()`` ran."""
        return self._client.is_closed

    # -- public API ---------------------------------------------------------------------------------------

    def send(self, spec: RequestSpec) -> httpx.Response:
        """Send ``spec`` with a bearer token for its audience; return the 2xx response (body read).

        Retries per the RetryPolicy (429/5xx/connection errors/timeouts; POST only when ``spec.retry_post``),
        refreshes the token once on a genuine token error, and keeps one ``x-ms-client-request-id`` across
        attempts. Raises UnsafeRequestError (before sending) when the URL is not one of the cloud's endpoints
        for the audience or is plain http off loopback; APIStatusError subclasses for error statuses;
        RateLimitedError at once when Retry-After exceeds the ceiling; ConnectError / RequestTimeout when no
        response came; CredentialError (the credential's exception chained) when a token could not be had.
        """
        if self._client.is_closed:
            raise ClientClosedError("the client is closed (close() or the end of its with block); create a new one")
        check_token_target(self._cloud, spec.audience, spec.url)
        client_request_id = str(uuid.uuid4())
        try:
            response: httpx.Response = self._retrying.copy()(self._attempt, spec, client_request_id)
        except _Retryable as exc:
            raise exc.error from exc.cause
        return response

    def send_json(self, spec: RequestSpec) -> Any:
        """``send`` and parse the body as JSON; ``None`` for 204 or an empty body.

        Raises SerializationError when the body is not JSON (besides everything ``send`` raises).
        """
        return _json_body(spec, self.send(spec))

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
        pager = Pager(spec, link_key=next_link_key)
        current = spec
        fetched = self._fetch_page(current)
        pending: concurrent.futures.Future[tuple[Any, httpx.Response]] | None = None
        prefetcher: _Prefetcher | None = None
        try:
            while True:
                page, response = fetched
                following: RequestSpec | None = None
                problem: SentinelError | None = None
                try:  # checked now, raised after this page is handled (as without prefetch)
                    following = pager.follow(page)
                except SentinelError as exc:
                    if not isinstance(page, dict):
                        raise
                    problem = exc
                if following is not None and (prefetch(page) if callable(prefetch) else prefetch):
                    prefetcher = prefetcher or _Prefetcher(self._fetch_page)
                    pending = prefetcher.submit(following)
                yield page, response
                if problem is not None:
                    raise problem
                if following is None:
                    return
                current = following
                if pending is not None and not self._client.is_closed:
                    fetched, pending = pending.result(), None
                else:  # no prefetch, or the client was closed meanwhile: ClientClosedError, as without prefetch
                    pending = None
                    fetched = self._fetch_page(current)
        finally:
            if pending is not None:
                pending.cancel()
            if prefetcher is not None:
                prefetcher.stop()

    def _fetch_page(self, spec: RequestSpec) -> tuple[Any, httpx.Response]:
        response = self.send(spec)
        return _json_body(spec, response), response

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

    # -- one attempt ----------------------------------------------------------------------------------------

    def _credential_for(self, audience: Audience) -> TokenCredential:
        if isinstance(self._credential, Mapping):
            try:
                return self._credential[audience]
            except KeyError:
                raise InvalidInputError(
                    f"no credential given for audience {audience.name}; pass one in the credential mapping"
                ) from None
        return self._credential

    def _attempt(self, spec: RequestSpec, client_request_id: str) -> httpx.Response:
        response = self._exchange(spec, client_request_id)
        if response.is_success:
            return response
        now = self._clock()
        error = map_status_error(
            response.status_code,
            response.headers,
            response.content,
            method=spec.method,
            url=spec.url,
            reason=response.reason_phrase,
            request_json=spec.json,
            now=now,
        )
        decision = decide_retry(response.status_code, response.headers, spec.method, spec.retry_post, now, self._policy)
        if decision.over_ceiling and decision.advised is not None:
            raise _over_ceiling(error, decision.advised)
        if decision.retry:
            raise _Retryable(error, decision.wait, None)
        raise error

    def _exchange(self, spec: RequestSpec, client_request_id: str) -> httpx.Response:
        """Send once; on a genuine token error (not licence/consent) fetch a fresh token and send once more."""
        credential = self._credential_for(spec.audience)
        key = TokenKey.of(credential, self._cloud.scope(spec.audience), tenant_id=self._tenant_id)
        token = self._tokens.get(credential, key)
        response = self._send_once(spec, client_request_id, token)
        if response.status_code != 401:
            return response
        challenge = parse_token_challenge(response.headers)
        if challenge is None:
            return response
        service_error = parse_service_error(response.content)
        if is_consent_error(service_error.code, service_error.message):
            return response
        LOGGER.info(
            "token rejected (%s); fetching a fresh one and retrying once", challenge.error or "claims challenge"
        )
        fresh = self._tokens.renew(credential, key, token, challenge.claims)
        if fresh == token:
            rejected = map_status_error(
                401,
                response.headers,
                response.content,
                method=spec.method,
                url=spec.url,
                reason=response.reason_phrase,
            )
            raise AuthenticationError(
                f"{rejected.message} (the credential returned the same rejected token)", **_status_fields(rejected)
            )
        return self._send_once(spec, client_request_id, fresh)

    def _send_once(self, spec: RequestSpec, client_request_id: str, token: str) -> httpx.Response:
        headers = {"x-ms-client-request-id": client_request_id}
        if spec.audience is Audience.GRAPH:
            headers["client-request-id"] = client_request_id
        headers.update(spec.headers)
        timeout = self._timeout
        if spec.timeout is not None:
            read = None if self._timeout.read is None else max(self._timeout.read, spec.timeout)
            timeout = httpx.Timeout(
                connect=self._timeout.connect, read=read, write=self._timeout.write, pool=self._timeout.pool
            )
        request = self._client.build_request(spec.method, spec.url, json=spec.json, headers=headers, timeout=timeout)
        if LOGGER.isEnabledFor(10):  # DEBUG; the header dict is only built when it will be shown
            LOGGER.debug(
                "HTTP request: %s %s headers=%s",
                spec.method,
                redact_url(request.url),
                redact_headers(request.headers.items()),
            )
        request.headers["Authorization"] = f"Bearer {token}"  # after logging; never logged
        started = time.perf_counter()
        try:
            response = self._client.send(request)
        except RuntimeError as exc:
            if self._client.is_closed:  # closed by another thread between our check and this send
                raise ClientClosedError("the client was closed while this request was being sent") from exc
            raise
        except httpx.TimeoutException as exc:
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            timeout_error = RequestTimeout(
                f"{spec.method} {redact_url(spec.url)} timed out ({type(exc).__name__}) "
                f"[client request id {client_request_id}]"
            )
            if should_retry_transport(spec.method, spec.retry_post, request_sent=sent):
                raise _Retryable(timeout_error, None, exc) from exc
            raise timeout_error from exc
        except httpx.TransportError as exc:
            sent = not isinstance(exc, httpx.ConnectError)
            connect_error = ConnectError(
                f"{spec.method} {redact_url(spec.url)} got no response ({type(exc).__name__}: {exc}) "
                f"[client request id {client_request_id}]"
            )
            if should_retry_transport(spec.method, spec.retry_post, request_sent=sent):
                raise _Retryable(connect_error, None, exc) from exc
            raise connect_error from exc
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        request_id = next(
            (response.headers[h] for h in ("x-ms-request-id", "request-id") if h in response.headers), None
        )
        LOGGER.info(
            "HTTP response: %s %s -> %d in %.0f ms (request id %s, client request id %s)",
            spec.method,
            redact_url(spec.url),
            response.status_code,
            elapsed_ms,
            request_id,
            client_request_id,
        )
        if LOGGER.isEnabledFor(10):
            LOGGER.debug("HTTP response headers: %s", redact_headers(response.headers.items()))
        # httpx binds the (fully read, closed) body stream back to its response: a reference cycle that keeps each
        # page's body alive until a full garbage collection. A plain stream over the same bytes breaks it.
        response.stream = httpx.ByteStream(response.content)
        return response


class _Prefetcher:
    """One daemon thread per paging iterator, fetching the next page while the caller handles the current one.

    A daemon, so an abandoned fetch (iterator closed early, client closed) never holds up the caller or the
    interpreter's exit, even while it waits out a Retry-After; one thread for the whole iteration, not one per
    page (a thread per page spreads the pages' memory over many allocator arenas).
    """

    def __init__(self, fetch: Callable[[RequestSpec], tuple[Any, httpx.Response]]) -> None:
        self._fetch = fetch
        self._jobs: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], RequestSpec] | None] = queue.SimpleQueue()
        threading.Thread(target=self._work, name="m365sentinel-prefetch", daemon=True).start()

    def submit(self, spec: RequestSpec) -> concurrent.futures.Future[tuple[Any, httpx.Response]]:
        future: concurrent.futures.Future[tuple[Any, httpx.Response]] = concurrent.futures.Future()
        self._jobs.put((future, spec))
        return future

    def stop(self) -> None:
        self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, spec = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._fetch(spec))
            except BaseException as exc:  # delivered to the iterator, raised where the page is asked for
                future.set_exception(exc)


def _json_body(spec: RequestSpec, response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content.strip():
        return None
    try:
        return decode_json(response.content)
    except ValueError as exc:
        raise SerializationError(
            f"{spec.method} {redact_url(spec.url)} answered {response.status_code} with a body that is not JSON"
        ) from exc


def _status_fields(error: APIStatusError) -> dict[str, Any]:
    return {
        "status_code": error.status_code,
        "code": error.code,
        "request_id": error.request_id,
        "method": error.method,
        "url": error.url,
        "body": error.body,
        "remediation": error.remediation,
    }
