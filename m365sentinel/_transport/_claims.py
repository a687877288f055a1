"""The claims of the principal's own access token (pure): who the SDK signs in as, to report early what it lacks.

Microsoft Entra access tokens are JWTs. The payload is read without verifying the signature: the SDK reads the
token its own credential returned, only to name a missing role or tenant before any write, never to grant anything
(the service decides). A token that is not a JWT (a test double) has no readable claims: ``{}``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .._json import loads as decode_json

__all__ = ["token_claims"]


def token_claims(token: str) -> dict[str, Any]:
    """The JWT payload of ``token`` as a dict (``tid``, ``wids``, ``idtyp``, ``upn``, ...); ``{}`` when unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = decode_json(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}
