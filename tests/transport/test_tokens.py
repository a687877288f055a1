"""Token cache: azure-core's refresh rules as pure decisions, and the sync shell that calls the credential."""

from __future__ import annotations

import logging
import math
import pickle
from typing import Any

import pytest
from azure.core.credentials import AccessToken, AccessTokenInfo

from m365sentinel._errors import CredentialError, InvalidInputError
from m365sentinel._transport._tokens import (
    CachedToken,
    TokenAction,
    TokenCache,
    TokenEntry,
    TokenKey,
    decide,
)

T0 = 1_900_000_000.0
SCOPE = "https://management.azure.com/.default"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class InfoCredential:
    """``get_token_info`` credential: tokens ``t1, t2, ...`` living ``lifetime`` s; ``fail`` makes the next calls raise."""

    def __init__(self, clock: Clock, lifetime: float = 3600.0, refresh_in: float | None = None) -> None:
        self.clock, self.lifetime, self.refresh_in = clock, lifetime, refresh_in
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = False

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise AssertionError("get_token_info must be preferred")

    def get_token_info(self, scope: str, *, options: Any = None) -> AccessTokenInfo:
        self.calls.append((scope, dict(options or {})))
        if self.fail:
            raise RuntimeError("login service unavailable")
        now = self.clock.now
        refresh_on = None if self.refresh_in is None else int(now + self.refresh_in)
        return AccessTokenInfo(f"t{len(self.calls)}", int(now + self.lifetime), refresh_on=refresh_on)


@pytest.mark.parametrize(
    ("entry", "now", "expected"),
    [
        (None, T0, TokenAction.FETCH),
        (TokenEntry(), T0, TokenAction.FETCH),
        (TokenEntry(CachedToken("x", T0), T0 - 10), T0, TokenAction.FETCH),  # expires_on <= now
        (TokenEntry(CachedToken("x", T0 + 301), T0 - 100), T0, TokenAction.USE),
        (TokenEntry(CachedToken("x", T0 + 299), T0 - 100), T0, TokenAction.REFRESH),
        (TokenEntry(CachedToken("x", T0 + 3000, T0), T0 - 100), T0, TokenAction.REFRESH),  # refresh_on reached
        (TokenEntry(CachedToken("x", T0 + 3000, T0 + 1), T0 - 100), T0, TokenAction.USE),
        (TokenEntry(CachedToken("x", T0 + 100), T0 - 29), T0, TokenAction.USE),  # tried 29 s ago
        (TokenEntry(CachedToken("x", T0 + 100), T0 - 30), T0, TokenAction.REFRESH),
    ],
)
def test_decide(entry: TokenEntry | None, now: float, expected: TokenAction) -> None:
    assert decide(entry, now) is expected


def test_one_request_per_lifetime_then_refresh_ahead_of_expiry() -> None:
    clock = Clock()
    credential = InfoCredential(clock)
    cache = TokenCache(clock)
    key = TokenKey.of(credential, SCOPE)
    seen = []
    for offset in (0, 1000, 3299, 3301, 3302):  # 3301 s: 299 s before expiry, inside the 300 s window
        clock.now = T0 + offset
        seen.append(cache.get(credential, key))
    assert seen == ["t1", "t1", "t1", "t2", "t2"]
    assert credential.calls == [(SCOPE, {}), (SCOPE, {})]


def test_refresh_on_from_get_token_info_is_honoured() -> None:
    clock = Clock()
    credential = InfoCredential(clock, lifetime=86_400, refresh_in=1800)
    cache = TokenCache(clock)
    key = TokenKey.of(credential, SCOPE)
    assert cache.get(credential, key) == "t1"
    clock.now = T0 + 1799
    assert cache.get(credential, key) == "t1"
    clock.now = T0 + 1800
    assert cache.get(credential, key) == "t2"


