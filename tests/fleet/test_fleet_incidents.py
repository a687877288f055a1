"""Incidents across a fleet (issue 13) on the emulator, both faces: one stream and one checkpoint per workspace,
merged delivery, a failed workspace reported at the end, resumable after a kill mid-pass."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.faces import BlockingIterator, Face
from m365sentinel import (
    CheckpointError,
    Fleet,
    FleetIncident,
    FleetIncidentsError,
    InvalidInputError,
    MemoryCheckpointStore,
    NotFoundError,
    aio,
)
from m365sentinel._fleet_incidents import End, Merge
from m365sentinel.emulator import Emulator

NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(params=["sync", "async"])
def face(request: pytest.FixtureRequest) -> Iterator[Face]:
    f = Face(request.param)
    yield f
    f.close()


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """6 workspaces in 2 tenants; workspace w holds 3 + 2w incidents of its own (unique names), pages of 4."""
    e = Emulator(now=NOW, dataset=False, workspaces=6, tenants=2)
    for w, ws in enumerate(e.workspace_resource_ids):
        e.workspace_state(ws).page_size = 4
        control = e.workspace_incident_control(ws)
        for k in range(3 + 2 * w):
            control.create_incident(name=f"{w:08x}-0000-4000-8000-{k:012x}", title=f"ws {w} incident {k}")
            e.advance(timedelta(seconds=1))
    yield e
    e.close()


def created(emu: Emulator) -> dict[str, set[str]]:
    return {
        ws: {f"{w:08x}-0000-4000-8000-{k:012x}" for k in range(3 + 2 * w)}
        for w, ws in enumerate(emu.workspace_resource_ids)
    }


def fleet_of(face: Face, session: Any, ids: list[str], **kw: Any) -> Any:
    if face.is_async:
        return aio.Fleet(ids, session=session._target, **kw)
    return Fleet(ids, session=session, **kw)


def run_of(face: Face, stream: Any) -> Any:
    return BlockingIterator(stream.run(), face) if face.is_async else stream.run()


def test_one_pass_delivers_every_workspace_once_and_commits_each_checkpoint(emu: Emulator, face: Face) -> None:
    ids = emu.workspace_resource_ids
    stores = {ws: MemoryCheckpointStore() for ws in ids}
    with face.session(emu=emu, clock=emu.time) as session:
        stream = fleet_of(face, session, ids, concurrency=3).incidents().since(stores).page(4).clock(emu.clock.now)
        got: dict[str, list[str]] = {ws: [] for ws in ids}
        order: list[str] = []
        run = run_of(face, stream)
        for item in run:
            assert isinstance(item, FleetIncident)
            assert item.tenant_id is None
            got[item.workspace].append(item.id)
            order.append(item.workspace)
            item.commit()
        assert {ws: set(v) for ws, v in got.items()} == created(emu)
        assert all(len(v) == len(set(v)) for v in got.values())  # no duplicate
        assert run.delivered == {ws: 3 + 2 * w for w, ws in enumerate(ids)} and run.errors == {}
        # Every workspace's checkpoint is its own, at the pass end (no pending position): a second pass is empty.
        for ws in ids:
            stored = stores[ws].load()
            assert stored is not None and stored.checkpoint.identity is not None
            assert stored.checkpoint.identity.workspace == ws and stored.checkpoint.pending is None
        assert list(run_of(face, stream)) == []


def test_kill_mid_pass_and_restart_loses_and_duplicates_nothing(emu: Emulator, face: Face) -> None:
    ids = emu.workspace_resource_ids
    stores = {ws: MemoryCheckpointStore() for ws in ids}
    delivered: dict[str, list[str]] = {ws: [] for ws in ids}
    with face.session(emu=emu, clock=emu.time) as session:
        stream = fleet_of(face, session, ids, concurrency=4).incidents().since(lambda ws: stores[ws]).page(4)
        stream = stream.clock(emu.clock.now).buffer(2)
        run = run_of(face, stream)
        for n, item in enumerate(run, 1):
            delivered[item.workspace].append(item.id)
            item.commit()
            if n == 17:
                break  # the process "dies": the rest was read ahead but never handed over nor committed
        run.close()
        assert list(run) == []  # closed: what was read ahead is not handed over
        assert sum(map(len, delivered.values())) == 17
        failing = run_of(face, stream)
        with pytest.raises(RuntimeError):  # the handler fails on the next item: not committed, comes again
            for item in failing:
                raise RuntimeError(item.id)
        failing.close()  # as `with stream.run() as run:` does; an unclosed run keeps reading ahead until collected
        for item in run_of(face, stream):
            delivered[item.workspace].append(item.id)
            item.commit()
    assert {ws: sorted(v) for ws, v in delivered.items()} == {ws: sorted(v) for ws, v in created(emu).items()}


def test_a_failed_workspace_is_reported_at_the_end_and_the_others_are_delivered(emu: Emulator, face: Face) -> None:
    ids = emu.workspace_resource_ids
    missing = ids[1] + "-missing"
    stores = {ws: MemoryCheckpointStore() for ws in [*ids, missing]}
    with face.session(emu=emu, clock=emu.time) as session:
        stream = fleet_of(face, session, [*ids, missing], concurrency=2).incidents().since(stores).page(4)
        got: dict[str, set[str]] = {}
        with pytest.raises(FleetIncidentsError) as caught:
            for item in run_of(face, stream.clock(emu.clock.now)):
                got.setdefault(item.workspace, set()).add(item.id)
                item.commit()
    assert got == created(emu)
    assert list(caught.value.errors) == [missing]
    assert isinstance(caught.value.errors[missing], NotFoundError)
    assert stores[missing].load() is None  # nothing committed for it
    again = pickle.loads(pickle.dumps(caught.value))
    assert list(again.errors) == [missing] and str(again) == str(caught.value)


def test_a_foreign_checkpoint_fails_its_workspace_only(emu: Emulator, face: Face) -> None:
    ids = emu.workspace_resource_ids[:3]
    stores = {ws: MemoryCheckpointStore() for ws in ids}
    with face.session(emu=emu, clock=emu.time) as session:
        stream = fleet_of(face, session, ids).incidents().since(stores).clock(emu.clock.now)
        for item in run_of(face, stream):
            item.commit()
        swapped = {ids[0]: stores[ids[1]], ids[1]: stores[ids[0]], ids[2]: stores[ids[2]]}
        emu.workspace_incident_control(ids[2]).create_incident(name="00000002-0000-4000-8000-0000000000ff")
        got: list[str] = []
        with pytest.raises(FleetIncidentsError) as caught:
            for item in run_of(face, stream.since(swapped)):
                got.append(item.id)
    assert sorted(caught.value.errors) == sorted(ids[:2])
    assert all(isinstance(e, CheckpointError) for e in caught.value.errors.values())
    assert "belongs to workspace" in str(caught.value.errors[ids[0]])
    assert got == ["00000002-0000-4000-8000-0000000000ff"]


def test_bad_stores_are_refused_before_any_request(emu: Emulator) -> None:
    ids = emu.workspace_resource_ids[:2]
    one = MemoryCheckpointStore()
    with face_session(emu) as session:
        fleet = Fleet(ids, session=session)
        before = len(emu.requests)
        with pytest.raises(InvalidInputError, match="one store serves workspaces"):
            fleet.incidents().since(lambda ws: one).run()
        with pytest.raises(InvalidInputError, match="missing"):
            fleet.incidents().since({ids[0]: one})
        with pytest.raises(InvalidInputError, match="belongs to one workspace"):
            fleet.incidents().since(one)
        with pytest.raises(InvalidInputError, match="not a CheckpointStore"):
            fleet.incidents().since(lambda ws: "store").run()
        with pytest.raises(InvalidInputError, match="buffer"):
            fleet.incidents().buffer(0)
        assert len(emu.requests) == before


def face_session(emu: Emulator) -> Any:
    from m365sentinel import Session

    return Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time)


def test_merge_serves_ready_workspaces_round_robin() -> None:
    """No workspace starves another: each take goes to the next workspace with an item ready."""
    m = Merge(3, capacity=2)
    for i, n in ((0, 2), (1, 1), (2, 2)):
        for k in range(n):
            m.put(i, f"{i}.{k}")
    assert not m.room(0) and m.room(1)
    assert [m.take() for _ in range(5)] == [(0, "0.0"), (1, "1.0"), (2, "2.0"), (0, "0.1"), (2, "2.1")]
    assert m.take() is None and not m.finished
    m.put(1, "1.1")
    m.put(0, end := End(None))
    assert m.take() == (0, end) and m.take() == (1, "1.1")
    m.put(1, End(None))
    m.put(2, End(None))
    m.take(), m.take()
    assert m.finished


def test_a_pass_read_to_its_end_ahead_of_the_caller_commits_nothing_the_caller_did_not(emu: Emulator) -> None:
    """The worker reads a workspace's pass to its end while the caller still holds its first item: the stream's
    "the caller came back for more" rule must not commit the pass end for it (sync face, deterministic)."""
    ws = emu.workspace_resource_ids[1]  # 5 incidents
    store = MemoryCheckpointStore()
    with face_session(emu) as session:
        stream = Fleet([ws], session=session).incidents().since({ws: store}).clock(emu.clock.now)
        with stream.run() as run:
            next(run)  # handled by nobody yet: not committed
            pump = run._pump
            with pump.cond:  # wait until the worker has queued the pass's end
                while not (pump.merge.queues[0] and isinstance(pump.merge.queues[0][-1], End)):
                    pump.cond.wait()
        assert store.load() is None
        assert sorted(item.id for item in stream) == sorted(created(emu)[ws])  # all of them again
