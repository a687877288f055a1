"""Token cache: when a cached bearer token is used, refreshed ahead of expiry, or must be fetched.

The rules follow azure-core's ``BearerTokenCredentialPolicy`` (``_should_refresh_token``) and azure-identity's
``GetTokenMixin``:

- no token, or an expired one (``expires_on <= now``): FETCH; a failure raises ``CredentialError``;
- past ``refresh_on`` when the credential gave one (``get_token_info``), else less than 300 s before
  ``expires_on``: REFRESH ahead; a failure keeps the still-valid cached token (logged), and the next attempt
  waits 30 s (azure-identity's ``DEFAULT_TOKEN_REFRESH_RETRY_DELAY``) so a failing credential is not hammered;
- otherwise USE the cached token;
- a 401 token challenge (CAE ``claims=``, or ``error="invalid_token"``) fetches a fresh token that replaces the
  cached one.

Everything above ``request_token`` is I/O-free and shared with the async twin: ``decide``,
``fallback_after_failure`` and ``reusable_after_rejection`` take the clock reading and the cached state and return
what to do; ``request_token`` and ``TokenCache`` are the thin sync shell that calls the credential
(``get_token_info`` on azure-core >= 1.31 credentials, else ``get_token``). An async shell only swaps
``request_token`` for an awaiting one.

Clock: POSIX seconds (UTC), the same epoch as ``AccessToken.expires_on``.
"""

from __future__ import annotations

import enum
import inspect
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from .._errors import CredentialError, InvalidInputError
from ._logging import LOGGER

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

__all__ = [
    "REFRESH_RETRY_DELAY_S",
    "REFRESH_WINDOW_S",
    "CachedToken",
    "TokenAction",
    "TokenCache",
    "TokenEntry",
    "TokenKey",
    "TokenState",
    "check_sync_credential",
    "checked_now",
    "decide",
    "fallback_after_failure",
    "is_async_credential",
    "request_token",
    "reusable_after_rejection",
    "token_kwargs",
]

REFRESH_WINDOW_S = 300.0  # azure-core DEFAULT_REFRESH_WINDOW_SECONDS: refresh this long before expires_on
REFRESH_RETRY_DELAY_S = 30.0  # azure-identity DEFAULT_TOKEN_REFRESH_RETRY_DELAY: between refresh-ahead attempts


class TokenAction(enum.Enum):
    """What to do before a request: ``USE`` the cached token, ``REFRESH`` ahead (fall back to the cached token
    on failure), or ``FETCH`` (nothing usable is cached; a failure raises)."""

    USE = "use"
    REFRESH = "refresh"
    FETCH = "fetch"


@attrs.frozen
class TokenKey:
    """What a token is valid for: the credential (by identity), the scope, the tenant asked for (None: the
    credential's own) and whether a CAE token was asked for."""

    credential: int  # id() of the credential; the cache keeps the object alive, so the id is not reused
    scope: str
    tenant_id: str | None = None
    enable_cae: bool = False

    @classmethod
    def of(cls, credential: object, scope: str, *, tenant_id: str | None = None, enable_cae: bool = False) -> TokenKey:
        return cls(id(credential), scope, tenant_id, enable_cae)


@attrs.frozen
class CachedToken:
    """A bearer token (never shown in reprs) with ``expires_on`` and optional ``refresh_on`` (POSIX seconds)."""

    token: str = attrs.field(repr=False)
    expires_on: float
    refresh_on: float | None = None

    @classmethod
    def from_access(cls, access: Any, scope: str) -> CachedToken:
        """From an azure-core ``AccessToken`` or ``AccessTokenInfo``. Raises CredentialError when the credential
        returned something else (checked: the cache's decisions rest on these fields)."""
        token = getattr(access, "token", None)
        expires_on = getattr(access, "expires_on", None)
        refresh_on = getattr(access, "refresh_on", None)
        numbers = (int, float)
        if (
            not isinstance(token, str)
            or not token
            or isinstance(expires_on, bool)
            or not isinstance(expires_on, numbers)
            or (refresh_on is not None and (isinstance(refresh_on, bool) or not isinstance(refresh_on, numbers)))
        ):
            raise CredentialError(
                f"the credential returned {type(access).__name__} for {scope}; expected an AccessToken or "
                "AccessTokenInfo with a non-empty token and a numeric expires_on (POSIX seconds)"
            )
        return cls(token, float(expires_on), None if refresh_on is None else float(refresh_on))

    def refresh_due(self, now: float) -> bool:
        """Past ``refresh_on`` when given, else within ``REFRESH_WINDOW_S`` of ``expires_on``."""
        if self.refresh_on is not None:
            return min(self.refresh_on, self.expires_on) <= now
        return self.expires_on - now < REFRESH_WINDOW_S


