"""IncidentStream options: max_items at the exact end, independent alert/entity sources, a store's initial start,
reconcile inputs, repr, and checkpoints that name their zone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from m365sentinel._errors import InvalidInputError
from m365sentinel._incidents import Checkpoint, MemoryCheckpointStore

from .conftest import NOW, incident
from .test_http_cases import LIST, stream


def test_max_items_equal_to_what_is_left_completes_the_pass(httpx_mock, connector):
    httpx_mock.add_response(
        url=LIST,
        headers={"Date": "Thu, 20 Nov 2025 12:00:00 GMT"},
        json={"value": [incident("a", "2025-11-20T11:00:00Z"), incident("b", "2025-11-20T10:00:00Z")]},
    )
    store = MemoryCheckpointStore()
    run = iter(stream(connector).provider(None).max_items(2).since(store))
    for item in run:
        item.commit()
    assert (run.stopped_early, run.delivered) == (False, 2)
    assert run.checkpoint.pending is None and run.checkpoint.watermark == NOW - timedelta(minutes=5)
    assert store.load().checkpoint == run.checkpoint  # the pass-end checkpoint was committed


def test_max_items_with_more_on_the_page_is_cut_short(httpx_mock, connector):
    httpx_mock.add_response(url=LIST, json={"value": [incident(n, "2025-11-20T11:00:00Z") for n in "abc"]})
    run = iter(stream(connector).provider(None).max_items(2))
    assert [i.id for i in run] == ["a", "b"]
    assert run.stopped_early is True and [i for i, _, _ in run.checkpoint.seen] == ["a", "b"]
    assert run.checkpoint.watermark is None  # a cut-short pass does not move the watermark


def test_alerts_and_entities_keep_their_own_source(emu, emu_connector):
    items = list(
        emu_connector.incidents()
        .clock(emu.clock.now)
        .with_alerts(source="per_incident")
        .with_entities()  # the bulk default, not the alerts' per-incident source
        .max_items(3)
    )
    paths = [r.path for r in emu.requests]
    assert sum(p.endswith("/alerts") for p in paths) == 3
    assert sum(p.endswith("/entities") for p in paths) == 0
    assert sum(p.endswith("/query") for p in paths) == 1
    assert all(i.alerts is not None and i.entities is not None for i in items)
    only_entities = list(
        emu_connector.incidents().clock(emu.clock.now).with_entities(source="per_incident").max_items(2)
    )
    assert all(i.alerts is None and i.entities is not None for i in only_entities)
    assert sum(r.path.endswith("/entities") for r in emu.requests) == 2


def test_a_store_with_no_checkpoint_starts_at_initial(httpx_mock, connector):
    httpx_mock.add_response(headers={"Date": "Thu, 20 Nov 2025 12:00:00 GMT"}, json={"value": []})
    store = MemoryCheckpointStore()
    list(stream(connector).provider(None).since(store, initial=NOW - timedelta(days=1)))
    (request,) = httpx_mock.get_requests()
    assert "lastModifiedTimeUtc%20ge%202025-11-19T12:00:00.0000000Z" in str(request.url)
    assert store.load().checkpoint.watermark == NOW - timedelta(minutes=5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.since(Checkpoint(), initial=NOW), "applies to a CheckpointStore only"),
        (lambda s: s.since(MemoryCheckpointStore(), initial=NOW.replace(tzinfo=None)), "aware datetime"),
        (lambda s: s.reconcile(repair="no"), "repair='no': expected True or False"),
        (lambda s: s.reconcile(grace=15), "grace=15: expected a non-negative timedelta"),
    ],
)
def test_bad_options_are_refused_before_any_request(httpx_mock, connector, call, message):
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(")):
        call(stream(connector))
    assert httpx_mock.get_requests() == []


def test_repr_shows_the_query_not_the_session_or_clock(connector):
    text = repr(stream(connector).severity("High").max_items(5))
    assert text.startswith("IncidentStream(filters=Filters(providers=(")
    assert "severities=('High',)" in text and "limit=5" in text
    assert "session" not in text and "clock" not in text and "token" not in text.lower()


@pytest.mark.parametrize("field", ["watermark", "upper", "seen"])
def test_a_checkpoint_time_without_a_zone_is_refused(field):
    doc = {"v": 1, "watermark": "2025-11-20T11:55:00Z", "seen": [], "pass": None}
    naive = "2025-11-20T11:55:00"
    if field == "watermark":
        doc["watermark"] = naive
    elif field == "upper":
        doc["pass"] = {"upper": naive, "upper_ids": [], "next_watermark": "2025-11-20T11:55:00Z"}
    else:
        doc["seen"] = [["i1", naive, None]]
    with pytest.raises(InvalidInputError, match="'2025-11-20T11:55:00' is not a timestamp with a zone"):
        Checkpoint.from_json(doc)


def test_checkpoint_times_with_an_offset_are_read_as_utc():
    cp = Checkpoint.from_json({"v": 1, "watermark": "2025-11-20T12:55:00+01:00", "seen": [], "pass": None})
    assert cp.watermark == NOW - timedelta(minutes=5)


def test_max_items_within_the_first_page_prefetches_nothing(httpx_mock, connector):
    nxt = LIST + "&$skipToken=2"  # registered nowhere: requesting it would fail this test
    httpx_mock.add_response(
        url=LIST,
        json={"value": [incident(n, "2025-11-20T11:00:00Z") for n in "abcd"], "nextLink": nxt},
    )
    run = iter(stream(connector).provider(None).max_items(3))
    assert [i.id for i in run] == ["a", "b", "c"] and run.stopped_early
    assert len(httpx_mock.get_requests()) == 1


def test_prefetch_option_is_a_bool(connector):
    assert stream(connector).prefetch(False).prefetch_ is False
    with pytest.raises(InvalidInputError, match="prefetch='no': expected True or False"):
        stream(connector).prefetch("no")


def test_with_and_without_prefetch_the_same_items_and_checkpoint(emu, emu_connector):
    emu.state.page_size = 7
    runs = []
    for enabled in (True, False):
        run = iter(emu_connector.incidents().clock(emu.clock.now).page(7).prefetch(enabled))
        runs.append(([i.id for i in run], run.checkpoint.to_json()))
    assert runs[0] == runs[1]
    assert len(runs[0][0]) == len(set(runs[0][0])) == 42  # the seeded Defender incidents, each once


def test_run_checkpoint_does_not_cover_an_item_whose_handler_raised(httpx_mock, connector):
    httpx_mock.add_response(
        url=LIST, json={"value": [incident(n, f"2025-11-20T11:0{4 - k}:00Z") for k, n in enumerate("edcba")]}
    )
    run = iter(stream(connector).provider(None))
    with pytest.raises(RuntimeError):
        for item in run:
            if item.id == "c":
                raise RuntimeError("handler failed")
    assert sorted(i for i, _, _ in run.checkpoint.seen) == ["d", "e"]  # e and d were handled; c was not
    httpx_mock.add_response(
        url=LIST, json={"value": [incident(n, f"2025-11-20T11:0{4 - k}:00Z") for k, n in enumerate("edcba")]}
    )
    assert [i.id for i in stream(connector).provider(None).since(run.checkpoint)] == ["c", "b", "a"]


def test_follow_honours_stop_between_items(httpx_mock, connector):
    import threading

    httpx_mock.add_response(url=LIST, json={"value": [incident(n, "2025-11-20T11:00:00Z") for n in "abc"]})
    stop = threading.Event()
    got = []
    for item in stream(connector).provider(None).follow(interval=0, stop=stop):
        got.append(item.id)
        stop.set()
    assert got == ["a"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.provider(None, "x"), "None alone means every provider"),
        (lambda s: s.lag(timedelta.max), "expected a timedelta from 0 to 7 days"),
        (lambda s: s.owner(["kai@contoso.com"]), "owner: expected non-empty strings"),
        (lambda s: s.labels({"x"}), "label: expected non-empty strings"),
        (lambda s: s.owner("kai\n@contoso.com"), "contains a control character"),
        (lambda s: s.follow(interval=float("nan")), "interval=nan: expected a finite number"),
        (lambda s: s.follow(interval=True), "interval=True"),
        (lambda s: s.follow(stop="yes"), "stop='yes': expected a threading.Event"),
        (lambda s: s.follow(sleep=3), "sleep=3: expected a callable"),
        (lambda s: s.since(MemoryCheckpointStore(), initial="2026-01-01"), "initial='2026-01-01': expected a"),
    ],
)
def test_more_bad_options_are_refused_at_the_call(httpx_mock, connector, call, message):
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(")):
        call(stream(connector))
    assert httpx_mock.get_requests() == []


def test_checkpoint_stores_refuse_a_path_that_is_not_one():
    from m365sentinel._incidents import FileCheckpointStore, SQLiteCheckpointStore

    with pytest.raises(InvalidInputError, match="checkpoint path 5: expected a file path"):
        FileCheckpointStore(5)
    with pytest.raises(InvalidInputError, match="database None: expected a file path"):
        SQLiteCheckpointStore(None)
