"""The async token cache: ``_tokens.TokenCache``'s shell over an ``azure.identity.aio`` credential.

Every rule (when a token is used, refreshed ahead, fetched; what a failed refresh falls back to; when a token
renewed by another request is reused after a challenge) is ``_tokens``' pure functions; this module only awaits
the credential and serialises token requests per key with ``asyncio.Lock`` instead of ``threading.Lock``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .._errors import CredentialError
from ._tokens import CachedToken, TokenKey, TokenState, token_kwargs

__all__ = ["AsyncTokenCache", "request_token_async"]


async def request_token_async(credential: Any, key: TokenKey, claims: str | None = None) -> CachedToken:
    """``_tokens.request_token``, awaited: ``get_token_info`` where the credential has it, else ``get_token``.
    Raises CredentialError (the credential's exception chained)."""
    options = token_kwargs(key, claims)
    get_token_info = getattr(credential, "get_token_info", None)
    try:
        if callable(get_token_info):
            access = await (get_token_info(key.scope, options=options) if options else get_token_info(key.scope))
        else:
            access = await credential.get_token(key.scope, **options)
    except Exception as exc:
        raise CredentialError(f"the credential could not get a token for {key.scope}: {type(exc).__name__}") from exc
    return CachedToken.from_access(access, key.scope)


class AsyncTokenCache(TokenState):
    """Bearer tokens per ``TokenKey`` for one async session; one token request at a time per key (tasks that need
    the same key wait for the one fetching it). ``clock``: POSIX seconds."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._key_locks: dict[TokenKey, asyncio.Lock] = {}

    def _key_lock(self, key: TokenKey, credential: object) -> asyncio.Lock:
        self._credentials.setdefault(key.credential, credential)
        return self._key_locks.setdefault(key, asyncio.Lock())

    async def get(self, credential: Any, key: TokenKey) -> str:
        """``TokenCache.get``, awaited."""
        async with self._key_lock(key, credential):
            now, cached = self._cached(key)
            if cached is not None:
                return cached
            try:
                fresh = await request_token_async(credential, key)
            except CredentialError as exc:
                return self._fallback(key, now, exc)
            return self._store(key, now, fresh)

    async def renew(self, credential: Any, key: TokenKey, rejected: str, claims: str | None) -> str:
        """``TokenCache.renew``, awaited."""
        async with self._key_lock(key, credential):
            now, reuse = self._reusable(key, rejected, claims)
            if reuse is not None:
                return reuse
            return self._store(key, now, await request_token_async(credential, key, claims))