@attrs.frozen
class TokenEntry:
    """One key's state: the cached token (None: none yet) and when a refresh was last attempted (POSIX s)."""

    token: CachedToken | None = None
    last_attempt: float | None = None


def decide(entry: TokenEntry | None, now: float) -> TokenAction:
    """What to do before a request, given the key's cached state and the clock (POSIX seconds)."""
    token = entry.token if entry is not None else None
    if token is None or token.expires_on <= now:
        return TokenAction.FETCH
    if not token.refresh_due(now):
        return TokenAction.USE
    assert entry is not None  # token came from it
    if entry.last_attempt is not None and now - entry.last_attempt < REFRESH_RETRY_DELAY_S:
        return TokenAction.USE
    return TokenAction.REFRESH


def fallback_after_failure(action: TokenAction, entry: TokenEntry | None) -> CachedToken | None:
    """The cached token to keep using when the token request for ``action`` failed, or None (raise): only a
    refresh ahead of expiry falls back, to the still-valid token it meant to replace."""
    if action is TokenAction.REFRESH and entry is not None:
        return entry.token
    return None


def reusable_after_rejection(
    entry: TokenEntry | None, rejected: str, claims: str | None, now: float
) -> CachedToken | None:
    """After a 401 token challenge for ``rejected``: the cached token to retry with instead of asking the
    credential, or None (ask). Only without ``claims`` (a claims challenge needs a token minted with them), and
    only a live token other than the rejected one (another request already renewed it)."""
    token = entry.token if entry is not None else None
    if claims is None and token is not None and token.token != rejected and token.expires_on > now:
        return token
    return None


