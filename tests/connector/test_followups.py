"""Follow-ups of the faces review, each on both faces where a face exists."""

from __future__ import annotations

import pytest

from m365sentinel import NotFoundError
from m365sentinel.emulator import Emulator


@pytest.fixture
def emu() -> Emulator:
    return Emulator(seed=7)


@pytest.mark.parametrize("operation", ["plan", "status"])
def test_a_missing_workspace_is_not_found_not_unonboarded(emu: Emulator, face, operation: str) -> None:
    missing = emu.workspace_resource_id + "-missing"
    connector = face.connector(missing, emu=emu)
    try:
        with pytest.raises(NotFoundError) as caught:
            getattr(connector.incidents_and_alerts(), operation)()
    finally:
        connector.close()
    assert caught.value.code == "ResourceNotFound"
    assert f"workspaces/{missing.rsplit('/', 1)[1]}'" in str(caught.value)


def test_a_workspace_without_sentinel_reads_the_workspace_once(emu: Emulator, face) -> None:
    emu.state.sentinel_onboarded = False
    connector = face.connector(emu.workspace_resource_id, emu=emu)
    try:
        plan = connector.incidents_and_alerts().plan()
        status = connector.status()
    finally:
        connector.close()
    assert plan.blockers and status.onboarded is False
    workspace_reads = [
        r
        for r in emu.requests
        if r.method == "GET"
        and r.path.lower().endswith("/workspaces/" + emu.workspace_resource_id.rsplit("/", 1)[1].lower())
    ]
    assert len(workspace_reads) == 1


def test_async_handle_update_has_the_sync_keyword_signature() -> None:
    import inspect

    from m365sentinel import IncidentHandle, aio

    sync, async_ = inspect.signature(IncidentHandle.update), inspect.signature(aio.IncidentHandle.update)
    assert list(async_.parameters.values()) == list(sync.parameters.values())
    assert async_.parameters["title"].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.iscoroutinefunction(aio.IncidentHandle.update)


def test_two_threads_applying_one_plan_write_once() -> None:
    """The second apply() waits for the first and returns its result: the changes are written once."""
    import threading

    from m365sentinel import ApplyResult, Plan

    calls: list[str] = []
    entered, release = threading.Event(), threading.Event()

    def applier(plan: Plan) -> ApplyResult:
        calls.append(threading.current_thread().name)
        entered.set()
        release.wait(10)
        return ApplyResult((), ())

    plan = Plan("ws", "tenant", (), applier=applier)
    results: list[ApplyResult] = []
    first = threading.Thread(target=lambda: results.append(plan.apply()), name="first")
    second = threading.Thread(target=lambda: results.append(plan.apply()), name="second")
    first.start()
    assert entered.wait(10)
    second.start()
    second.join(0.3)  # unserialised, the second would enter the applier meanwhile
    release.set()
    first.join(10)
    second.join(10)
    assert calls == ["first"]
    assert len(results) == 2 and results[0] is results[1]


def test_defender_patch_sends_nothing_when_nothing_changes(face) -> None:
    emu = Emulator(seed=7, incidents=4)
    connector = face.connector(emu.workspace_resource_id, emu=emu)
    try:
        defender = connector.incidents().defender()
        first = next(iter(defender.incidents()))
        status = first.raw["status"]
        other = "resolved" if status != "resolved" else "active"
        same = defender.patch(first.id, {"status": status})
        patches = [r for r in emu.requests if r.method == "PATCH"]
        changed = defender.patch(first.id, {"status": other})
    finally:
        connector.close()
    assert patches == []
    assert same.raw["status"] == status
    assert changed.raw["status"] == other
    assert [r.method for r in emu.requests if r.method == "PATCH"] == ["PATCH"]


def test_a_lone_connector_reuses_its_token_under_a_pinned_past_clock(face) -> None:
    """No clock= anywhere: the emulator's transport carries its clock, so its tokens do not look expired."""
    from datetime import UTC, datetime

    emu = Emulator(seed=7, incidents=4, now=datetime(2025, 11, 20, 12, 0, tzinfo=UTC))
    connector = face.connector(emu.workspace_resource_id, emu=emu)
    try:
        connector.status()
        connector.status()
    finally:
        connector.close()
    assert emu.token_requests == {"https://management.azure.com": 1, "https://api.loganalytics.io": 1}
