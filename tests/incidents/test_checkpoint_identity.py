"""Checkpoint identity and validation at stream start (issue 10): a foreign checkpoint, one whose watermark lies
ahead of the service's clock, or one written under other filters is refused with CheckpointError before any item
is handed over (on main: 0 of 30 delivered, no error)."""

from __future__ import annotations

import json
import pickle
import re
from datetime import timedelta

import pytest

from m365sentinel import CheckpointConflictError, CheckpointError, SentinelError
from m365sentinel._incidents import Checkpoint, FileCheckpointStore, MemoryCheckpointStore
from m365sentinel._incidents._checkpoint import CLOCK_TOLERANCE, CheckpointIdentity, stream_identity

from .conftest import NOW, WS, incident

OTHER_WS = WS.replace("myWorkspace", "otherWorkspace")
DATE = "Thu, 20 Nov 2025 12:00:00 GMT"  # == NOW


def _stream(emu, connector):
    return connector.incidents().clock(emu.clock.now).provider(None)


def _thirty(emu, ctl):
    emu.advance(timedelta(hours=1))
    return set(ctl.create_incidents(30))


def _identity_of(stream, **changes):
    ident = stream.identity()
    return CheckpointIdentity(**{"workspace": ident.workspace, "kind": ident.kind, "filters": ident.filters, **changes})


def test_a_checkpoint_from_another_workspace_is_refused_before_any_request(emu, ctl, emu_connector):
    _thirty(emu, ctl)
    stream = _stream(emu, emu_connector)
    foreign = Checkpoint(
        watermark=emu.clock.now() - timedelta(minutes=30), identity=_identity_of(stream, workspace=OTHER_WS)
    )
    store = MemoryCheckpointStore()
    store.compare_and_swap(None, foreign)
    before = len(emu.requests)
    with pytest.raises(
        CheckpointError, match=r"belongs to workspace .*otherWorkspace, this stream reads .*law-sentinel"
    ):
        list(stream.since(store))
    assert len(emu.requests) == before  # refused before anything was listed
    with pytest.raises(CheckpointError, match="otherWorkspace"):
        list(stream.since(foreign))


def test_the_workspace_is_compared_case_insensitively(emu, ctl, emu_connector):
    names = _thirty(emu, ctl)
    stream = _stream(emu, emu_connector)
    upper = Checkpoint(identity=_identity_of(stream, workspace=emu.workspace_resource_id.upper()))
    assert names <= {i.id for i in stream.since(upper)}


def test_another_stream_kind_is_refused(emu, emu_connector):
    stream = _stream(emu, emu_connector)
    graph = Checkpoint(identity=_identity_of(stream, kind="graph/alerts"))
    with pytest.raises(CheckpointError, match="belongs to a graph/alerts stream, this stream is arm/incidents"):
        iter(stream.since(graph))


def test_a_watermark_in_the_future_of_the_service_clock_is_refused_before_any_item(emu, ctl, emu_connector):
    _thirty(emu, ctl)
    stream = _stream(emu, emu_connector)
    ahead = Checkpoint(watermark=emu.clock.now() + timedelta(hours=1))
    got = []
    with pytest.raises(CheckpointError, match=r"watermark .* is ahead of the service's clock"):
        got.extend(stream.since(ahead))
    assert got == []


def test_a_future_next_watermark_of_a_cut_short_pass_is_refused(emu, emu_connector):
    from m365sentinel._incidents._checkpoint import PendingPass

    now = emu.clock.now()
    cp = Checkpoint(watermark=now - timedelta(hours=1), pending=PendingPass(now, ("x",), now + timedelta(hours=2)))
    with pytest.raises(CheckpointError, match="next watermark of its cut-short pass"):
        list(_stream(emu, emu_connector).since(cp))


def test_the_clock_check_uses_the_date_header_with_a_2s_tolerance(httpx_mock, connector):
    assert timedelta(seconds=2) == CLOCK_TOLERANCE
    # The host clock is an hour ahead; only the service's Date says where "now" is.
    host = connector.incidents().provider(None).clock(lambda: NOW + timedelta(hours=1))
    httpx_mock.add_response(json={"value": []}, headers={"Date": DATE}, is_reusable=True)
    assert [i.id for i in host.since(NOW + CLOCK_TOLERANCE)] == []  # at the tolerance: accepted
    with pytest.raises(
        CheckpointError,
        match=r"2025-11-20T12:00:03.0000000Z is ahead .* \(2025-11-20T12:00:00.0000000Z, tolerance 2 s\)",
    ):
        list(host.since(NOW + timedelta(seconds=3)))


def test_without_a_date_header_the_local_clock_is_the_reference(httpx_mock, connector):
    httpx_mock.add_response(json={"value": [incident("a", "2025-11-20T11:59:00Z")]})
    with pytest.raises(CheckpointError, match="ahead of the service's clock"):
        list(connector.incidents().provider(None).clock(lambda: NOW).since(NOW + timedelta(minutes=1)))


