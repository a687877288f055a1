"""The sans-IO protocol both faces drive: logic written once as generators that yield what they need.

A *flow* is a plain generator. It yields an effect and receives its outcome:

* ``Send(spec)``: the 2xx ``httpx.Response`` for ``spec`` (retries, tokens and error mapping done), sent back with
  ``gen.send(response)``; a failure is thrown in with ``gen.throw(error)``, so ``try``/``except`` around the
  ``yield`` works as around a call;
* ``Prefetch(spec)``: a hint that ``spec`` (the next page) will be sent next; a face may start it now and hand
  its outcome to the following ``Send`` of the same spec (outcome ``None``);
* anything else a listing flow yields is an item for the caller (a page, an incident), outcome ``None``.

The sync face (``HttpClient.run`` / ``HttpClient.iterate``) drives flows with ``httpx.Client`` and threads, the
async face (``m365sentinel.aio``) with ``httpx.AsyncClient`` and tasks: the decisions exist once.

One level down, ``request_flow`` is the retry loop of one logical request (formerly tenacity's, now the pure
``RetryPolicy``/``decide_retry`` in a loop both clients drive): it yields ``Token`` (a bearer token for a scope),
``Transmit`` (one HTTP exchange; an httpx transport error is thrown back in) and ``Sleep``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import attrs
import httpx

from .._errors import (
    APIStatusError,
    AuthenticationError,
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
from ._error_mapping import is_consent_error, is_error_envelope, map_status_error, parse_service_error
from ._logging import LOGGER, redact_url
from ._paging import Pager
from ._requests import RequestSpec
from ._retry import RetryPolicy, decide_retry, should_retry_transport

__all__ = [
    "Flow",
    "Identity",
    "PageReader",
    "bridge",
    "collect",
    "done",
    "run_local",
    "Prefetch",
    "Send",
    "Sleep",
    "Token",
    "Transmit",
    "json_body",
    "list_items",
    "page_flow",
    "request_flow",
    "send_json",
    "send_query",
]

T = TypeVar("T")


@attrs.frozen
class Send:
    """Effect: send ``spec``; outcome the 2xx response (body read), or the typed error thrown in."""

    spec: RequestSpec


@attrs.frozen
class Prefetch:
    """Effect: ``spec`` comes next; a face may send it now (outcome None). Its error surfaces at the ``Send``."""

    spec: RequestSpec


@attrs.frozen
class Identity:
    """Effect: the claims of the principal's token for ``audience`` (``_claims.token_claims``: ``{}`` for a token
    that is not a JWT); a credential failure comes back thrown in."""

    audience: Audience


# A flow that only sends (no items for the caller): Generator[Send | Prefetch, Response | None, T].
Flow = Generator[Any, Any, T]


def check_flow(flow: Any) -> None:
    """InvalidInputError unless ``flow`` is a generator (what both clients' ``run``/``iterate`` drive)."""
    if not isinstance(flow, Generator):
        raise InvalidInputError(f"flow must be a generator of _flow effects, got {type(flow).__name__}")


def json_body(spec: RequestSpec, response: httpx.Response) -> Any:
    """The response body as JSON; None for 204 or an empty body; SerializationError when it is not JSON;
    the typed ``APIStatusError`` of ``map_status_error`` when a success status carries only an error envelope
    (``{"error": {"code", "message"}}``: parsed as a resource it would be an empty one, silently)."""
    if response.status_code == 204 or not response.content.strip():
        return None
    try:
        body = decode_json(response.content)
    except ValueError as exc:
        raise SerializationError(
            f"{spec.method} {redact_url(spec.url)} answered {response.status_code} with a body that is not JSON"
        ) from exc
    if is_error_envelope(body):
        raise map_status_error(
            response.status_code,
            response.headers,
            response.content,
            method=spec.method,
            url=spec.url,
            reason=response.reason_phrase,
            request_json=spec.json,
        )
    return body


def send_json(spec: RequestSpec) -> Flow[Any]:
    """Send ``spec``; its body as JSON (``json_body``)."""
    response = yield Send(spec)
    return json_body(spec, response)


def send_query(spec: RequestSpec) -> Flow[bytes]:
    """Send ``spec``; its raw body (Log Analytics results are parsed from bytes)."""
    response: httpx.Response = yield Send(spec)
    return response.content


class PageReader:
    """One listing read a page at a time (``next`` is a flow): ``spec`` first, then each link exactly as given
    (``Pager``: same origin, no cycle, no page cap).

    ``next(prefetch)`` returns ``(page JSON, response)``, or None after the last page. With ``prefetch`` (True, or a
    predicate on the page just read) it yields a ``Prefetch`` of the following page before returning. A link
    problem (cycle, other origin) is raised by the following ``next``, after its page was handled, as it would be
    without prefetching.
    """

    def __init__(self, spec: RequestSpec, *, next_link_key: str = "nextLink") -> None:
        self._pager = Pager(spec, link_key=next_link_key)
        self._current: RequestSpec | None = spec
        self._problem: SentinelError | None = None

    def next(
        self, prefetch: bool | Callable[[dict[str, Any]], bool] = False
    ) -> Flow[tuple[Any, httpx.Response] | None]:
        if self._problem is not None:
            raise self._problem
        spec = self._current
        if spec is None:
            return None
        response = yield Send(spec)
        page = json_body(spec, response)
        try:
            self._current = self._pager.follow(page)
        except SentinelError as exc:
            if not isinstance(page, dict):
                raise
            self._problem, self._current = exc, None
        if self._current is not None and (prefetch(page) if callable(prefetch) else prefetch):
            yield Prefetch(self._current)
        return page, response


def page_flow(
    spec: RequestSpec,
    *,
    next_link_key: str = "nextLink",
    prefetch: bool | Callable[[dict[str, Any]], bool] = False,
) -> Generator[Any, Any, None]:
    """A listing flow: each page as an item ``(page JSON, response)`` (``PageReader``)."""
    reader = PageReader(spec, next_link_key=next_link_key)
    while (got := (yield from reader.next(prefetch))) is not None:
        yield got


def list_items(spec: RequestSpec, *, key: str = "value") -> Flow[list[Any]]:
    """Every item under ``key`` of every page (ARM listings)."""
    out: list[Any] = []
    reader = PageReader(spec)
    while (got := (yield from reader.next())) is not None:
        out.extend(got[0].get(key, []))
    return out


def collect(listing: Generator[Any, Any, Any]) -> Flow[list[Any]]:
    """A flow running the listing flow ``listing`` to its end: its requests passed on, its items returned."""
    items: list[Any] = []
    outcome: Any = None
    failure: BaseException | None = None
    while True:
        try:
            step = listing.send(outcome) if failure is None else listing.throw(failure)
        except StopIteration:
            return items
        outcome, failure = None, None
        if isinstance(step, Send | Prefetch | Sleep):
            try:
                outcome = yield step
            except Exception as exc:
                failure = exc
        else:
            items.append(step)


def done(value: T) -> Flow[T]:
    """A flow that sends nothing and returns ``value`` (to pass a plain value where a flow is expected)."""
    return value
    yield  # pragma: no cover - makes this a generator


def run_local(flow: Flow[T]) -> T:
    """The value of a flow that sends nothing (``done`` steps only); TypeError if it asks for I/O."""
    try:
        effect = next(flow)
    except StopIteration as stop:
        result: T = stop.value
        return result
    flow.close()
    raise TypeError(f"run_local: the flow asked for I/O ({effect!r})")


# --- one logical request: tokens, retries, error mapping ----------------------------------------------------------


@attrs.frozen
class Token:
    """Effect of ``request_flow``: a bearer token (str) for ``audience``'s ``scope`` from the face's token cache;
    after a 401 token challenge ``rejected`` (and ``claims`` for a claims challenge): a fresh one replacing it.

    Credential failures come back thrown in, already a CredentialError (the token caches wrap them)."""

    audience: Audience
    scope: str
    claims: str | None = None
    rejected: str | None = attrs.field(default=None, repr=False)  # the token a 401 challenge rejected: renew


@attrs.frozen
class Transmit:
    """Effect of ``request_flow``: one HTTP exchange of ``spec`` with ``token`` and these extra headers; outcome the
    response (any status, body read), or the httpx transport exception thrown in."""

    spec: RequestSpec = attrs.field(repr=False)
    token: str = attrs.field(repr=False)
    headers: dict[str, str] = attrs.field(repr=False)
    client_request_id: str


@attrs.frozen
class Sleep:
    """Effect of ``request_flow``: wait ``seconds`` before the next attempt."""

    seconds: float


class _Retryable(Exception):
    """One attempt failed in a way the policy retries: ``error`` for the caller if attempts run out, ``wait`` the
    service-advised delay (None: backoff), ``cause`` the httpx exception to chain."""

    def __init__(self, error: SentinelError, wait: float | None, cause: BaseException | None) -> None:
        super().__init__(str(error))
        self.error, self.wait, self.cause = error, wait, cause


def request_flow(
    spec: RequestSpec,
    cloud: Cloud,
    policy: RetryPolicy,
    clock: Callable[[], float],
    rand: Callable[[], float] = random.random,
) -> Generator[Token | Transmit | Sleep, Any, httpx.Response]:
    """Send ``spec`` with a bearer token for its audience until a 2xx response, per ``policy``.

    Retries 429/5xx/connection errors/timeouts (POST only when ``spec.retry_post``), waiting the service's
    Retry-After or the policy's backoff; refreshes the token once on a genuine token error; keeps one
    ``x-ms-client-request-id`` across attempts. Raises UnsafeRequestError before anything is sent when the URL is
    not one of the cloud's endpoints for the audience, APIStatusError subclasses, RateLimitedError at once when
    Retry-After exceeds the ceiling, ConnectError / RequestTimeout when no response came; InvalidInputError when
    ``spec`` is not a RequestSpec.
    """
    if not isinstance(spec, RequestSpec):
        raise InvalidInputError(f"spec must be a RequestSpec (_transport.arm_request and friends), got {spec!r:.80}")
    check_token_target(cloud, spec.audience, spec.url)
    client_request_id = str(uuid.uuid4())
    attempt = 0
    while True:
        attempt += 1
        try:
            return (yield from _attempt(spec, cloud, policy, clock, client_request_id))
        except _Retryable as exc:
            if attempt >= policy.max_attempts:
                raise exc.error from exc.cause
            delay = exc.wait if exc.wait is not None else policy.backoff(attempt, rand())
            what = exc.error
            reason = f"HTTP {what.status_code}" if isinstance(what, APIStatusError) else type(what).__name__
            # INFO, not WARNING: a retry that then succeeds is normal operation.
            LOGGER.info(
                "retrying %s %s in %.2f s after %s (attempt %d done)",
                spec.method,
                redact_url(spec.url),
                delay,
                reason,
                attempt,
            )
            yield Sleep(delay)


def _attempt(
    spec: RequestSpec, cloud: Cloud, policy: RetryPolicy, clock: Callable[[], float], client_request_id: str
) -> Generator[Token | Transmit | Sleep, Any, httpx.Response]:
    response = yield from _exchange(spec, cloud, client_request_id)
    if response.is_success:
        return response
    now = clock()
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
    decision = decide_retry(response.status_code, response.headers, spec.method, spec.retry_post, now, policy)
    if decision.over_ceiling and decision.advised is not None:
        raise _over_ceiling(error, decision.advised)
    if decision.retry:
        raise _Retryable(error, decision.wait, None)
    raise error


def _exchange(
    spec: RequestSpec, cloud: Cloud, client_request_id: str
) -> Generator[Token | Transmit | Sleep, Any, httpx.Response]:
    """Send once; on a genuine token error (not licence/consent) fetch a fresh token and send once more."""
    scope = cloud.scope(spec.audience)
    token: str = yield Token(spec.audience, scope)
    response = yield from _transmit(spec, token, client_request_id)
    if response.status_code != 401:
        return response
    challenge = parse_token_challenge(response.headers)
    if challenge is None:
        return response
    service_error = parse_service_error(response.content)
    if is_consent_error(service_error.code, service_error.message):
        return response
    LOGGER.info("token rejected (%s); fetching a fresh one and retrying once", challenge.error or "claims challenge")
    fresh: str = yield Token(spec.audience, scope, claims=challenge.claims, rejected=token)
    if fresh == token:
        rejected = map_status_error(
            401, response.headers, response.content, method=spec.method, url=spec.url, reason=response.reason_phrase
        )
        raise AuthenticationError(
            f"{rejected.message} (the credential returned the same rejected token)", **_status_fields(rejected)
        )
    return (yield from _transmit(spec, fresh, client_request_id))


def _transmit(
    spec: RequestSpec, token: str, client_request_id: str
) -> Generator[Token | Transmit | Sleep, Any, httpx.Response]:
    headers = {"x-ms-client-request-id": client_request_id}
    if spec.audience is Audience.GRAPH:
        headers["client-request-id"] = client_request_id
    headers.update(spec.headers)
    try:
        response: httpx.Response = yield Transmit(spec, token, headers, client_request_id)
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
    return response


def request_timeout(base: httpx.Timeout, spec: RequestSpec) -> httpx.Timeout:
    """The client's timeout, with the read timeout raised to ``spec.timeout`` (long queries) when it asks for more."""
    if spec.timeout is None:
        return base
    read = None if base.read is None else max(base.read, spec.timeout)
    return httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)


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


def bridge(inner: Generator[Any, Any, T], handle: Callable[[Any], Flow[Any]]) -> Flow[T]:
    """A flow running ``inner``, a generator that yields its own requests (e.g. a query to run): each one is
    answered by the flow ``handle(request)``; an error there is thrown into ``inner`` where it asked."""
    outcome: Any = None
    failure: BaseException | None = None
    while True:
        try:
            request = inner.send(outcome) if failure is None else inner.throw(failure)
        except StopIteration as done:
            result: T = done.value
            return result
        outcome, failure = None, None
        try:
            outcome = yield from handle(request)
        except Exception as exc:
            failure = exc