def test_failed_refresh_ahead_keeps_the_valid_token_and_waits_before_retrying(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    credential = InfoCredential(clock)
    cache = TokenCache(clock)
    key = TokenKey.of(credential, SCOPE)
    cache.get(credential, key)
    credential.fail = True
    clock.now = T0 + 3400  # 200 s left: refresh ahead, which fails
    with caplog.at_level(logging.WARNING, logger="m365sentinel"):
        assert cache.get(credential, key) == "t1"
    assert "using the cached one, valid 200 s more" in caplog.text
    assert "RuntimeError" in caplog.text
    clock.now = T0 + 3429  # within 30 s of the failed attempt: no new request
    assert cache.get(credential, key) == "t1"
    assert len(credential.calls) == 2
    clock.now = T0 + 3430
    assert cache.get(credential, key) == "t1"
    assert len(credential.calls) == 3
    clock.now = T0 + 3600  # expired: must fetch, and the failure is raised
    with pytest.raises(CredentialError, match=r"could not get a token for https://management\.azure\.com/\.default"):
        cache.get(credential, key)
    credential.fail = False
    assert cache.get(credential, key) == "t5"


def test_claims_challenge_replaces_the_cached_token() -> None:
    clock = Clock()
    credential = InfoCredential(clock)
    cache = TokenCache(clock)
    key = TokenKey.of(credential, SCOPE)
    assert cache.get(credential, key) == "t1"
    assert cache.renew(credential, key, "t1", '{"access_token":{"nbf":{"essential":true}}}') == "t2"
    assert credential.calls[1] == (SCOPE, {"claims": '{"access_token":{"nbf":{"essential":true}}}'})
    assert cache.get(credential, key) == "t2"
    assert len(credential.calls) == 2


def test_renew_reuses_a_token_another_request_already_renewed() -> None:
    clock = Clock()
    credential = InfoCredential(clock)
    cache = TokenCache(clock)
    key = TokenKey.of(credential, SCOPE)
    cache.get(credential, key)
    assert cache.renew(credential, key, "t1", None) == "t2"
    assert cache.renew(credential, key, "t1", None) == "t2"  # a second request rejected with t1
    assert len(credential.calls) == 2


def test_key_separates_tenant_and_cae_and_passes_them() -> None:
    clock = Clock()
    credential = InfoCredential(clock)
    cache = TokenCache(clock)
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    keys = [
        TokenKey.of(credential, SCOPE),
        TokenKey.of(credential, SCOPE, tenant_id=tenant),
        TokenKey.of(credential, SCOPE, enable_cae=True),
    ]
    assert [cache.get(credential, k) for k in keys * 2] == ["t1", "t2", "t3"] * 2
    assert [options for _, options in credential.calls] == [{}, {"tenant_id": tenant}, {"enable_cae": True}]


def test_get_token_credential_gets_keywords_only_when_set() -> None:
    calls: list[dict[str, Any]] = []

    class Plain:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            calls.append(kwargs)
            return AccessToken(f"p{len(calls)}", int(T0 + 3600))

    clock = Clock()
    plain = Plain()
    cache = TokenCache(clock)
    key = TokenKey.of(plain, SCOPE)
    assert cache.get(plain, key) == "p1"
    assert cache.renew(plain, key, "p1", "{}") == "p2"
    assert calls == [{}, {"claims": "{}"}]


@pytest.mark.parametrize("returned", [None, "a-token-string", AccessToken("", int(T0 + 60)), AccessToken("x", "soon")])
def test_malformed_token_from_the_credential_is_a_credential_error(returned: Any) -> None:
    class Odd:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            return returned

    odd = Odd()
    with pytest.raises(CredentialError, match="expected an AccessToken or AccessTokenInfo") as info:
        TokenCache(Clock()).get(odd, TokenKey.of(odd, SCOPE))  # type: ignore[arg-type]
    assert "a-token-string" not in str(info.value)
    assert pickle.loads(pickle.dumps(info.value)).args == info.value.args


def test_cached_token_repr_hides_the_secret() -> None:
    assert "s3cr3t" not in repr(CachedToken("s3cr3t", T0)) + repr(TokenEntry(CachedToken("s3cr3t", T0)))


@pytest.mark.parametrize("reading", [None, "1900000000", math.nan, True])
def test_a_clock_that_is_not_posix_seconds_is_invalid_input_before_any_token_request(reading: Any) -> None:
    credential = InfoCredential(Clock())
    with pytest.raises(InvalidInputError, match="clock must return POSIX seconds"):
        TokenCache(lambda: reading).get(credential, TokenKey.of(credential, SCOPE))
    assert credential.calls == []
