"""Tenants and permissions said plainly: a principal of one tenant managing workspaces of another (Azure
Lighthouse) plans and reads them, but connecting the Defender XDR connector is a blocker reported before any
write; a credential of the workspace's own tenant, from an administrator of it, clears it. Both faces."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from m365sentinel import Fleet, FleetReport, PreflightError, Session, aio
from m365sentinel.emulator import Emulator

NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    e = Emulator(now=NOW, dataset=False, workspaces=2, tenants=2)
    yield e
    e.close()


def _run(face: str, emu: Emulator, operation: str, user: Any, credentials: dict[str, Any]) -> FleetReport:
    ids = list(emu.workspace_tenants.items())  # (resource id, tenant id): the credentials go by tenant
    if face == "sync":
        with Session(credential=emu.credential(user), transport=emu.transport(), clock=emu.time) as session:
            creds = {t: emu.credential(u) for t, u in credentials.items()}
            return Fleet(ids, session=session, credentials=creds).incidents_and_alerts().run(operation)

    async def main() -> FleetReport:
        async with aio.Session(
            credential=emu.async_credential(user), transport=emu.async_transport(), clock=emu.time
        ) as session:
            creds = {t: emu.async_credential(u) for t, u in credentials.items()}
            return await aio.Fleet(ids, session=session, credentials=creds).incidents_and_alerts().run(operation)

    return asyncio.run(main())


@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_lighthouse_principal_is_blocked_before_any_write_until_the_tenant_credential_is_given(
    face: str, emu: Emulator
) -> None:
    ours, theirs = (emu.workspace_tenants[w] for w in emu.workspace_resource_ids)
    mssp = emu.directory_user("analyst@mssp.example", tenant=ours, admin_of=[ours])
    plan = _run(face, emu, "plan", mssp, {})
    assert [len(r.value.blockers) for r in plan.results] == [0, 1]  # type: ignore[union-attr]
    blocker = plan.results[1].value.blockers[0]  # type: ignore[union-attr]
    assert f"signs in to tenant {ours}, not the workspace's tenant {theirs}" in blocker
    assert "Azure Lighthouse delegates Azure RBAC only" in blocker and "Global or Security Administrator" in blocker

    applied = _run(face, emu, "apply", mssp, {})
    assert applied.results[0].ok and isinstance(applied.results[1].error, PreflightError)
    second = emu.workspace_resource_ids[1].rsplit("/", 1)[1]
    assert [w.path for w in emu.writes() if second in w.path] == []  # refused before writing

    admin = emu.directory_user("admin@customer.example", tenant=theirs, admin_of=[theirs])
    assert [r.summary() for r in _run(face, emu, "apply", mssp, {theirs: admin}).results] == [
        "applied 0 change(s)",
        "applied 1 change(s)",
    ]


def test_a_member_without_an_admin_role_is_named_in_the_blocker(emu: Emulator) -> None:
    theirs = emu.workspace_tenants[emu.workspace_resource_ids[1]]
    reader = emu.directory_user("reader@customer.example", tenant=theirs)
    blockers = _run("sync", emu, "plan", None, {theirs: reader}).results[1].value.blockers  # type: ignore[union-attr]
    assert blockers == (
        f"reader@customer.example holds neither Global Administrator nor Security Administrator in tenant {theirs}: "
        f"connecting the Defender XDR connector needs a Global or Security Administrator of tenant {theirs} who is "
        f"a member of it, signing with a token of that tenant (give credentials={{'{theirs}': ...}}).",
    )


def test_the_emulator_refuses_the_connector_write_and_answers_graph_for_the_tokens_tenant() -> None:
    emu = Emulator(now=NOW, workspaces=2, tenants=2)  # the dataset's incidents: the first workspace's tenant only
    ours, theirs = (emu.workspace_tenants[w] for w in emu.workspace_resource_ids)
    mssp = emu.credential(emu.directory_user("analyst@mssp.example", tenant=ours, admin_of=[ours]))
    arm = mssp.get_token("https://management.azure.com/.default").token
    url = f"https://management.azure.com{emu.workspace_resource_ids[1]}"
    connector = {"kind": "MicrosoftThreatProtection", "properties": {"tenantId": theirs, "dataTypes": {}}}
    with httpx.Client(transport=emu.transport(), headers={"Authorization": f"Bearer {arm}"}) as client:
        assert client.get(url, params={"api-version": "2023-09-01"}).status_code == 200  # RBAC: delegated
        put = client.put(
            f"{url}/providers/Microsoft.SecurityInsights/dataConnectors/x",
            params={"api-version": "2025-10-01-preview"},
            json=connector,
        )
    assert (put.status_code, put.json()["error"]["code"]) == (403, "AuthorizationFailed")
    member = emu.credential(emu.directory_user("u@customer.example", tenant=ours, member_of=[theirs]))
    graph = "https://graph.microsoft.com/v1.0/security/incidents"
    tenants = []
    for tenant in (ours, theirs):
        token = member.get_token("https://graph.microsoft.com/.default", tenant_id=tenant).token
        with httpx.Client(transport=emu.transport(), headers={"Authorization": f"Bearer {token}"}) as client:
            tenants.append({i["tenantId"] for i in client.get(graph).json()["value"]})
    assert tenants == [{ours}, set()]  # each token's own tenant answers
