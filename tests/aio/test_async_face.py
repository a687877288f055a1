"""What only the async face has: its credential and transport checks, ``async with``, asyncio stop events, and the
async client's retries and paging through pytest-httpx (the behaviour both faces share runs through the ``face``
fixture in the e2e and stream tests)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.credentials import AccessToken
from pytest_httpx import HTTPXMock

from m365sentinel import ClientClosedError, Connector, InvalidInputError, MissingExtraError, RateLimitedError, aio
from m365sentinel._transport import Cloud, RetryPolicy, arm_request
from m365sentinel.emulator import Emulator

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
CLOUD = Cloud.resolve("AzureCloud")
WS = (
    "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/myRg/providers/"
    "Microsoft.OperationalInsights/workspaces/myWorkspace"
)
SPEC = arm_request(CLOUD, "GET", WS + "/providers/Microsoft.SecurityInsights/incidents", "2025-09-01")


@pytest.fixture
def anyio_backend():
    return "asyncio"


class AsyncCred:
    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens) or ["token-1"]
        self.scopes: list[str] = []

    async def get_token(self, *scopes, **kw):
        self.scopes.extend(scopes)
        token = self.tokens.pop(0) if len(self.tokens) > 1 else self.tokens[0]
        return AccessToken(token, 4_102_444_800)


class SyncCred:
    def get_token(self, *scopes, **kw):
        return AccessToken("t", 4_102_444_800)


@pytest.fixture
def emu():
    e = Emulator(now=NOW, seed=3, incidents=12)
    yield e
    e.close()


def test_a_sync_credential_on_the_async_face_is_refused_by_name():
    with pytest.raises(InvalidInputError, match=r"needs an async credential .*got the sync SyncCred"):
        aio.Connector(WS, credential=SyncCred())
    with pytest.raises(InvalidInputError, match="got the sync SyncCred"):
        aio.AsyncHttpClient(CLOUD, SyncCred())


def test_a_sync_transport_on_the_async_face_is_refused(emu):
    with pytest.raises(InvalidInputError, match=r"transport must be a httpx\.AsyncBaseTransport"):
        aio.Connector(WS, credential=emu.async_credential(), transport=emu.transport())


def test_azure_identity_aio_credentials_are_accepted_and_a_missing_aiohttp_is_a_typed_error(monkeypatch):
    from azure.identity import aio as identity_aio

    connector = aio.Connector(WS, credential=identity_aio.AzureCliCredential())
    assert repr(connector) == f"Connector({WS!r}, cloud='AzureCloud')"
    asyncio.run(connector.close())

    def no_aiohttp(**kw):
        raise ImportError("aiohttp package is not installed")

    monkeypatch.setattr(identity_aio, "DefaultAzureCredential", no_aiohttp)
    with pytest.raises(MissingExtraError, match=r"pip install 'm365sentinel\[aio\]'"):
        aio.Connector(WS)


def test_the_default_credential_of_the_async_face_builds_on_the_aio_extra():
    # The aio extra (aiohttp) is what azure.identity.aio's DefaultAzureCredential needs; built, never asked for a
    # token (no network). The lowest-versions job runs this on the extra's floor.
    connector = aio.Connector(WS)
    assert repr(connector) == f"Connector({WS!r}, cloud='AzureCloud')"
    asyncio.run(connector.close())


@pytest.mark.anyio
async def test_async_with_closes_and_a_closed_connector_raises_a_typed_error(emu):
    async with aio.Connector(
        emu.workspace_resource_id, credential=emu.async_credential(), transport=emu.async_transport()
    ) as connector:
        status = await connector.status()
        assert status.onboarded is True
    with pytest.raises(ClientClosedError):
        await connector.status()


@pytest.mark.anyio
async def test_follow_stops_on_an_asyncio_event_and_iterating_without_async_is_a_type_error(emu):
    connector = aio.Connector(
        emu.workspace_resource_id, credential=emu.async_credential(), transport=emu.async_transport()
    )
    stream = connector.incidents().clock(emu.clock.now)
    with pytest.raises(TypeError, match="async for"):
        iter(stream)
    stop = asyncio.Event()
    passes: list[float] = []

    async def sleep(seconds: float) -> None:
        passes.append(seconds)
        emu.advance(timedelta(minutes=1))
        if len(passes) == 2:
            stop.set()

    seen = [item.id async for item in stream.follow(interval=30, stop=stop, sleep=sleep)]
    assert passes == [30.0, 30.0]
    with Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as sync:
        assert sorted(seen) == sorted(item.id for item in sync.incidents()) and len(seen) == 13
    with pytest.raises(InvalidInputError, match=r"stop=1: expected a asyncio\.Event or threading\.Event or a callable"):
        stream.follow(stop=1)
    await connector.close()


@pytest.mark.anyio
async def test_async_client_waits_the_advised_retry_after_then_succeeds(httpx_mock: HTTPXMock):
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    httpx_mock.add_response(url=SPEC.url, status_code=429, headers={"Retry-After": "7"})
    httpx_mock.add_response(url=SPEC.url, json={"value": [1]})
    cred = AsyncCred()
    async with aio.AsyncHttpClient(CLOUD, cred, sleep=sleep) as http:
        assert await http.send_json(SPEC) == {"value": [1]}
    assert sleeps == [7.0]
    assert cred.scopes == ["https://management.azure.com/.default"]  # cached: one token for both attempts
    requests = httpx_mock.get_requests()
    assert [r.headers["Authorization"] for r in requests] == ["Bearer token-1"] * 2
    assert requests[0].headers["x-ms-client-request-id"] == requests[1].headers["x-ms-client-request-id"]


@pytest.mark.anyio
async def test_async_client_raises_at_once_beyond_the_retry_after_ceiling(httpx_mock: HTTPXMock):
    httpx_mock.add_response(url=SPEC.url, status_code=429, headers={"Retry-After": "600"})
    async with aio.AsyncHttpClient(CLOUD, AsyncCred(), retry=RetryPolicy(max_retry_after=60)) as http:
        with pytest.raises(RateLimitedError) as info:
            await http.send(SPEC)
    assert info.value.retry_after == 600.0


@pytest.mark.anyio
async def test_async_client_refreshes_a_rejected_token_once(httpx_mock: HTTPXMock):
    httpx_mock.add_response(url=SPEC.url, status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    httpx_mock.add_response(url=SPEC.url, json={"value": []})
    async with aio.AsyncHttpClient(CLOUD, AsyncCred("old", "new")) as http:
        await http.send(SPEC)
    assert [r.headers["Authorization"] for r in httpx_mock.get_requests()] == ["Bearer old", "Bearer new"]


def test_the_async_face_exports_the_sync_names():
    import m365sentinel

    assert aio.__all__ == sorted(aio.__all__)
    for name in (
        "Connector",
        "IncidentStream",
        "IncidentRun",
        "IncidentHandle",
        "DefenderIncidents",
        "Plan",
        "Session",
    ):
        assert name in aio.__all__ and hasattr(aio, name)
    assert {"Connector", "Session", "Plan"} <= set(m365sentinel.__all__)


def test_both_faces_pool_enough_connections_for_a_fleet() -> None:
    """A fleet runs up to 256 workspaces at once over one session: httpx's default pool (100 connections, 20 kept
    alive) would queue them or reconnect per request."""
    from m365sentinel._transport import HttpClient

    cloud = Cloud.resolve("AzureCloud")
    sync_client = HttpClient(cloud, SyncCred())
    async_client = aio.AsyncHttpClient(cloud, AsyncCred())
    try:
        for client in (sync_client, async_client):
            pool = client._client._transport._pool  # type: ignore[attr-defined]
            assert (pool._max_connections, pool._max_keepalive_connections) == (256, 256)
    finally:
        sync_client.close()
        asyncio.run(async_client.aclose())
