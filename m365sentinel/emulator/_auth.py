"""Fake bearer tokens: an azure-identity ``TokenCredential`` and the per-route audience check.

Tokens look like ``emu-<audience host>-<n>``; they are meaningless outside one emulator instance.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.exceptions import ClientAuthenticationError

from m365sentinel.emulator._clock import Clock

__all__ = [
    "ARM",
    "GRAPH",
    "LOG_ANALYTICS",
    "AuthFailure",
    "DirectoryUser",
    "EmulatorAsyncCredential",
    "EmulatorCredential",
    "TokenStore",
]

ARM = "https://management.azure.com"
LOG_ANALYTICS = "https://api.loganalytics.io"
GRAPH = "https://graph.microsoft.com"

# Scope spellings the SDKs send for each audience (resource + "/.default", sometimes with a trailing slash).
_ALIASES = {
    "https://management.azure.com": ARM,
    "https://management.core.windows.net": ARM,
    "https://api.loganalytics.io": LOG_ANALYTICS,
    "https://api.loganalytics.azure.com": LOG_ANALYTICS,
    "https://graph.microsoft.com": GRAPH,
}


def audience_of_scope(scope: str) -> str:
    base = scope.removesuffix(".default").rstrip("/")
    return _ALIASES.get(base.lower(), base)


class AuthFailure(Exception):
    """Why a request's token is refused: ARM-style code and message for the 401 body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"  # Microsoft Entra role template ids
SECURITY_ADMINISTRATOR = "194ae4cb-b126-40b2-bd5b-6091b380977d"


def may_connect_defender(claims: dict[str, Any] | None, tenant_id: str) -> bool:
    """Whether a token with ``claims`` may connect the Defender XDR connector of a workspace of ``tenant_id``: a
    Global or Security Administrator signing with a token of that tenant. True for a token without claims (the
    plain emulator tokens, which stand for an administrator of every tenant)."""
    if claims is None:
        return True
    roles = set(claims.get("wids") or ())
    return claims.get("tid") == tenant_id.lower() and bool(roles & {GLOBAL_ADMINISTRATOR, SECURITY_ADMINISTRATOR})


@dataclass(frozen=True)
class DirectoryUser:
    """A Microsoft Entra user of tenant ``home``, member of ``member_of`` (``home`` included) and Global
    Administrator in ``admin_of``. Its tokens are JWT-shaped with the claims ``tid`` (the tenant asked for, default
    ``home``), ``wids``, ``upn``, ``idtyp``; asking a tenant it is not a member of fails as Entra ID does (AADSTS50020).
    """

    upn: str
    home: str
    member_of: frozenset[str]
    admin_of: frozenset[str]

    def claims(self, tenant_id: str | None) -> dict[str, Any]:
        tid = (tenant_id or self.home).lower()
        if tid not in self.member_of:
            raise ClientAuthenticationError(
                f"AADSTS50020: User account '{self.upn}' from identity provider does not exist in tenant '{tid}'."
            )
        wids = [GLOBAL_ADMINISTRATOR] if tid in self.admin_of else []
        return {"tid": tid, "upn": self.upn, "idtyp": "user", "wids": wids}


