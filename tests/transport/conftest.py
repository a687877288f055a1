"""Shared fixtures for the transport tests: a fake TokenCredential, a sleep recorder, a client factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from m365sentinel._transport import Audience, Cloud, HttpClient, RetryPolicy

FAR_FUTURE = 4_102_444_800  # 2100-01-01, so nothing here depends on the real clock
ARM = "https://management.azure.com"
WS = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/"
    "Microsoft.OperationalInsights/workspaces/ws1/providers/Microsoft.SecurityInsights"
)


class FakeCredential:
    """A TokenCredential that hands out scripted tokens and records every get_token call."""

    def __init__(self, *tokens: str) -> None:
        self._tokens = list(tokens) or ["token-1"]
        self.calls: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append((scopes, kwargs))
        token = self._tokens.pop(0) if len(self._tokens) > 1 else self._tokens[0]
        return AccessToken(token, FAR_FUTURE)

    @property
    def scopes(self) -> list[str]:
        return [s for scopes, _ in self.calls for s in scopes]


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def cloud() -> Cloud:
    return Cloud.resolve("AzureCloud")


@pytest.fixture
def credential() -> FakeCredential:
    return FakeCredential("token-1")


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(cloud: Cloud, credential: FakeCredential, sleeps: SleepRecorder) -> Iterator[Callable[..., HttpClient]]:
    made: list[HttpClient] = []

    def factory(
        *,
        cred: Any = None,
        cloud_: Cloud | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
    ) -> HttpClient:
        kwargs: dict[str, Any] = {"sleep": sleeps, "retry": retry or RetryPolicy()}
        if clock is not None:
            kwargs["clock"] = clock
        client = HttpClient(cloud_ or cloud, cred if cred is not None else credential, **kwargs)
        made.append(client)
        return client

    yield factory
    for c in made:
        c.close()


def per_audience(**creds: FakeCredential) -> Mapping[Audience, FakeCredential]:
    return {Audience[name.upper()]: c for name, c in creds.items()}
