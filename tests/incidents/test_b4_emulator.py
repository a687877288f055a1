"""Case B4 end to end on the emulator: Graph ``/security/incidents`` and ``/security/alerts_v2`` reject
``$top + $skip`` above 6,000, so ``DefenderIncidents`` restarts with a ``lastUpdateDateTime ge`` cursor before it
crosses the limit. Backlogs of 7,000 (bulk-created through ``emu.incident_control()``), default page size (50)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from m365sentinel._errors import InvalidInputError, SerializationError
from m365sentinel.emulator import Emulator, IncidentControl
from m365sentinel.models._time import parse_datetime

from .conftest import NOW, connector_on

LIMIT = 6000
FILTER = "lastUpdateDateTime ge "


@pytest.fixture
def bare():
    """An emulator without the generated dataset: the Defender incidents are exactly the ones a test creates."""
    e = Emulator(now=NOW, seed=11, dataset=False)
    yield e
    e.close()


@pytest.fixture
def defender(bare, sleeps):
    with connector_on(bare, sleeps) as c:
        yield c.incidents().clock(bare.clock.now).defender()


def ground_truth(emu, names):
    """(Graph id, lastModifiedTimeUtc) of the created incidents in the list's order: ascending time, then id."""
    stored = emu._core.ws.incidents  # read in place: 7,000 copies through ctl.incident() would cost ~0.5 s
    rows = [
        (p["providerIncidentId"], parse_datetime(p["lastModifiedTimeUtc"]))
        for p in (stored[n.lower()]["properties"] for n in names)
    ]
    return sorted(rows, key=lambda row: (row[1], row[0]))


def list_queries(emu, collection):
    return [r.query for r in emu.requests if r.method == "GET" and r.path == f"/v1.0/security/{collection}"]


def restarts(queries):
    """The cursor of each first request of a window (no ``$skip``), after the first window."""
    firsts = [q for q in queries if "$skip" not in q]
    assert "$filter" not in firsts[0]  # the first window reads from the start
    assert all(q["$filter"].startswith(FILTER) for q in firsts[1:])
    return [parse_datetime(q["$filter"].removeprefix(FILTER)) for q in firsts[1:]]


def assert_within_limit(queries, *, expand):
    assert queries
    for q in queries:
        assert int(q["$top"]) + int(q.get("$skip", "0")) <= LIMIT, q
        assert q["$top"] == "50" and q["$orderby"] == "lastUpdateDateTime asc", q
        assert q.get("$expand") == ("alerts" if expand else None), q
    # Each window pages up to the last $skip the limit allows, then the cursor takes over.
    assert max(int(q.get("$skip", "0")) for q in queries) == LIMIT - 50


def test_B4_defender_incidents_backlog_of_7000_with_alerts_switches_to_a_cursor(bare, defender):
    names = bare.incident_control().create_incidents(7000, alerts=1)
    truth = ground_truth(bare, names)
    assert len({t for _, t in truth}) == 7000  # one second apart: no ties here

    got = list(defender.incidents(with_alerts=True))

    assert len(got) == 7000
    assert [g.id for g in got] == [i for i, _ in truth]  # every id exactly once, in the list's order
    times = [g.last_update_date_time for g in got]
    assert times == sorted(times) and times == [t for _, t in truth]
    assert all(len(g.alerts) == 1 and g.alerts[0].incident_id == g.id for g in got)

    queries = list_queries(bare, "incidents")
    assert_within_limit(queries, expand=True)
    # 120 pages of 50 (skip 0..5950), then one restart from item 6,000's time: 1,001 items in 21 pages.
    assert restarts(queries) == [truth[5999][1]]
    assert len(queries) == 120 + 21
    assert [q.get("$skip", "0") for q in queries[120:]] == [str(50 * k) for k in range(21)]


def test_B4_alerts_v2_backlog_of_7000_switches_to_a_cursor(bare, defender):
    names = bare.incident_control().create_incidents(7000, alerts=1)
    truth = ground_truth(bare, names)

    got = list(defender.alerts())

    assert len(got) == 7000 and len({a.id for a in got}) == 7000
    assert [a.incident_id for a in got] == [i for i, _ in truth]
    times = [a.last_update_date_time for a in got]
    assert times == sorted(times) and times == [t for _, t in truth]

    queries = list_queries(bare, "alerts_v2")
    assert_within_limit(queries, expand=False)
    assert restarts(queries) == [truth[5999][1]]
    assert len(queries) == 120 + 21