def _segment(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


class TokenStore:
    """Issues tokens, remembers their audience and expiry, revokes them on demand."""

    def __init__(self, clock: Clock, lifetime_s: int = 3600) -> None:
        self._clock = clock
        self.lifetime_s = lifetime_s
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, int]] = {}
        self._claims: dict[str, dict[str, Any]] = {}  # token -> claims, for a DirectoryUser's tokens
        self._principals: dict[str, str] = {}  # token -> "<user>/<tenant asked for>" (per-principal limits)
        self._revoked: set[str] = set()
        self._counter = 0
        self.issued: list[str] = []  # scopes asked for, in order (tests count refreshes)

    @property
    def clock(self) -> Clock:
        """The emulator's clock (token expiry, the query limits' window)."""
        return self._clock

    def issue(
        self, scopes: tuple[str, ...], principal: str = "user/home", claims: dict[str, Any] | None = None
    ) -> tuple[str, int]:
        audience = audience_of_scope(scopes[0]) if scopes else ""
        with self._lock:
            self._counter += 1
            host = audience.split("://", 1)[-1] or "none"
            token = f"emu-{host}-{self._counter}"
            if claims is not None:  # a directory user's token: JWT-shaped, its claims readable by the client
                signature = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")  # unique, no dots
                token = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment({**claims, 'aud': audience})}.{signature}"
                self._claims[token] = claims
            expires_on = int(self._clock.now().timestamp()) + self.lifetime_s
            self._tokens[token] = (audience, expires_on)
            self._principals[token] = principal
            self.issued.append(scopes[0] if scopes else "")
        return token, expires_on

    def principal_of(self, authorization: str | None) -> str | None:
        """The principal a ``Bearer`` token was issued to, None for an unknown token or header."""
        token = (authorization or "").partition(" ")[2]
        with self._lock:
            return self._principals.get(token)

    def claims_of(self, authorization: str | None) -> dict[str, Any] | None:
        """The claims of a directory user's ``Bearer`` token; None for any other token (no tenant or role known)."""
        token = (authorization or "").partition(" ")[2]
        with self._lock:
            return self._claims.get(token)

    def revoke_all(self) -> None:
        with self._lock:
            self._revoked.update(self._tokens)

    def check(self, authorization: str | None, audience: str) -> None:
        """Raise AuthFailure unless *authorization* is ``Bearer <live token for audience>``."""
        if not authorization:
            raise AuthFailure("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthFailure(
                "AuthenticationFailedInvalidHeader",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            )
        with self._lock:
            known = self._tokens.get(token)
            revoked = token in self._revoked
        if known is None:
            raise AuthFailure("InvalidAuthenticationToken", "The access token is invalid.")
        token_audience, expires_on = known
        if revoked or expires_on <= int(self._clock.now().timestamp()):
            raise AuthFailure(
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
            )
        if token_audience != audience:
            raise AuthFailure(
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{token_audience}'. "
                f"It should exactly match with one of the allowed audiences '{audience}'.",
            )


def _issue(store: TokenStore, user: DirectoryUser | None, scopes: tuple[str, ...], tenant_id: str | None) -> Any:
    if user is None:
        return store.issue(scopes, f"user/{tenant_id or 'home'}")
    claims = user.claims(tenant_id)
    return store.issue(scopes, f"{user.upn}/{claims['tid']}", claims)


def _tenant_of(options: Any) -> str | None:
    return options.get("tenant_id") if isinstance(options, dict) else None


class EmulatorCredential:
    """azure-identity ``TokenCredential`` (and ``SupportsTokenInfo``) backed by the emulator's token store;
    ``user``: sign in as that directory user (JWT-shaped tokens of the tenant asked for)."""

    def __init__(self, store: TokenStore, user: DirectoryUser | None = None) -> None:
        self._store = store
        self._user = user

    def get_token(
        self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, **kwargs: Any
    ) -> AccessToken:
        token, expires_on = _issue(self._store, self._user, scopes, tenant_id)
        return AccessToken(token, expires_on)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        token, expires_on = _issue(self._store, self._user, scopes, _tenant_of(options))
        return AccessTokenInfo(token, expires_on)

    def close(self) -> None:
        """Nothing to release (present for the credential protocol's context-manager users)."""

    def __repr__(self) -> str:
        return "EmulatorCredential()"


class EmulatorAsyncCredential:
    """azure-identity's async ``AsyncTokenCredential`` (and ``AsyncSupportsTokenInfo``) over the same token store
    as ``EmulatorCredential``: for ``m365sentinel.aio`` and other ``azure.identity.aio`` users."""

    def __init__(self, store: TokenStore, user: DirectoryUser | None = None) -> None:
        self._store = store
        self._user = user

    async def get_token(
        self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, **kwargs: Any
    ) -> AccessToken:
        token, expires_on = _issue(self._store, self._user, scopes, tenant_id)
        return AccessToken(token, expires_on)

    async def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        token, expires_on = _issue(self._store, self._user, scopes, _tenant_of(options))
        return AccessTokenInfo(token, expires_on)

    async def close(self) -> None:
        """Nothing to release (present for the credential protocol's ``async with`` users)."""

    async def __aenter__(self) -> EmulatorAsyncCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return "EmulatorAsyncCredential()"
