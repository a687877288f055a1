"""The emulator's cross-workspace queries: the ``workspaces`` body parameter, ``workspace()`` references by customer
id, resource id or name, the resource limit and the failed-workspace switch (shapes in docs/emulator.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from m365sentinel.emulator import Emulator

from .conftest import LA, NOW, Api


@pytest.fixture(scope="module")
def fleet() -> Iterator[Emulator]:
    """3 workspaces; workspace n holds alerts a<n>-0 .. a<n>-n."""
    emu = Emulator(now=NOW, dataset=False, workspaces=3, tenants=1)
    for n, rid in enumerate(emu.workspace_resource_ids):
        state = emu.workspace_state(rid)
        if "SecurityAlert" not in state.table_names():
            state.create_table("SecurityAlert")
        rows = [{"TimeGenerated": NOW - timedelta(minutes=1), "AlertName": f"a{n}-{k}"} for k in range(n + 1)]
        state.add_rows("SecurityAlert", rows)
    yield emu
    emu.close()


def _cids(emu: Emulator) -> list[str]:
    return [emu.workspace_state(r)._ws.customer_id for r in emu.workspace_resource_ids]


def _post(emu: Emulator, body: dict[str, Any]) -> Any:
    emu.faults.clear()
    return Api(emu).request("POST", f"{LA}/v1/workspaces/{_cids(emu)[0]}/query", json={"timespan": "P1D", **body})


def _names(response: Any) -> list[str]:
    return sorted(row[0] for row in response.json()["tables"][0]["rows"])


def test_the_workspaces_parameter_unions_unqualified_tables(fleet: Emulator) -> None:
    names = [r.rsplit("/", 1)[1] for r in fleet.workspace_resource_ids]
    body = {"query": "SecurityAlert | project AlertName", "workspaces": [names[1], fleet.workspace_resource_ids[2]]}
    assert _names(_post(fleet, body)) == ["a0-0", "a1-0", "a1-1", "a2-0", "a2-1", "a2-2"]
    assert _names(_post(fleet, {"query": "SecurityAlert | project AlertName"})) == ["a0-0"]


def test_workspace_references_read_that_workspace(fleet: Emulator) -> None:
    cids = _cids(fleet)
    name = fleet.workspace_resource_ids[1].rsplit("/", 1)[1]
    query = (
        f'union (workspace("{cids[2]}").SecurityAlert | extend W = 2), '
        f'(workspace("{name}").SecurityAlert | extend W = 1) | project AlertName, W'
    )
    rows = _post(fleet, {"query": query, "workspaces": [cids[2], cids[1]]}).json()["tables"][0]["rows"]
    assert sorted(map(tuple, rows)) == [("a1-0", 1), ("a1-1", 1), ("a2-0", 2), ("a2-1", 2), ("a2-2", 2)]


def test_over_the_limit_is_refused(fleet: Emulator) -> None:
    fleet.faults.cross_workspace_limit(2)
    r = Api(fleet).request(
        "POST",
        f"{LA}/v1/workspaces/{_cids(fleet)[0]}/query",
        json={"query": "SecurityAlert", "workspaces": _cids(fleet)[1:]},
    )
    fleet.faults.clear()
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "BadArgumentError" and error["innererror"]["code"] == "TooManyResourcesError"
    assert "maximum number of resources in a cross-resource query is 2" in error["innererror"]["message"]


def test_a_failed_workspace_fails_a_strict_union_and_is_named_by_a_fuzzy_one(fleet: Emulator) -> None:
    cids = _cids(fleet)
    branches = ", ".join(f'(workspace("{c}").SecurityAlert | project AlertName)' for c in cids)
    api = Api(fleet)
    url = f"{LA}/v1/workspaces/{cids[0]}/query"
    fleet.faults.fail_workspace_queries(cids[1])
    strict = api.request("POST", url, json={"query": f"union {branches}", "timespan": "P1D"})
    fuzzy = api.request("POST", url, json={"query": f"union isfuzzy=true {branches}", "timespan": "P1D"})
    fleet.faults.clear()
    assert strict.status_code == 400
    assert strict.json()["error"]["innererror"]["code"] == "InsufficientAccessError"
    assert cids[1] in strict.json()["error"]["innererror"]["message"]
    assert fuzzy.status_code == 200 and _names(fuzzy) == ["a0-0", "a2-0", "a2-1", "a2-2"]
    error = fuzzy.json()["error"]
    assert error["code"] == "PartialError"
    assert [(d["code"], d["target"], d["resources"]) for d in error["details"]] == [
        ("InsufficientAccessError", cids[1], [cids[1]])
    ]
    unknown = _post(fleet, {"query": 'workspace("nope").SecurityAlert'})
    assert unknown.status_code == 400 and unknown.json()["error"]["innererror"]["code"] == "WorkspaceNotFoundError"


def test_a_cross_workspace_query_leaves_no_schema_behind(fleet: Emulator) -> None:
    def schemas() -> set[str]:
        rows = fleet._core.engine.con.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE catalog_name = 'store'"
        ).fetchall()
        return {r[0] for r in rows}

    _post(fleet, {"query": "SecurityAlert | take 1"})  # the primary workspace's own schema exists from here on
    before = schemas()
    for k in range(3):  # a new question each time: not answered from the engine's result cache
        body = {"query": f"SecurityAlert | project AlertName, K = {k}", "workspaces": _cids(fleet)[1:]}
        assert len(_post(fleet, body).json()["tables"][0]["rows"]) == 6
    assert schemas() == before
