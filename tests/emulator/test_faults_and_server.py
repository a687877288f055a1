"""Fault injection, the request log, the async transport and the loopback server over a real socket."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from m365sentinel import InvalidInputError
from m365sentinel.emulator import Emulator

from .conftest import ARM, NOW, PREVIEW, SCOPES, Api


def test_throttle_then_success(bare: Api) -> None:
    bare.emu.faults.add("*/dataConnectors", status=429, times=1)
    first = bare.request("GET", bare.ws("dataConnectors"))
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "7"
    assert first.json()["error"]["code"] == "TooManyRequests"
    assert bare.request("GET", bare.ws("dataConnectors")).status_code == 200
    assert bare.emu.faults.pending == 0


def test_method_glob_predicate_and_server_errors(bare: Api) -> None:
    bare.emu.faults.add("PUT */settings/*", status=429, headers={}, times=2)
    assert bare.request("GET", bare.ws("settings/EyesOn")).status_code == 200  # GET does not match
    body = {"kind": "EyesOn", "properties": {"isEnabled": False}}
    assert bare.request("PUT", bare.ws("settings/EyesOn"), json=body).status_code == 429
    assert bare.request("PUT", bare.ws("settings/EyesOn"), json=body).status_code == 429
    assert bare.request("PUT", bare.ws("settings/EyesOn"), json=body).status_code == 200
    bare.emu.faults.server_error(times=1, status=503)
    r = bare.request("GET", bare.ws("settings"))
    assert r.status_code == 503 and "Retry-After" not in r.headers
    bare.emu.faults.add(lambda rec: rec.method == "POST", status=500)
    assert bare.request("POST", bare.ws("dataConnectorsCheckRequirements"), json={"kind": "x"}).status_code == 500


def test_injected_body_as_bytes_is_sent_as_it_is(bare: Api) -> None:
    canned = b'{"tables":[{"name":"PrimaryResult","columns":[],"rows":[]}],"x": 1.50}'  # not json.dumps's form
    bare.emu.faults.add("GET */settings", status=200, body=canned, times=2)
    for _ in range(2):
        r = bare.request("GET", bare.ws("settings"))
        assert (r.status_code, r.content) == (200, canned)
        assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert bare.emu.faults.pending == 0


def test_dropped_connection_in_process(bare: Api) -> None:
    bare.emu.faults.drop_connection()
    with pytest.raises(httpx.RemoteProtocolError):
        bare.request("GET", bare.ws("settings"))
    assert bare.request("GET", bare.ws("settings")).status_code == 200


def test_request_log_counts_writes(bare: Api) -> None:
    body = {"kind": "Ueba", "properties": {"dataSources": ["AuditLogs"]}}
    bare.request("GET", bare.ws("settings"))
    bare.request("PUT", bare.ws("settings/Ueba"), json=body)
    bare.request("POST", bare.ws("dataConnectorsCheckRequirements"), json={"kind": "MicrosoftThreatProtection"})
    log = bare.emu.requests
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in log] == [
        ("GET", "settings"),
        ("PUT", "Ueba"),
        ("POST", "dataConnectorsCheckRequirements"),
    ]
    assert log[1].body == body
    assert log[1].query == {"api-version": PREVIEW}
    assert [r.method for r in bare.emu.writes()] == ["PUT"]


def test_async_transport() -> None:
    emu = Emulator(now=NOW, dataset=False)
    token = emu.credential().get_token(SCOPES[ARM]).token

    async def run() -> int:
        async with httpx.AsyncClient(transport=emu.async_transport()) as client:
            r = await client.get(
                f"{ARM}/subscriptions/{emu.subscription_id}?api-version=2022-12-01",
                headers={"Authorization": f"Bearer {token}"},
            )
            return r.status_code

    assert asyncio.run(run()) == 200
    emu.close()


def test_loopback_server_over_a_real_socket() -> None:
    emu = Emulator(now=NOW, seed=2, incidents=10)
    cred = emu.credential()
    with emu.serve() as server:
        assert server.url.startswith("http://127.0.0.1:")
        headers = {"Authorization": "Bearer " + cred.get_token(SCOPES[ARM]).token}
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            r = client.get(f"{emu.workspace_resource_id}?api-version=2023-09-01")
            assert r.status_code == 200
            assert r.json()["properties"]["customerId"] == emu.customer_id
            page = client.get(
                f"{emu.workspace_resource_id}/providers/Microsoft.SecurityInsights/incidents",
                params={"api-version": "2025-09-01", "$top": "4"},
            ).json()
            assert page["nextLink"].startswith(server.url + emu.workspace_resource_id)
            assert len(client.get(page["nextLink"]).json()["value"]) == 4
            la = {"Authorization": "Bearer " + cred.get_token(SCOPES["https://api.loganalytics.io"]).token}
            q = client.post(
                f"/v1/workspaces/{emu.customer_id}/query", headers=la, content=json.dumps({"query": "print x = 'ok'"})
            )
            assert q.json()["tables"][0]["rows"] == [["ok"]]
            emu.faults.drop_connection()
            with pytest.raises(httpx.TransportError):
                client.get(f"{emu.workspace_resource_id}?api-version=2023-09-01")
    emu.close()


def test_graph_incidents_page_by_skip(fresh: Api) -> None:
    r = fresh.request("GET", "https://graph.microsoft.com/v1.0/security/incidents?$top=10&$expand=alerts")
    assert r.status_code == 200
    body = r.json()
    assert len(body["value"]) == 10
    assert body["@odata.nextLink"] == (
        "https://graph.microsoft.com/v1.0/security/incidents?$top=10&$expand=alerts&$skip=10"
    )
    assert all(1 <= len(i["alerts"]) <= 4 for i in body["value"])
    too_far = fresh.request("GET", "https://graph.microsoft.com/v1.0/security/alerts_v2?$top=1000&$skip=5001")
    assert too_far.status_code == 400


def test_loopback_server_over_tls() -> None:
    """``serve(tls=...)``: HTTPS on loopback with a throwaway certificate; the SDK streams over it (nextLinks are
    https), trusting the certificate through its own transport; a client that does not trust it is refused."""
    import ssl

    import trustme

    from m365sentinel import Cloud, Connector

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    emu = Emulator(now=NOW, seed=2, incidents=10)
    with emu.serve(tls=server_ctx) as server:
        assert server.url.startswith("https://127.0.0.1:")
        url = server.url
        cloud = Cloud.custom(arm=url, log_analytics=url, graph=url)
        transport = httpx.HTTPTransport(verify=client_ctx)
        with Connector(emu.workspace_resource_id, credential=emu.credential(), cloud=cloud, transport=transport) as c:
            names = [item.id for item in c.incidents().page(4)]
        assert len(names) == len(set(names)) == 10
        pages = [r for r in emu.requests if r.path.endswith("/providers/Microsoft.SecurityInsights/incidents")]
        assert len(pages) == 3  # pages of 4, 4, 2: every nextLink followed over https
        with httpx.Client(timeout=10) as untrusting, pytest.raises(httpx.ConnectError):
            untrusting.get(f"{url}{emu.workspace_resource_id}?api-version=2023-09-01")
    with pytest.raises(InvalidInputError, match="tls="):
        emu.serve(tls="cert.pem")  # type: ignore[arg-type]
    emu.close()
