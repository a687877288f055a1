"""Reading the principal's own token (``_transport._claims``) and the Defender XDR connector check (``_principal``)."""

from __future__ import annotations

import base64
import json

from m365sentinel._principal import connector_blockers
from m365sentinel._transport._claims import token_claims

T = "3051983e-95f9-49b7-b0f7-375aa90ad0ed"
SECURITY_ADMINISTRATOR = "194ae4cb-b126-40b2-bd5b-6091b380977d"


def _jwt(claims: dict[str, object]) -> str:
    return "e30." + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=") + ".sig"


def test_token_claims_reads_a_jwt_payload_and_nothing_else() -> None:
    assert token_claims(_jwt({"tid": T, "wids": [SECURITY_ADMINISTRATOR]})) == {
        "tid": T,
        "wids": [SECURITY_ADMINISTRATOR],
    }
    assert [token_claims(t) for t in ("opaque", "a.!!!.c", "a.W10.c", "a.b.c.d")] == [{}, {}, {}, {}]


def test_connector_blockers() -> None:
    assert connector_blockers({"tid": T.upper(), "wids": [SECURITY_ADMINISTRATOR]}, T) == []
    assert connector_blockers({}, T) == []  # unreadable: the service decides
    assert connector_blockers({"tid": T, "idtyp": "app"}, T) == []  # a service principal's roles are not in its token
    assert len(connector_blockers({"tid": T, "upn": "u@x", "wids": []}, T)) == 1
    assert connector_blockers({"tid": T, "upn": "u@x"}, T) == []  # roles not listed in the token: unknown
    assert "not the workspace's tenant" in connector_blockers({"tid": "other", "idtyp": "app"}, T)[0]
