"""Token decisions (pure): where a bearer token may go, and whether a 401 is a genuine token error.

The token itself comes from the session's token cache (``_tokens.py``: one request to the credential per token
lifetime); these functions only decide, so the async twin shares them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

import attrs
import httpx

from .._errors import UnsafeRequestError
from .._lazy import LazyPattern
from ._clouds import Audience, Cloud, is_loopback_host, origin_of

__all__ = ["TokenChallenge", "check_token_target", "parse_token_challenge"]

_PARAM = LazyPattern(r'(\w+)\s*=\s*"([^"]*)"')


@attrs.frozen
class TokenChallenge:
    """A 401 the auth layer answers with one fresh token: ``error`` from WWW-Authenticate (e.g.
    ``invalid_token``, ``insufficient_claims``) and ``claims`` (the decoded JSON of a claims challenge)."""

    error: str | None
    claims: str | None


def _decode_claims(raw: str) -> str | None:
    text = raw.strip()
    if text.startswith("{"):
        return text
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def parse_token_challenge(headers: Mapping[str, str]) -> TokenChallenge | None:
    """The token challenge in a 401's ``WWW-Authenticate``, or None when it is not a token error.

    A genuine token error says ``error="invalid_token"`` (expired or revoked) or carries ``claims="<base64>"``
    (Continuous Access Evaluation / conditional access). Anything else (no header, licence or consent problems)
    is not refreshed.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    header = lowered.get("www-authenticate")
    if not header:
        return None
    params = {k.lower(): v for k, v in _PARAM.findall(header)}
    error = params.get("error") or None
    raw_claims = params.get("claims")
    claims = _decode_claims(raw_claims) if raw_claims else None
    if raw_claims or (error or "").lower() == "invalid_token":
        return TokenChallenge(error=error, claims=claims)
    return None


def check_token_target(cloud: Cloud, audience: Audience, url: str | httpx.URL) -> None:
    """Raise UnsafeRequestError unless a token for ``audience`` may be sent to ``url``.

    Allowed: https to one of the cloud's origins for that audience; plain http only to such an origin when
    ``cloud.allow_http_loopback`` and the host is loopback.
    """
    u = httpx.URL(url) if isinstance(url, str) else url
    shown = f"{u.scheme}://{u.host}{'' if u.port is None else f':{u.port}'}{u.path}"
    if u.scheme == "http":
        if not (cloud.allow_http_loopback and is_loopback_host(u.host)):
            raise UnsafeRequestError(
                f"refusing to send a bearer token over plain http to {shown}; use https "
                "(plain http is allowed only for loopback endpoints of a Cloud.custom(...) cloud)"
            )
    elif u.scheme != "https":
        raise UnsafeRequestError(f"refusing to send a bearer token to {shown}: scheme must be https")
    if origin_of(u) not in cloud.origins(audience):
        allowed = ", ".join(sorted(f"{s}://{h}:{p}" for s, h, p in cloud.origins(audience)))
        raise UnsafeRequestError(
            f"refusing to send a {audience.name} token to {shown}: its origin is not one of the cloud's "
            f"{audience.name} endpoints ({allowed})"
        )
