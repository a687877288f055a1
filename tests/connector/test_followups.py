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
