"""Checkpoint value, watermark rules (case B5) and compare-and-swap stores."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from m365sentinel._errors import InvalidInputError
from m365sentinel._incidents import (
    DEFAULT_LAG,
    BlobCheckpointStore,
    Checkpoint,
    CheckpointConflictError,
    FileCheckpointStore,
    MemoryCheckpointStore,
    SQLiteCheckpointStore,
)
from m365sentinel._incidents._checkpoint import PassState
from m365sentinel._incidents._filters import odata_string

from .conftest import NOW


def at(minutes: float):
    return NOW.replace(hour=3, minute=0) + timedelta(minutes=minutes)


def test_odata_string_doubles_single_quotes_and_refuses_control_characters():
    assert odata_string("St. John's") == "'St. John''s'"
    assert odata_string("''") == "''''''"
    with pytest.raises(InvalidInputError):
        odata_string("a\nb")


def test_checkpoint_json_round_trip_is_exact():
    cp = Checkpoint(watermark=at(0), seen=(("b", at(2), '"e2"'), ("a", at(1), None)))
    doc = cp.to_json()
    assert doc == {
        "v": 1,
        "watermark": "2025-11-20T03:00:00.0000000Z",
        "seen": [["a", "2025-11-20T03:01:00.0000000Z", None], ["b", "2025-11-20T03:02:00.0000000Z", '"e2"']],
        "pass": None,
    }
    assert Checkpoint.from_json(cp.dumps()) == cp
    with pytest.raises(InvalidInputError, match="not a checkpoint"):
        Checkpoint.from_json({"watermark": 1})


def test_default_lag_is_five_minutes():
    assert timedelta(minutes=5) == DEFAULT_LAG


def test_watermark_advances_to_poll_start_minus_lag_never_to_newest_change():
    state = PassState.begin(Checkpoint(), at(40), timedelta(minutes=5))
    state.page(at(40))  # the service's Date
    assert state.in_window("x", at(39))
    state.delivered("x", at(39), '"1"')
    done = state.finished()
    assert done.watermark == at(35)
    assert [s[0] for s in done.seen] == ["x"]


def test_B5a_reopened_incident_after_the_watermark_is_delivered_again():
    state = PassState.begin(Checkpoint(), at(40), timedelta(minutes=5))
    assert state.should_deliver("inc45", at(10), '"closed"')
    state.delivered("inc45", at(10), '"closed"')
    cp = state.finished()
    nxt = PassState.begin(cp, at(60), timedelta(minutes=5))
    assert nxt.should_deliver("inc45", at(58), '"reopened"') is True


def test_B5b_late_visible_incident_within_the_lag_is_not_skipped():
    # Poll at 03:33:30 sees only the 03:33 incident; the 03:32 one becomes visible afterwards.
    lag = timedelta(minutes=5)
    first = PassState.begin(Checkpoint(), at(33.5), lag)
    first.page(at(33.5))
    first.delivered("b", at(33), '"b"')
    cp = first.finished()
    assert cp.watermark == at(28.5)  # the next poll asks from 03:28:30
    second = PassState.begin(cp, at(35), lag)
    assert second.lower == at(28.5)
    assert second.should_deliver("a", at(32), '"a"') is True  # found
    assert second.should_deliver("b", at(33), '"b"') is False  # de-duplicated in the overlap


def test_cut_short_pass_resumes_by_what_it_delivered_not_by_a_position():
    state = PassState.begin(Checkpoint(watermark=at(20)), at(40), timedelta(minutes=5))
    state.delivered("n1", at(30), '"1"')
    cp = state.delivered("n2", at(30), '"2"').checkpoint()
    assert cp.pending is None and cp.watermark == at(20) and [i for i, _, _ in cp.seen] == ["n1", "n2"]
    resumed = PassState.begin(Checkpoint.from_json(cp.to_json()), at(50), timedelta(minutes=5))
    resumed.page(at(50))
    assert resumed.next_watermark == at(45)  # the resumed pass lists the whole window again: its own start
    assert resumed.should_deliver("n2", at(30), '"2"') is False
    assert resumed.should_deliver("n3", at(30), '"3"') is True
    assert resumed.should_deliver("n0", at(31), '"0"') is True  # newer, yet never delivered: no order is trusted


def test_watermark_never_moves_back_when_polling_faster_than_the_lag():
    cp = Checkpoint(watermark=at(30))
    assert PassState.begin(cp, at(32), timedelta(minutes=5)).next_watermark == at(30)


@pytest.fixture(params=["memory", "file", "sqlite", "blob", "blob-leased"])
def store(request, tmp_path):
    if request.param.startswith("blob"):  # Azurite, started once per session (tests/azurite)
        azurite = request.getfixturevalue("azurite")
        lease = 15 if request.param == "blob-leased" else None
        with BlobCheckpointStore.from_connection_string(
            azurite.connection_string, azurite.new_container(), "incidents.json", lease_seconds=lease
        ) as blob:
            yield blob
    elif request.param == "memory":
        yield MemoryCheckpointStore()
    elif request.param == "file":
        (tmp_path / "cp").mkdir()  # the store never creates folders
        yield FileCheckpointStore(tmp_path / "cp" / "incidents.json")
    else:  # closed after the test: Python 3.13 warns about an unclosed sqlite3 connection (an error here)
        sqlite = SQLiteCheckpointStore(tmp_path / "cp.sqlite3")
        yield sqlite
        sqlite.close()


def test_store_compare_and_swap(store):
    assert store.load() is None
    v1 = store.compare_and_swap(None, Checkpoint(watermark=at(1)))
    assert store.load().checkpoint == Checkpoint(watermark=at(1)) and store.load().version == v1
    v2 = store.compare_and_swap(v1, Checkpoint(watermark=at(2)))
    with pytest.raises(CheckpointConflictError) as exc:
        store.compare_and_swap(v1, Checkpoint(watermark=at(3)))
    assert exc.value.expected == v1 and exc.value.actual == v2
    with pytest.raises(CheckpointConflictError):
        store.compare_and_swap(None, Checkpoint(watermark=at(4)))
    assert store.load().checkpoint.watermark == at(2)


def test_two_workers_cannot_both_advance_the_checkpoint(store):
    v = store.compare_and_swap(None, Checkpoint(watermark=at(0)))
    results = []
    barrier = threading.Barrier(8)

    def worker(i):
        barrier.wait()
        try:
            store.compare_and_swap(v, Checkpoint(watermark=at(i + 1)))
            results.append(i)
        except CheckpointConflictError:
            pass

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1
    assert store.load().checkpoint.watermark == at(results[0] + 1)


def test_file_store_leaves_no_temporary_files(tmp_path):
    s = FileCheckpointStore(tmp_path / "c.json")
    v = s.compare_and_swap(None, Checkpoint(watermark=at(0)))
    s.compare_and_swap(v, Checkpoint(watermark=at(1)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "c.json.lock"]


def test_file_store_needs_no_fcntl(tmp_path, monkeypatch):
    # Windows has no fcntl: the lock must come from a cross-platform library, not a POSIX-only module.
    monkeypatch.setitem(sys.modules, "fcntl", None)
    s = FileCheckpointStore(tmp_path / "c.json")
    assert s.compare_and_swap(s.compare_and_swap(None, Checkpoint(watermark=at(0))), Checkpoint(watermark=at(1))) == "2"
    assert s.load().checkpoint.watermark == at(1)


def test_file_store_waits_for_a_lock_held_elsewhere(tmp_path):
    from filelock import FileLock

    store = FileCheckpointStore(tmp_path / "c.json")
    outcome: list[str] = []
    other = FileLock(str(tmp_path / "c.json.lock"))  # another holder of the OS lock (as another process would be)
    with other:
        worker = threading.Thread(target=lambda: outcome.append(store.compare_and_swap(None, Checkpoint())))
        worker.start()
        worker.join(0.3)
        assert worker.is_alive() and outcome == [] and not (tmp_path / "c.json").exists()
    worker.join()
    assert outcome == ["1"]


def test_any_change_re_served_by_a_large_page_shift_is_skipped_by_id():
    # Thousands of incidents changed mid-pass shift the list right by as many: every re-served change is one the
    # pass delivered, skipped by its (id, lastModified, etag), whatever the order it comes back in.
    state = PassState.begin(Checkpoint(), at(600), timedelta(minutes=5))
    for k in range(10_000):
        state.delivered(f"i{k}", at(500 - k / 100), None)
    assert all(state.should_deliver(f"i{k}", at(500 - k / 100), None) is False for k in range(9_999, -1, -1))
    assert state.should_deliver("next", at(500 - 10_000 / 100), None) is True
    assert len(state.checkpoint().seen) == 10_000


def test_ties_at_the_position_are_told_apart_by_id():
    state = PassState.begin(Checkpoint(), at(600), timedelta(minutes=5))
    for k in range(3):
        state.delivered(f"t{k}", at(100), None)
    assert [state.should_deliver(f"t{k}", at(100), None) for k in range(4)] == [False, False, False, True]


def test_a_snapshot_is_the_checkpoint_as_of_its_delivery_even_when_built_later():
    lag = timedelta(minutes=5)
    state = PassState.begin(Checkpoint(seen=[("old", at(38), '"o"')], watermark=at(30)), at(40), lag)
    state.delivered("a", at(39), '"a1"')
    snap_b = state.delivered("b", at(39), '"b1"')
    state.delivered("a", at(39.5), '"a2"')  # a newer change of a: later in the log, not in snap_b
    snap_c = state.delivered("c", at(36), '"c1"')
    assert snap_b.checkpoint().to_json() == {
        "v": 1,
        "watermark": "2025-11-20T03:30:00.0000000Z",
        "seen": [
            ["old", "2025-11-20T03:38:00.0000000Z", '"o"'],
            ["a", "2025-11-20T03:39:00.0000000Z", '"a1"'],
            ["b", "2025-11-20T03:39:00.0000000Z", '"b1"'],
        ],
        "pass": None,
    }
    cp_c = snap_c.checkpoint()
    assert [s[0] for s in cp_c.seen] == ["c", "old", "b", "a"]
    assert cp_c.seen[3][2] == '"a2"'
    assert snap_c.checkpoint() is cp_c  # built once


def test_a_burst_inside_the_overlap_window_builds_no_checkpoint_per_item():
    state = PassState.begin(Checkpoint(), at(600), timedelta(minutes=5))
    snaps = [state.delivered(f"i{k}", at(599), f'"{k}"') for k in range(10_000)]
    assert all(s._built is None for s in snaps)  # O(1) per delivery: nothing copied or sorted yet
    last = snaps[-1].checkpoint()
    assert len(last.seen) == 10_000 and last.pending is None
    assert len(snaps[4_999].checkpoint().seen) == 5_000


def test_the_seen_map_packs_guid_ids_and_etags_and_gives_the_same_text_back():
    from m365sentinel._incidents._checkpoint import SeenMap

    changes = (
        ("0d00a3b2-0000-0d00-0000-64b5a0c40000", at(1), '"0d00a3b2-0000-0d00-0000-64b5a0c40000"'),
        ("0D00A3B2-0000-0D00-0000-64B5A0C40000", at(2), '"0D00A3B2-0000-0D00-0000-64B5A0C40000"'),  # not canonical
        ("plain", at(3), 'W/"1"'),
        ("0d00a3b2-0000-0d00-0000-64b5a0c4000x", at(4), None),
        ("", datetime(1, 1, 1, tzinfo=UTC), '"0d00a3b2-0000-0d00-0000-64b5a0c40000'),
    )
    seen = SeenMap(changes)
    assert tuple(seen.items()) == changes
    assert [seen.get(i) for i, _, _ in changes] == [(t, e) for _, t, e in changes]
    assert seen.get("0d00a3b2-0000-0d00-0000-64b5a0c40001") is None


def test_a_sqlite_store_dropped_without_close_closes_its_connection(tmp_path):
    # Python 3.13 warns (ResourceWarning) about a sqlite3 connection collected while open; a store a caller forgets
    # to close must not leave one behind.
    import gc
    import sqlite3

    store = SQLiteCheckpointStore(tmp_path / "cp.sqlite3")
    assert store.load() is None
    con = store._con
    del store
    gc.collect()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        con.execute("SELECT 1")


def test_a_sqlite_store_is_a_context_manager_that_closes(tmp_path):
    with SQLiteCheckpointStore(tmp_path / "cp.sqlite3") as store:
        store.compare_and_swap(None, Checkpoint())
        con = store._con
    assert store._con is None
    import sqlite3

    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        con.execute("SELECT 1")
    assert store.load() is not None  # reopened on use
    store.close()


def test_the_seen_map_prunes_packed_at_the_watermark_keeping_changes_at_it_for_each_etag_form():
    from m365sentinel._incidents._checkpoint import SeenMap

    guid = "0d00a3b2-0000-0d00-0000-64b5a0c40000"
    changes = (
        (guid, at(2), f'"{guid}"'),  # packed as an int
        ("plain", at(1), 'W/"1"'),  # packed as bytes
        ("none", at(3), None),
        ("before", at(0), f'"{guid}"'),
        ("before-none", at(0), None),
        ("before-bytes", at(0), "x"),
    )
    seen = SeenMap(changes)
    assert tuple(seen.items(since=at(1))) == changes[:3]
    assert tuple(seen.items(since=at(3))) == (changes[2],)
    assert tuple(seen.items(since=at(4))) == ()
    assert tuple(seen.items()) == changes
