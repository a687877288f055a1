"""Session: one HTTP pool and one token cache for many connectors; default credentials per cloud; sync only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest
from azure.core.credentials import AccessToken

import m365sentinel
from m365sentinel import Audience, ClientClosedError, Connector, InvalidInputError, Session
from m365sentinel.emulator import Emulator

ARM = "https://management.azure.com"
LA = "https://api.loganalytics.io"
GRAPH = "https://graph.microsoft.com"
WS = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.OperationalInsights/workspaces/law-sentinel"
)
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture(scope="module")
def emu() -> Emulator:
    return Emulator(now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC), seed=4, incidents=20)


def test_connectors_of_a_session_share_one_client_and_one_token_per_audience(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = emu.token_requests
    clients: list[httpx.Client] = []
    real_init = httpx.Client.__init__

    def counting_init(self: httpx.Client, *args: Any, **kwargs: Any) -> None:
        clients.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "__init__", counting_init)
    with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time) as session:
        connectors = [session.connector(emu.workspace_resource_id) for _ in range(300)]
        for connector in connectors[:3]:
            connector.status()
            connector.query("SecurityIncident | take 1", timespan=timedelta(days=1))
            next(iter(connector.incidents().defender().incidents()))
    assert len(clients) == 1
    after = emu.token_requests
    assert {k: after[k] - before.get(k, 0) for k in after} == {ARM: 1, LA: 1, GRAPH: 1}


def test_one_token_per_lifetime_then_refreshed_ahead_of_expiry() -> None:
    emu = Emulator(now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC), dataset=False)
    with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time) as session:
        connector = session.connector(emu.workspace_resource_id)
        connector.list_tables()
        emu.advance(timedelta(minutes=54))  # 6 minutes left: still used
        connector.list_tables()
        assert emu.token_requests == {ARM: 1}
        emu.advance(timedelta(minutes=2))  # 4 minutes left: inside the 5-minute window, refreshed ahead
        connector.list_tables()
        assert emu.token_requests == {ARM: 2}
    assert all(r.path.endswith("/tables") for r in emu.requests)  # no 401 round trips: nothing was sent twice
    assert len(emu.requests) == 3


def test_closed_session_is_a_typed_error_and_a_connector_close_leaves_it_open(emu: Emulator) -> None:
    session = Session(credential=emu.credential(), transport=emu.transport())
    connector = session.connector(emu.workspace_resource_id)
    with connector:
        pass
    assert not session.closed
    connector.list_tables()  # the pool is still open
    session.close()
    assert session.closed
    assert repr(session) == "Session(cloud='AzureCloud', closed)"
    with pytest.raises(ClientClosedError, match="the session is closed"):
        session.connector(emu.workspace_resource_id)
    with pytest.raises(ClientClosedError):
        connector.list_tables()


class _Recorder:
    """Stands in for DefaultAzureCredential: records its keywords and every token request."""

    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.made.append(kwargs)
        self.calls: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append((scopes, kwargs))
        return AccessToken("t", 4_102_444_800)


@pytest.mark.parametrize(
    ("cloud", "authority", "scope"),
    [
        ("AzureCloud", "https://login.microsoftonline.com", "https://management.azure.com/.default"),
        ("AzureUSGovernment", "https://login.microsoftonline.us", "https://management.usgovcloudapi.net/.default"),
    ],
)
def test_default_credential_signs_in_at_the_clouds_authority_for_the_tenant(
    monkeypatch: pytest.MonkeyPatch, cloud: str, authority: str, scope: str
) -> None:
    import azure.identity

    monkeypatch.setattr(_Recorder, "made", [])
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", _Recorder)
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url.host))
        return httpx.Response(200, json={"value": []})

    connector = Connector(WS, cloud=cloud, tenant_id=TENANT, transport=httpx.MockTransport(answer))
    assert connector.list_tables() == []
    assert _Recorder.made == [{"authority": authority}]
    credential = connector._session.http._credential
    assert isinstance(credential, _Recorder)
    assert credential.calls == [((scope,), {"tenant_id": TENANT})]
    with Session(cloud=cloud, transport=httpx.MockTransport(answer)) as session:  # no tenant: the credential's own
        session.connector(WS).list_tables()
    assert _Recorder.made[1] == {"authority": authority}
    assert len(seen) == 2


def test_given_credential_gets_no_tenant_from_the_connector() -> None:
    recorder = _Recorder()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"value": []}))
    Connector(WS, credential=recorder, tenant_id=TENANT, transport=transport).list_tables()  # type: ignore[arg-type]
    assert recorder.calls == [(("https://management.azure.com/.default",), {})]


class _AsyncCredential:
    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("t", 4_102_444_800)


def test_async_credential_refused_by_the_sync_face_before_any_request() -> None:
    from azure.identity.aio import AzureCliCredential  # needs no HTTP transport to build

    real_aio = AzureCliCredential(tenant_id=TENANT)
    for credential in (real_aio, _AsyncCredential(), {Audience.ARM: _AsyncCredential()}):
        for make in (
            lambda c: Connector(WS, credential=c),
            lambda c: Session(credential=c),
        ):
            with pytest.raises(InvalidInputError, match=r"is asynchronous \(azure\.identity\.aio\).*m365sentinel\.aio"):
                make(credential)
    with pytest.raises(
        InvalidInputError, match=r"^credential azure\.identity\.aio\.\S*AzureCliCredential is asynchronous"
    ):
        Session(credential=real_aio)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tenant_id": "contoso"}, "tenant_id"),
        ({"clock": 5}, r"clock=5: expected a callable clock\(\) or None"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"cloud": "AzureChinaCloud"}, "China"),
    ],
)
def test_session_options_checked_before_anything_is_built(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Session(credential=_Recorder(), **kwargs)  # type: ignore[arg-type]


def test_session_is_exported_from_the_package() -> None:
    assert m365sentinel.Session is Session and Session.__module__ == "m365sentinel"
