"""Parity of the two faces for bad input: the same call with the same bad value raises the same error type with
the same message on ``m365sentinel`` and ``m365sentinel.aio``, before any request."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest

import m365sentinel as ms
from bench.faces import Face
from m365sentinel.emulator import Emulator

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)

BAD_CALLS = {
    "Connector(workspace)": lambda f, e: f.connector("not-a-workspace", emu=e),
    "Connector(tenant_id)": lambda f, e: f.connector(e.workspace_resource_id, emu=e, tenant_id="x"),
    "Connector(cloud)": lambda f, e: f.connector(e.workspace_resource_id, emu=e, cloud="Mars"),
    "Connector(timeout)": lambda f, e: f.connector(e.workspace_resource_id, emu=e, timeout=-1),
    "Connector(retry)": lambda f, e: f.connector(e.workspace_resource_id, emu=e, retry="x"),
    "Connector(sleep)": lambda f, e: f.connector(e.workspace_resource_id, emu=e, sleep=3),
    "Session(timeout)": lambda f, e: f.session(emu=e, timeout=0),
    "Session.connector(workspace)": lambda f, e: f.session(emu=e).connector("x/y"),
    "query(query)": lambda f, e: _c(f, e).query(""),
    "query(type)": lambda f, e: _c(f, e).query(123),
    "query(timespan)": lambda f, e: _c(f, e).query("print 1", timespan="P-1D"),
    "run_hunting_query(timespan)": lambda f, e: _c(f, e).run_hunting_query("print 1", timespan=timedelta(days=-1)),
    "verify(days)": lambda f, e: _c(f, e).verify(days=0),
    "list_rule_templates(connector_id)": lambda f, e: _c(f, e).list_rule_templates(connector_id=5),
    "events(tables).plan()": lambda f, e: _c(f, e).events("NoSuchTable").plan(),
    "analytics_rules(rules).plan()": lambda f, e: _c(f, e).analytics_rules("name: x").plan(),
    "incidents().page(size)": lambda f, e: _c(f, e).incidents().page(0),
    "incidents().since(checkpoint)": lambda f, e: list(_c(f, e).incidents().since("nope")),
    "incidents().severity(values)": lambda f, e: _c(f, e).incidents().severity("Huge"),
    "incidents().follow(interval)": lambda f, e: _c(f, e).incidents().follow(interval=-1),
    "incidents().reconcile(grace)": lambda f, e: _c(f, e).incidents().reconcile(grace=timedelta(days=-1)),
    "incidents().get(id).get()": lambda f, e: _c(f, e).incidents().get("../x").get(),
    "IncidentHandle.update(severity)": lambda f, e: _h(f, e).update(severity="Huge"),
    "IncidentHandle.update(owner)": lambda f, e: _h(f, e).update(owner=5),
    "IncidentHandle.close(classification)": lambda f, e: _h(f, e).close(classification="Maybe"),
    "IncidentHandle.add_comment(message)": lambda f, e: _h(f, e).add_comment(""),
    "DefenderIncidents.get(incident_id)": lambda f, e: _c(f, e).incidents().defender().get("a/b"),
    "DefenderIncidents.patch(body)": lambda f, e: _c(f, e).incidents().defender().patch("1", "status=active"),
    "DefenderIncidents.incidents(since)": lambda f, e: list(_c(f, e).incidents().defender().incidents(since=1)),
}


def _c(f: Face, e: Emulator):
    return f.connector(e.workspace_resource_id, emu=e)


def _h(f: Face, e: Emulator):
    return _c(f, e).incidents().get(e.incident_control().names()[0])


def _outcome(face: str, call) -> tuple[type, str, int, str]:
    emu = Emulator(now=NOW, seed=3, incidents=3)
    f = Face(face)
    before = len(emu.requests)
    try:
        with pytest.raises(ms.SentinelError) as info:
            call(f, emu)
        exc = info.value
        return type(exc), str(exc), len(emu.requests) - before, str(pickle.loads(pickle.dumps(exc)))
    finally:
        f.close()
        emu.close()


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_bad_input_raises_the_same_invalid_input_error_on_both_faces_before_any_request(name):
    sync, async_ = (_outcome(face, BAD_CALLS[name]) for face in ("sync", "async"))
    assert sync == async_
    expected = ms.UnsupportedCloudError if name == "Connector(cloud)" else ms.InvalidInputError
    assert sync[0] is expected and sync[2] == 0 and sync[3] == sync[1]  # typed, nothing sent, pickles


def test_every_async_method_points_to_its_sync_twin_or_states_its_errors():
    """Each method the async face defines names its sync twin precisely (``m365sentinel.Cls.method``, which
    exists and is documented) or states what it raises."""
    import inspect
    import re

    from m365sentinel import aio

    vague = []
    for name in aio.__all__:
        for attr, member in vars(getattr(aio, name)).items():
            if attr.startswith("_") or not inspect.isfunction(member):
                continue
            doc = inspect.getdoc(member) or ""
            twins = [
                getattr(getattr(ms, cls, None), method, None)
                for cls, method in re.findall(r"``m365sentinel\.(\w+)\.(\w+)", doc)
            ]
            if not any(t is not None and inspect.getdoc(t) for t in twins) and "Error" not in doc:
                vague.append(f"{name}.{attr}")
    assert vague == []
