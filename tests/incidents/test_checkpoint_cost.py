"""What a commit per item costs over a large first pass: the checkpoint stays compact while the service serves the
list newest first (its size does not grow with the pass), and the same pass served out of order falls back to
the record and still delivers each incident once (the size of each commit is recorded, never timed). Resuming
from the compact position, in order and out of order."""

from __future__ import annotations

import pytest

from m365sentinel._incidents import MemoryCheckpointStore
from m365sentinel.emulator import Emulator

from .conftest import NOW, connector_on

N = 5_250  # the emulator's 5,000 Defender incidents plus its Sentinel-only ones


class SizeRecordingStore(MemoryCheckpointStore):
    """A memory store that records the JSON size of every checkpoint written."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def compare_and_swap(self, expected_version, checkpoint):  # type: ignore[no-untyped-def]
        self.sizes.append(len(checkpoint.dumps()))
        return super().compare_and_swap(expected_version, checkpoint)


@pytest.fixture(scope="module")
def big():
    e = Emulator(now=NOW, seed=3, incidents=5_000)
    yield e
    e.close()


def _first_pass(emu, sleeps, every=1):
    store = SizeRecordingStore()
    with connector_on(emu, sleeps) as c:
        run = iter(c.incidents().since(store).clock(emu.clock.now).page(500))
        got = []
        for k, item in enumerate(run):
            got.append(item.id)
            if k % every == 0:
                item.commit()  # every=1: the README's canonical usage, one commit per handled item
        assert not run.stopped_early
    return got, store


def test_an_in_order_first_pass_with_a_commit_per_item_keeps_the_checkpoint_compact(big, sleeps):
    got, store = _first_pass(big, sleeps)
    assert len(got) == len(set(got)) == N
    assert len(store.sizes) == N + 1  # one per item, then the pass-end checkpoint
    # Past the verified run, a mid-pass checkpoint is the watermark, the overlap window and the position: the
    # size of the last one does not depend on how many items the pass delivered.
    last_mid_pass = store.sizes[-2]
    assert last_mid_pass < 2_000, last_mid_pass
    assert max(store.sizes[100:-1]) < 2_000
    stored = store.load()
    assert stored is not None and stored.checkpoint.pending is None


def test_the_same_pass_served_out_of_order_falls_back_to_the_record_and_delivers_each_once(big, sleeps):
    big.faults.unordered_lists(seed=4)
    try:
        # A commit every 50th item: under the record a commit costs O(items so far), O(N^2) in all per item.
        got, store = _first_pass(big, sleeps, every=50)
    finally:
        big.faults.unordered_lists(False)
    assert len(got) == len(set(got)) == N
    # The record: each mid-pass checkpoint holds every change delivered so far (no position).
    assert len(store.sizes) == N // 50  # the last item is not committed: no pass-end commit
    assert store.sizes[-1] > 5_000 * 50


def _drain(emu, sleeps, store, limit, every=1):
    got = []
    with connector_on(emu, sleeps) as c:
        while True:
            run = iter(c.incidents().since(store).clock(emu.clock.now).page(500).max_items(limit))
            for k, item in enumerate(run):
                got.append(item.id)
                if k % every == 0 or k == limit - 1:
                    item.commit()
            if not run.stopped_early:
                return got


def test_an_in_order_pass_cut_by_max_items_resumes_from_the_compact_position_each_once(big, sleeps):
    store = SizeRecordingStore()
    got = _drain(big, sleeps, store, 1_000)
    assert len(got) == len(set(got)) == N
    cuts = [store.sizes[k * 1_000 - 1] for k in range(1, N // 1_000 + 1)]
    assert max(cuts) < 2_000, cuts  # each run's last commit: compact, whatever the pass had delivered


def test_a_resumed_pass_that_finds_the_list_out_of_order_drops_the_position_and_loses_nothing(big, sleeps, caplog):
    store = SizeRecordingStore()
    first = _drain_once(big, sleeps, store, 1_000)
    stored = store.load()
    assert stored is not None and stored.checkpoint.pending is not None  # compact: the position
    recorded = {i for i, _, _ in stored.checkpoint.seen}  # the overlap window's changes: in the record
    assert recorded <= set(first) and len(recorded) < 100
    big.faults.unordered_lists(seed=9)
    try:
        rest = _drain(big, sleeps, store, 100_000, every=50)  # under the record a commit costs O(pass)
    finally:
        big.faults.unordered_lists(False)
    # The position is not trusted: the window is listed again and everything the record does not hold arrives
    # once in this run, including what the cut-short run delivered above the position (at-least-once).
    assert len(rest) == len(set(rest)) == N - len(recorded)
    assert set(rest) | recorded == set(rest) | set(first) and len(set(rest) | set(first)) == N
    assert "not trusted" in caplog.text


def _drain_once(emu, sleeps, store, limit):
    with connector_on(emu, sleeps) as c:
        run = iter(c.incidents().since(store).clock(emu.clock.now).page(500).max_items(limit))
        got = []
        for item in run:
            got.append(item.id)
            item.commit()
        assert run.stopped_early
        return got