def test_B4_ties_across_the_switch_boundary_are_neither_lost_nor_duplicated(bare, defender):
    ctl = bare.incident_control()
    names = ctl.create_incidents(5900)  # items 0..5899, one second apart
    bare.advance(timedelta(hours=1))
    tied = ctl.create_incidents(300, spacing=timedelta(0))  # items 5900..6199 share one time; 5999 is the last
    bare.advance(timedelta(hours=1))  # of the first window, so 100 ties come before the switch and 200 after
    names += tied + ctl.create_incidents(800)
    truth = ground_truth(bare, names)
    tie_time = truth[5900][1]
    assert [t for _, t in truth[5900:6200]] == [tie_time] * 300 and truth[6200][1] > tie_time > truth[5899][1]

    got = list(defender.incidents(with_alerts=True))

    assert len(got) == 7000 and len({g.id for g in got}) == 7000
    assert [g.id for g in got] == [i for i, _ in truth]
    queries = list_queries(bare, "incidents")
    assert_within_limit(queries, expand=True)
    # The restart re-reads the 100 ties already yielded (skipped), then 200 more ties and 800 newer: 22 pages.
    assert restarts(queries) == [tie_time]
    assert len(queries) == 120 + 22


def test_B4_largest_tie_group_a_window_can_hold_is_read_whole(bare, defender):
    ctl = bare.incident_control()
    names = ctl.create_incidents(1)
    bare.advance(timedelta(hours=1))
    names += ctl.create_incidents(5999, spacing=timedelta(0))  # items 1..5999: all but one of the first window
    bare.advance(timedelta(hours=1))
    names += ctl.create_incidents(1000)
    truth = ground_truth(bare, names)

    got = list(defender.incidents())

    assert [g.id for g in got] == [i for i, _ in truth] and len(set(g.id for g in got)) == 7000
    queries = list_queries(bare, "incidents")
    assert_within_limit(queries, expand=False)
    # Window 2 (from the tie) holds the 5,999 ties again plus item 6,000; window 3 starts at item 6,000.
    assert restarts(queries) == [truth[1][1], truth[6000][1]]
    assert len(queries) == 120 + 120 + 20


def test_B4_a_tie_group_filling_a_whole_window_raises_instead_of_losing_items(bare, defender):
    ctl = bare.incident_control()
    names = ctl.create_incidents(1)
    bare.advance(timedelta(hours=1))
    names += ctl.create_incidents(6000, spacing=timedelta(0))  # items 1..6000: one whole window of 50 x 120
    bare.advance(timedelta(hours=1))
    names += ctl.create_incidents(999)
    truth = ground_truth(bare, names)

    got = []
    with pytest.raises(SerializationError) as err:
        got.extend(g.id for g in defender.incidents())

    # Everything up to the end of the tie group was yielded once; the rest cannot be reached by $skip or `ge`.
    assert got == [i for i, _ in truth[:6001]]
    assert str(err.value) == (
        f"Graph incidents: 6000 or more items share lastUpdateDateTime {truth[1][1]}, as many as one "
        "$top + $skip window holds (limit 6000); cannot page on"
    )
    queries = list_queries(bare, "incidents")
    assert_within_limit(queries, expand=False)
    assert restarts(queries) == [truth[1][1]] and len(queries) == 240


def test_incident_control_is_one_public_instance_and_checks_bulk_inputs(bare):
    ctl = bare.incident_control()
    assert isinstance(ctl, IncidentControl) and bare.incident_control() is ctl
    with pytest.raises(InvalidInputError, match=r"count=-1: expected a non-negative integer"):
        ctl.create_incidents(-1)
    with pytest.raises(InvalidInputError, match=r"alerts=-2: expected a non-negative integer"):
        ctl.create_incidents(3, alerts=-2)
    with pytest.raises(InvalidInputError, match=r"spacing=datetime.timedelta\(days=-1, seconds=86399\)"):
        ctl.create_incidents(3, spacing=timedelta(seconds=-1))
    assert ctl.create_incidents(0) == []
    names = ctl.create_incidents(3, spacing=timedelta(minutes=1), alerts=2)
    stored = [ctl.incident(n)["properties"] for n in names]
    assert [p["lastModifiedTimeUtc"] for p in stored] == [
        "2025-11-20T11:58:00Z",
        "2025-11-20T11:59:00Z",
        "2025-11-20T12:00:00Z",
    ]
    assert [len(bare._core.ws.incident_alert_resources(n)) for n in names] == [2, 2, 2]
