"""The pass's record of delivered changes (``_seen.SeenMap``): a packed log and index that must behave exactly like
a dict of id -> newest change, with past states replayable, whatever the ids and etags look like."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from m365sentinel._errors import SerializationError
from m365sentinel._incidents import _seen
from m365sentinel._incidents._seen import SeenMap

GUID = "0d00a3b2-0000-0d00-0000-64b5a0c40000"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)

# Every form the log holds differently: canonical GUIDs (packed), near-GUIDs (text), numeric Graph ids, lone
# surrogates (JSON can carry them), the empty string, and text long enough to need a chunk of its own.
IDS = st.sampled_from(
    [
        GUID,
        GUID.replace("0d00", "1e11"),
        GUID.upper(),
        GUID[:-1] + "x",
        GUID[:35] + " ",
        "00000000-0000-0000-0000-000000000000",
        "12345",
        "",
        "a\ud800b",
        "é" * 36,
        "k" * 70_000,
    ]
)
ETAGS = st.one_of(
    st.none(),
    st.sampled_from([f'"{GUID}"', f'"{GUID.upper()}"', GUID, f'W/"{GUID}"', '"1"', "", "\udfff"]),
)
TIMES = st.integers(min_value=0, max_value=315_537_897_599_999_999).map(  # 0001-01-01 to 9999-12-31, in us
    lambda us: datetime(1, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(IDS, TIMES, ETAGS, st.booleans()), max_size=40))
def test_the_seen_map_behaves_as_a_dict_of_newest_changes_with_replayable_marks(ops):
    seen, model = SeenMap(), {}
    marks = []
    for incident_id, modified, etag, mark in ops:
        assert seen.get(incident_id) == model.get(incident_id)
        seen.put(incident_id, modified, etag)
        model[incident_id] = (modified, etag)
        assert seen.get(incident_id) == (modified, etag) and len(seen) == len(model)
        if mark:
            marks.append((seen.mark(), dict(model)))
    for mark, then in marks:
        assert seen.as_of(mark) == tuple((i, t, e) for i, (t, e) in then.items())
    assert sorted(seen.items()) == sorted((i, t, e) for i, (t, e) in model.items())
    since = T0
    assert sorted(seen.items(since=since)) == sorted((i, t, e) for i, (t, e) in model.items() if t >= since)


def test_a_hundred_thousand_guid_changes_fill_chunks_and_grow_the_index_without_losing_one():
    seen = SeenMap()
    ids = [f"{k:08x}-0000-4000-8000-{k:012x}" for k in range(100_000)]
    marks = {}
    for k, incident_id in enumerate(ids):
        seen.put(incident_id, T0 + timedelta(microseconds=k), f'"{ids[-1 - k]}"')
        if k in (1597, 1598, 50_000):  # 1,598 records of 41 bytes fill the first 64 KiB chunk
            marks[k] = seen.mark()
    assert len(seen._chunks) == 100_000 // (65_536 // 41) + 1 and len(seen) == 100_000
    assert all(seen.get(i) == (T0 + timedelta(microseconds=k), f'"{ids[-1 - k]}"') for k, i in enumerate(ids))
    for k, mark in marks.items():
        assert [c[0] for c in seen.as_of(mark)] == ids[: k + 1]
    seen.put(ids[7], T0, None)  # an overwrite: the newest change is read, the old one stays in the log's past
    assert seen.get(ids[7]) == (T0, None) and len(seen) == 100_000
    assert seen.as_of(marks[50_000])[7] == (ids[7], T0 + timedelta(microseconds=7), f'"{ids[-8]}"')
    assert list(seen.items(since=T0 + timedelta(microseconds=99_998))) == [
        (ids[99_998], T0 + timedelta(microseconds=99_998), f'"{ids[1]}"'),
        (ids[99_999], T0 + timedelta(microseconds=99_999), f'"{ids[0]}"'),
    ]


def test_past_2_to_the_24_slots_the_index_rehashes_ids_read_back_from_the_log(monkeypatch):
    # Tags are the hash's low 24 bits; with 8-bit tags the same code path runs at 512 slots.
    monkeypatch.setattr(_seen, "_TAG_MASK", 0xFF)
    seen = SeenMap()
    ids = [f"id-{k}" if k % 2 else f"{k:08x}-0000-4000-8000-{k:012x}" for k in range(5_000)]
    for k, incident_id in enumerate(ids):
        seen.put(incident_id, T0, None if k % 3 else f'"{k}"')
    assert len(seen._index) == 8_192
    assert all(seen.get(i) == (T0, None if k % 3 else f'"{k}"') for k, i in enumerate(ids))
    assert seen.get("id-0") is None


def test_a_change_too_large_to_hold_is_a_typed_error_and_nothing_is_recorded():
    seen = SeenMap()
    with pytest.raises(SerializationError, match="at most 4 MiB"):
        seen.put("x" * (1 << 22), T0, None)
    assert len(seen) == 0 and seen.get("x" * (1 << 22)) is None and seen.as_of(seen.mark()) == ()
