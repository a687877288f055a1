"""Tokens: audience per route, expiry from the emulator clock, revocation (401 invalid_token)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from m365sentinel.emulator import Emulator

from .conftest import ARM, LA, NOW, SCOPES, Api


def test_credential_issues_fake_tokens_with_clock_expiry(bare: Api) -> None:
    token = bare.cred.get_token("https://management.azure.com/.default")
    assert token.token == "emu-management.azure.com-1"
    assert token.expires_on == int(NOW.timestamp()) + 3600
    assert bare.cred.get_token("https://api.loganalytics.io/.default").token == "emu-api.loganalytics.io-2"
    assert bare.cred.get_token_info("https://graph.microsoft.com/.default").token == "emu-graph.microsoft.com-3"


def _get_workspace(api: Api, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return api.client.get(f"{ARM}{api.emu.workspace_resource_id}?api-version=2023-09-01", headers=headers)


def test_missing_wrong_audience_and_revoked_tokens_answer_401(bare: Api) -> None:
    missing = _get_workspace(bare, None)
    assert missing.status_code == 401
    assert 'error="invalid_token"' in missing.headers["WWW-Authenticate"]
    assert missing.json()["error"]["code"] == "AuthenticationFailed"

    la_token = bare.cred.get_token(SCOPES[LA]).token
    wrong = _get_workspace(bare, la_token)
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"

    arm_token = bare.cred.get_token(SCOPES[ARM]).token
    assert _get_workspace(bare, arm_token).status_code == 200
    bare.emu.faults.expire_tokens()
    revoked = _get_workspace(bare, arm_token)
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "ExpiredAuthenticationToken"
    assert 'error="invalid_token"' in revoked.headers["WWW-Authenticate"]
    assert _get_workspace(bare, bare.cred.get_token(SCOPES[ARM]).token).status_code == 200  # a fresh token works


def test_token_expires_when_the_clock_passes_its_expiry(bare: Api) -> None:
    token = bare.cred.get_token(SCOPES[ARM]).token
    bare.emu.advance(timedelta(minutes=59))
    assert _get_workspace(bare, token).status_code == 200
    bare.emu.advance(timedelta(minutes=1))
    assert _get_workspace(bare, token).status_code == 401


def test_query_route_needs_the_log_analytics_audience(bare: Api) -> None:
    url = f"{LA}/v1/workspaces/{bare.emu.customer_id}/query"
    arm_token = bare.cred.get_token(SCOPES[ARM]).token
    r = bare.client.post(url, json={"query": "print 1"}, headers={"Authorization": f"Bearer {arm_token}"})
    assert r.status_code == 401
    la_token = bare.cred.get_token(SCOPES[LA]).token
    ok = bare.client.post(url, json={"query": "print x = 1"}, headers={"Authorization": f"Bearer {la_token}"})
    assert ok.status_code == 200
    assert ok.json() == {
        "tables": [{"name": "PrimaryResult", "columns": [{"name": "x", "type": "long"}], "rows": [[1]]}]
    }


def test_non_strict_tokens_accept_well_formed_tokens_from_other_processes() -> None:
    emu = Emulator(now=NOW, dataset=False, strict_tokens=False)
    with httpx.Client(transport=emu.transport()) as client:
        url = f"{ARM}{emu.workspace_resource_id}?api-version=2023-09-01"
        assert client.get(url, headers={"Authorization": "Bearer emu-management.azure.com-99"}).status_code == 200
        assert client.get(url, headers={"Authorization": "Bearer emu-graph.microsoft.com-1"}).status_code == 401
    emu.close()