def test_other_filters_are_refused_unless_reuse_is_explicit(emu, ctl, emu_connector, tmp_path):
    stream = _stream(emu, emu_connector)
    store = FileCheckpointStore(tmp_path / "cp.json")
    for item in stream.severity("High").since(store):
        item.commit()
    written = json.loads((tmp_path / "cp.json").read_text())["checkpoint"]
    assert written["identity"]["filters"]["severities"] == ["High"]
    wider = stream.severity("High", "Medium")
    with pytest.raises(
        CheckpointError, match=r"other filters \(severities: \['High'\] then, \['High', 'Medium'\] now\)"
    ):
        iter(wider.since(store))
    names = _thirty(emu, ctl)  # created after the watermark: delivered by the new filters
    medium = {n for n in names if ctl.incident(n)["properties"]["severity"] in ("High", "Medium")}
    got = set()
    for item in wider.since(store, reuse_filters=True):
        got.add(item.id)
        item.commit()
    assert medium <= got
    after = json.loads((tmp_path / "cp.json").read_text())["checkpoint"]
    assert after["identity"]["filters"]["severities"] == ["High", "Medium"]  # adopted at the first commit
    assert list(wider.since(store)) == []  # the same stream now resumes without reuse


def test_reuse_drops_a_cut_short_pass_so_nothing_after_the_watermark_is_skipped():
    old = stream_identity(WS, "arm/incidents", {"severities": ["High"]})
    new = stream_identity(WS, "arm/incidents", {"severities": ["High", "Medium"]})
    from m365sentinel._incidents._checkpoint import PendingPass

    cp = Checkpoint(watermark=NOW, pending=PendingPass(NOW + timedelta(minutes=9), ("a",), NOW), identity=old)
    assert cp.for_stream(new, reuse_filters=True) == Checkpoint(watermark=NOW, identity=new)
    assert cp.for_stream(old) is cp


def test_a_checkpoint_written_by_main_without_identity_is_adopted(emu, ctl, emu_connector, tmp_path, caplog):
    path = tmp_path / "cp.json"
    v1 = {"v": 1, "watermark": "2025-11-20T11:00:00.0000000Z", "seen": [], "pass": None}  # main's exact form
    path.write_text(json.dumps({"version": 3, "checkpoint": v1}))
    names = _thirty(emu, ctl)
    stream = _stream(emu, emu_connector)
    got = set()
    with caplog.at_level("INFO", logger="m365sentinel"):
        for item in stream.since(FileCheckpointStore(path)):
            got.add(item.id)
            item.commit()
    assert names <= got
    assert "the stored checkpoint has no identity (format 1): adopted" in caplog.text
    doc = json.loads(path.read_text())
    assert doc["version"] > 3 and doc["checkpoint"]["v"] == 2
    assert doc["checkpoint"]["identity"] == {**stream.identity().to_json(), "workspace": emu.workspace_resource_id}


def test_the_default_providers_are_recorded_by_name_so_a_new_provider_list_keeps_the_identity(emu_connector):
    filters = emu_connector.incidents().identity().to_json()["filters"]
    assert filters["providers"] == "defender-xdr"
    assert emu_connector.incidents().provider("X", "y").identity().to_json()["filters"]["providers"] == ["x", "y"]


def test_a_store_returning_something_else_is_a_checkpoint_error(emu, emu_connector):
    class Broken:
        def load(self):
            return {"watermark": None}

        def compare_and_swap(self, expected_version, checkpoint):
            raise AssertionError("never reached")

    with pytest.raises(CheckpointError, match=re.escape("Broken.load() returned {'watermark': None}")):
        iter(_stream(emu, emu_connector).since(Broken()))


@pytest.mark.parametrize("version", [3, 0, True, 1.0, "1", None])
def test_unknown_checkpoint_version_names_it(version):
    with pytest.raises(SentinelError, match=rf"unknown checkpoint version {re.escape(repr(version))} .*reads 1 and 2"):
        Checkpoint.from_json({"v": version, "watermark": None, "seen": [], "pass": None})


def test_checkpoint_errors_pickle_with_their_fields_and_conflict_is_a_checkpoint_error():
    err = pickle.loads(pickle.dumps(CheckpointError("bad", path="/tmp/x.json")))
    assert (type(err), str(err), err.path) == (CheckpointError, "bad", "/tmp/x.json")
    c = pickle.loads(pickle.dumps(CheckpointConflictError("moved", expected="1", actual="2", path="p")))
    assert (str(c), c.expected, c.actual, c.path) == ("moved", "1", "2", "p")
    assert issubclass(CheckpointConflictError, CheckpointError) and issubclass(CheckpointError, SentinelError)
