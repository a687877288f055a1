"""A fleet in one emulator: many workspaces in several tenants, built on first use, routed by path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from m365sentinel import InvalidInputError
from m365sentinel.emulator import Emulator
from m365sentinel.emulator import _transport as transport_module

from .conftest import ARM, LA, NOW, Api


@pytest.fixture
def fleet() -> Iterator[Emulator]:
    emu = Emulator(now=NOW, dataset=False, workspaces=4, tenants=2)
    yield emu
    emu.close()


def test_single_workspace_default_lists_its_one_workspace() -> None:
    emu = Emulator(now=NOW, dataset=False)
    assert emu.workspace_resource_ids == [emu.workspace_resource_id]
    assert emu.workspace_tenants == {emu.workspace_resource_id: emu.tenant_id}
    emu.close()


def test_fleet_ids_tenants_and_lazy_build(fleet: Emulator) -> None:
    ids = fleet.workspace_resource_ids
    assert len(ids) == 4 and len(set(ids)) == 4 and ids[0] == fleet.workspace_resource_id
    tenants = fleet.workspace_tenants
    assert [tenants[i] for i in ids].count(fleet.tenant_id) == 2
    assert len(set(tenants.values())) == 2
    assert fleet._fleet is not None and fleet._fleet.built == 1  # nothing but the first workspace exists yet
    api = Api(fleet)
    sub = ids[1].split("/")[2]
    r = api.request("GET", f"{ARM}/subscriptions/{sub}?api-version=2022-12-01")
    assert r.status_code == 200 and r.json()["tenantId"] == tenants[ids[1]]
    ws = api.request("GET", f"{ARM}{ids[3]}?api-version=2023-09-01")
    assert ws.status_code == 200 and ws.json()["id"] == ids[3]
    customer = ws.json()["properties"]["customerId"]
    q = api.request("POST", f"{LA}/v1/workspaces/{customer}/query", json={"query": "Usage | count", "timespan": "P1D"})
    assert q.status_code == 200 and q.json()["tables"][0]["rows"] == [[0]]
    assert fleet._fleet.built == 3  # the subscription read used its first workspace (member 1)
    assert fleet.workspace_state(ids[3]).sentinel_onboarded is True


def test_unknown_workspace_in_a_fleet_subscription_is_404(fleet: Emulator) -> None:
    api = Api(fleet)
    r = api.request("GET", f"{ARM}{fleet.workspace_resource_ids[1]}-missing?api-version=2023-09-01")
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound"
    with pytest.raises(InvalidInputError, match="not a workspace of this emulator"):
        fleet.workspace_state(fleet.workspace_resource_ids[1] + "-missing")


def test_bad_fleet_sizes_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="tenants=3"):
        Emulator(now=NOW, dataset=False, workspaces=2, tenants=3)
    with pytest.raises(InvalidInputError, match="latency=-1"):
        Emulator(now=NOW, dataset=False, latency=-1)


def test_latency_is_slept_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(transport_module.time, "sleep", slept.append)
    emu = Emulator(now=NOW, dataset=False, workspaces=2, latency=0.02)
    api = Api(emu)
    api.request("GET", f"{ARM}/subscriptions/{emu.subscription_id}?api-version=2022-12-01")
    api.request("GET", f"{ARM}{emu.workspace_resource_ids[1]}?api-version=2023-09-01")
    assert slept == [0.02, 0.02]
    emu.close()


def test_members_share_the_first_workspaces_rows_not_its_incidents() -> None:
    emu = Emulator(now=NOW, seed=0, incidents=12, workspaces=2)
    first, member = (emu.workspace_state(i) for i in emu.workspace_resource_ids)
    assert member.table_names() == first.table_names()
    rows = emu._fleet.core(1).ws.tables.rows if emu._fleet else {}
    assert rows["DeviceEvents"] == emu._workspace.tables.rows["DeviceEvents"]
    assert rows["DeviceEvents"] is not emu._workspace.tables.rows["DeviceEvents"]  # appending stays per member
    api = Api(emu)
    listed = api.request(
        "GET",
        f"{ARM}{emu.workspace_resource_ids[1]}/providers/Microsoft.SecurityInsights/incidents?api-version=2025-09-01",
    )
    assert listed.status_code == 200 and listed.json()["value"] == []
    emu.close()