def checked_now(value: object) -> float:
    """A clock reading as POSIX seconds; InvalidInputError for anything but a finite real number (a caller's
    ``clock=`` that returns something else is caught before any request)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"clock must return POSIX seconds (a finite number), got {value!r:.80}")
    return float(value)


def is_async_credential(credential: object) -> bool:
    """True for an ``azure.identity.aio``-style credential (``get_token`` / ``get_token_info`` are coroutines)."""
    return any(inspect.iscoroutinefunction(getattr(credential, name, None)) for name in ("get_token", "get_token_info"))


def check_sync_credential(credential: object) -> None:
    """Raise InvalidInputError unless ``credential`` is a sync azure-identity ``TokenCredential``."""
    if is_async_credential(credential):
        raise InvalidInputError(
            f"credential {type(credential).__module__}.{type(credential).__qualname__} is asynchronous "
            "(azure.identity.aio); the sync API needs a sync credential (azure.identity), or use m365sentinel.aio "
            "with this one"
        )
    if not callable(getattr(credential, "get_token", None)):
        raise InvalidInputError(
            f"credential must be an azure-identity TokenCredential (with get_token), got {type(credential)!r}"
        )


def token_kwargs(key: TokenKey, claims: str | None) -> dict[str, Any]:
    """The options for ``get_token_info(options=...)`` / ``get_token(**...)``: only those that are set, so a
    minimal credential (``get_token(*scopes)``) keeps working."""
    options: dict[str, Any] = {}
    if claims is not None:
        options["claims"] = claims
    if key.tenant_id is not None:
        options["tenant_id"] = key.tenant_id
    if key.enable_cae:
        options["enable_cae"] = True
    return options


def request_token(credential: TokenCredential, key: TokenKey, claims: str | None = None) -> CachedToken:
    """One token request (sync): ``get_token_info`` where the credential has it, else ``get_token``.

    Raises CredentialError (the credential's exception chained) when the credential fails or returns no token.
    """
    options = token_kwargs(key, claims)
    get_token_info = getattr(credential, "get_token_info", None)
    try:
        if callable(get_token_info):
            access = get_token_info(key.scope, options=options) if options else get_token_info(key.scope)
        else:
            access = credential.get_token(key.scope, **options)
    except Exception as exc:
        raise CredentialError(f"the credential could not get a token for {key.scope}: {type(exc).__name__}") from exc
    return CachedToken.from_access(access, key.scope)


class TokenState:
    """The cached entries and the rules around one token request, shared by the sync and async caches: a face's
    cache only serialises requests per key (its lock) and calls the credential between ``_cached`` and
    ``_store``/``_fallback`` (or ``_reusable`` and ``_store`` after a challenge). ``clock``: POSIX seconds."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: dict[TokenKey, TokenEntry] = {}
        self._credentials: dict[int, object] = {}  # keeps each keyed credential alive, so its id() stays unique

    def _cached(self, key: TokenKey) -> tuple[float, str | None]:
        """The clock reading and the cached token to use as it is, or None (ask the credential)."""
        now = checked_now(self._clock())
        entry = self._entries.get(key)
        if decide(entry, now) is TokenAction.USE:
            assert entry is not None and entry.token is not None
            return now, entry.token.token
        return now, None

    def _reusable(self, key: TokenKey, rejected: str, claims: str | None) -> tuple[float, str | None]:
        """After a 401 challenge for ``rejected``: the clock reading and a token another request already renewed,
        or None (ask the credential)."""
        now = checked_now(self._clock())
        reuse = reusable_after_rejection(self._entries.get(key), rejected, claims, now)
        return now, reuse.token if reuse is not None else None

    def _store(self, key: TokenKey, now: float, fresh: CachedToken) -> str:
        self._entries[key] = TokenEntry(fresh, now)
        return fresh.token

    def _fallback(self, key: TokenKey, now: float, error: CredentialError) -> str:
        """The still-valid token to keep after a failed refresh ahead of expiry (logged); else raise ``error``."""
        entry = self._entries.get(key)
        kept = fallback_after_failure(decide(entry, now), entry)
        if kept is None:
            raise error
        LOGGER.warning(
            "refreshing the token for %s ahead of expiry failed (%s); using the cached one, valid %.0f s more",
            key.scope,
            type(error.__cause__ or error).__name__,
            kept.expires_on - now,
        )
        self._entries[key] = TokenEntry(kept, now)
        return kept.token


class TokenCache(TokenState):
    """Bearer tokens per ``TokenKey``, shared by every request of a session (thread-safe, sync shell).

    One token request at a time per key: threads that need the same key wait for the one fetching it.
    ``clock``: POSIX seconds (default ``time.time``); the emulator passes its own clock.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._lock = threading.Lock()
        self._key_locks: dict[TokenKey, threading.Lock] = {}

    def _key_lock(self, key: TokenKey, credential: object) -> threading.Lock:
        with self._lock:
            self._credentials.setdefault(key.credential, credential)
            return self._key_locks.setdefault(key, threading.Lock())

    def get(self, credential: TokenCredential, key: TokenKey) -> str:
        """The token to send for ``key``: cached, refreshed ahead, or fetched (see the module's rules).

        Raises CredentialError when a token must be fetched and the credential fails."""
        with self._key_lock(key, credential):
            now, cached = self._cached(key)
            if cached is not None:
                return cached
            try:
                fresh = request_token(credential, key)
            except CredentialError as exc:
                return self._fallback(key, now, exc)
            return self._store(key, now, fresh)

    def renew(self, credential: TokenCredential, key: TokenKey, rejected: str, claims: str | None) -> str:
        """A fresh token after the service rejected ``rejected`` (401 token challenge); it replaces the cached
        one. Without ``claims``, a token another request already renewed is reused instead of asking again.

        Raises CredentialError when the credential fails."""
        with self._key_lock(key, credential):
            now, reuse = self._reusable(key, rejected, claims)
            if reuse is not None:
                return reuse
            return self._store(key, now, request_token(credential, key, claims))
