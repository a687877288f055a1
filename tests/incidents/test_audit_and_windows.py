"""The pure parts of the order-free rules: the completeness audit's reconciliation (``_audit``) and a Graph
listing's time window (``_graph.ListWindow``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from m365sentinel._errors import SerializationError
from m365sentinel._incidents._audit import audit_kql, reconcile_audit
from m365sentinel._incidents._filters import Filters
from m365sentinel._incidents._graph import ListWindow

from .conftest import NOW


def at(minutes: float):
    return NOW + timedelta(minutes=minutes)


def row(name, modified, provider="Microsoft 365 Defender", created=None):
    return {"IncidentName": name, "LastModifiedTime": modified, "ProviderName": provider, "CreatedTime": created}


def test_audit_query_asks_for_the_newest_change_per_incident_in_the_window():
    assert audit_kql(at(0), at(5)) == (
        "SecurityIncident\n"
        "| where LastModifiedTime >= datetime(2025-11-20T12:00:00.0000000Z) and "
        "LastModifiedTime < datetime(2025-11-20T12:05:00.0000000Z)\n"
        "| summarize arg_max(LastModifiedTime, ProviderName, CreatedTime) by IncidentName\n"
        "| project IncidentName, LastModifiedTime, ProviderName, CreatedTime"
    )
    assert "LastModifiedTime >=" not in audit_kql(None, at(5))


def test_audit_finds_what_the_list_did_not_serve_and_rechecks_every_bound():
    filters = Filters(providers=("Microsoft 365 Defender",), created=(at(-100), None))
    rows = [
        row("Served", at(1)),
        row("Stale", at(2)),  # served only in an older state
        row("Hidden", at(3)),  # never served: a page shift hid it
        row("Other", at(3), provider="Azure Sentinel"),  # not this stream's provider
        row("Old", at(3), created=at(-200)),  # created before the stream's window
        row("Before", at(-1)),  # outside the window although the query asked for it
        row("After", at(5)),
    ]
    served = {"served": at(1), "stale": at(1.5), "late": at(4)}
    result = reconcile_audit(rows, served, filters, at(0), at(5))
    assert result.missing == ("Stale", "Hidden")
    assert result.unproven == 1  # "late" was served inside the window, but the audit source has no row for it


def test_audit_tolerates_a_source_rounding_to_milliseconds():
    served = {"a": at(1) + timedelta(microseconds=600)}
    assert reconcile_audit([row("A", at(1) + timedelta(milliseconds=1))], served, Filters(), None, at(5)).missing == ()
    assert reconcile_audit([row("A", at(1))], served, Filters(), None, at(5)).unproven == 0


def test_a_graph_window_in_order_restarts_at_its_last_update():
    w = ListWindow(at(0), None)
    assert [w.admit(at(m)) for m in (0, 1, 1, 2)] == [True] * 4
    assert w.rest("incidents", 6000, 6000) == [(at(2), None)]


def test_a_graph_window_out_of_order_splits_at_its_median_update():
    w = ListWindow(None, at(10))
    for m in (5, 1, 9, 3, 7):
        w.admit(at(m))
    assert w.admit(at(10)) is False and w.outside
    w.outside = False
    assert not w.ordered
    assert w.rest("incidents", 6000, 6000) == [(None, at(5)), (at(5), at(10))]


def test_a_graph_window_that_cannot_progress_raises():
    same = ListWindow(at(0), None)
    same.admit(at(0))
    with pytest.raises(SerializationError, match="share lastUpdateDateTime"):
        same.rest("alerts_v2", 6000, 6000)
    ignored = ListWindow(at(0), None)
    ignored.admit(at(-1))
    with pytest.raises(SerializationError, match="ignores \\$filter"):
        ignored.rest("incidents", 6000, 6000)
    untimed = ListWindow(None, None)
    untimed.admit(None)
    with pytest.raises(SerializationError, match="no lastUpdateDateTime"):
        untimed.rest("incidents", 6000, 6000)
