"""Fleets end to end on the emulator: many workspaces in several tenants, one missing, both faces."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from m365sentinel import (
    Fleet,
    FleetReport,
    FleetTarget,
    InvalidInputError,
    NotFoundError,
    Plan,
    Session,
    WorkspaceId,
    aio,
    parse_workspaces,
)
from m365sentinel.emulator import Emulator

NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)
TENANT = "0b6f2c4e-8a4d-4f7e-9c1a-2d3e4f5a6b7c"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    e = Emulator(now=NOW, dataset=False, workspaces=3, tenants=2)
    yield e
    e.close()


def _missing(emu: Emulator) -> str:
    return emu.workspace_resource_ids[1] + "-missing"


def test_plan_apply_plan_reports_every_workspace_and_the_missing_one(emu: Emulator) -> None:
    ids = [*emu.workspace_resource_ids, _missing(emu)]
    seen: list[tuple[int, int, str, bool]] = []
    with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time) as session:
        fleet = Fleet(
            ids, session=session, concurrency=2, progress=lambda d, t, r: seen.append((d, t, r.workspace, r.ok))
        ).incidents_and_alerts()
        report = fleet.plan()
        assert [r.workspace for r in report.results] == ids  # the fleet's order, whatever finished first
        assert [d for d, *_ in seen] == [1, 2, 3, 4] and {t for _, t, *_ in seen} == {4}
        assert sorted((w, ok) for _, _, w, ok in seen) == sorted((i, i != ids[3]) for i in ids)
        for r, wid in zip(report.results[:3], ids[:3], strict=True):
            assert isinstance(r.value, Plan) and r.error is None
            assert r.value.workspace == wid
            assert r.value.tenant_id == emu.workspace_tenants[wid]
            assert [(c.resource_type, c.action.value) for c in r.value.changes] == [("dataConnectors", "create")]
        missing = report.results[3]
        assert missing.value is None and isinstance(missing.error, NotFoundError)
        assert missing.error.code == "ResourceNotFound"
        assert (len(report.failed), len(report.due), report.exit_code) == (1, 3, 1)
        assert pickle.loads(pickle.dumps(missing.error)).code == "ResourceNotFound"
        doc = json.loads(report.to_json())
        assert (doc["operation"], doc["total"], doc["failed"], doc["due"]) == ("plan", 4, 1, 3)
        assert doc["workspaces"][3]["error"]["type"] == "NotFoundError"
        assert doc["workspaces"][0]["result"]["changes"][0]["resourceType"] == "dataConnectors"

        present = Fleet(ids[:3], session=session).incidents_and_alerts()
        applied = present.apply()
        assert [r.summary() for r in applied.results] == ["applied 1 change(s)"] * 3
        assert applied.exit_code == 0
        assert present.plan().exit_code == 0
        assert all(r.value is not None and r.value.connected for r in present.status().results)


def test_a_missing_workspace_is_not_read_as_not_onboarded(emu: Emulator) -> None:
    """Sentinel's routes alone answer 404 for a missing workspace as for a not-onboarded one: the fleet reads the
    workspace first, so a typo in the list fails rather than planning onboarding."""
    with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time) as session:
        report = Fleet([_missing(emu)], session=session).incidents_and_alerts().status()
    assert isinstance(report.results[0].error, NotFoundError)
    assert report.exit_code == 1


def test_async_fleet_gives_the_same_report(emu: Emulator) -> None:
    ids = [*emu.workspace_resource_ids, _missing(emu)]
    with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time) as session:
        sync = Fleet(ids, session=session).incidents_and_alerts().plan()

    async def main() -> FleetReport:
        async with aio.Session(
            credential=emu.async_credential(), transport=emu.async_transport(), clock=emu.time
        ) as session:
            return await aio.Fleet(ids, session=session, concurrency=2).incidents_and_alerts().plan()

    report = asyncio.run(main())
    assert [r.summary() for r in report.results[:3]] == [r.summary() for r in sync.results[:3]]
    assert [type(r.error) for r in report.results] == [type(None)] * 3 + [NotFoundError]
    assert isinstance(report.results[0].value, aio.Plan)
    assert report.exit_code == 1


class _Recording:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.tenants: list[str | None] = []

    def get_token(self, *scopes: str, tenant_id: str | None = None, **kw: Any) -> Any:
        self.tenants.append(tenant_id)
        return self.inner.get_token(*scopes)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        self.tenants.append((options or {}).get("tenant_id"))
        return self.inner.get_token_info(*scopes)


def test_a_tenant_credential_signs_its_workspaces_over_the_shared_pool(emu: Emulator) -> None:
    ids = emu.workspace_resource_ids
    tenant = emu.workspace_tenants[ids[1]]
    other = _Recording(emu.credential())
    with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time) as session:
        fleet = Fleet([ids[0], (ids[1], tenant)], session=session, credentials={tenant: other})
        report = fleet.incidents_and_alerts().plan()
    assert report.exit_code == 3
    assert other.tenants and set(other.tenants) == {tenant}  # only ids[1]'s requests, tokens for its tenant


def test_parse_workspaces_file(emu: Emulator) -> None:
    a, b = emu.workspace_resource_ids[:2]
    text = f"# customers\n{a}\n\n  {b}  {TENANT}  # contoso\n"
    assert parse_workspaces(text) == [
        FleetTarget(WorkspaceId.parse(a)),
        FleetTarget(WorkspaceId.parse(b), TENANT),
    ]
    with pytest.raises(InvalidInputError, match=r"line 2: .*tenant_id"):
        parse_workspaces(f"{a}\n{b} not-a-guid\n")
    with pytest.raises(InvalidInputError, match=r"line 1: .*expected '<workspace resource id> \[<tenant id>\]'"):
        parse_workspaces(f"{a} {TENANT} extra\n")
    with pytest.raises(InvalidInputError, match="listed twice"):
        parse_workspaces(f"{a}\n{a.upper()}\n")
    with pytest.raises(InvalidInputError, match="no workspaces"):
        parse_workspaces("# nothing\n")


def test_a_workspaces_file_with_a_byte_order_mark_is_read(emu: Emulator) -> None:
    ids = emu.workspace_resource_ids
    assert [t.workspace.resource_id for t in parse_workspaces("\ufeff" + "\n".join(ids))] == ids


def test_bad_fleet_input_is_refused_before_any_request(emu: Emulator) -> None:
    with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time) as session:
        with pytest.raises(InvalidInputError, match="concurrency=0"):
            Fleet(emu.workspace_resource_ids, session=session, concurrency=0)
        with pytest.raises(InvalidInputError, match="not one string"):
            Fleet(emu.workspace_resource_ids[0], session=session)
        with pytest.raises(InvalidInputError, match=r"progress=<class 'int'>: a class, expected a callable progress"):
            Fleet(emu.workspace_resource_ids, session=session, progress=int)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match=r"progress=.*cannot be called with 3 argument"):
            Fleet(emu.workspace_resource_ids, session=session, progress=lambda done: None)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match=r"session must be a m365sentinel\.Session"):
            Fleet(emu.workspace_resource_ids, session=object())  # type: ignore[arg-type]
        fleet = Fleet(emu.workspace_resource_ids, session=session)
        with pytest.raises(InvalidInputError, match="alerts must be True or False"):
            fleet.incidents_and_alerts(alerts="yes")
        with pytest.raises(InvalidInputError, match="operation='delete'"):
            fleet.run("delete")
    assert emu.requests == []
