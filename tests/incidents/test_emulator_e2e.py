"""IncidentStream end to end on the emulator: cases B1, B4, B5, B6, C1, C2, D1, alerts/entities in bulk, the rate
limit, follow(), reconcile, mirroring to Defender."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from m365sentinel._errors import InvalidInputError, RateLimitedError
from m365sentinel._incidents import Checkpoint, MemoryCheckpointStore

from .conftest import NOW

BOTH_FACES = True  # every test using emu_connector runs on the sync and the async face (conftest)


def s(emu_connector, emu):
    return emu_connector.incidents().clock(emu.clock.now)


def defender_names(emu, ctl):
    return sorted(
        r["name"]
        for r in (ctl.incident(n) for n in ctl.names())
        if r["properties"]["providerName"] in ("Microsoft 365 Defender", "Microsoft XDR")
    )


def test_B1_whole_backlog_in_pages_each_incident_once(emu, emu_connector, ctl):
    emu.state.page_size = 7
    run = iter(s(emu_connector, emu).page(7))
    got = [i.id for i in run]
    assert sorted(got) == defender_names(emu, ctl) and len(got) == len(set(got))
    lists = [r for r in emu.requests if r.path.endswith("/incidents")]
    assert len(lists) == -(-len(got) // 7) or len(lists) == -(-len(got) // 7) + 1
    assert all(
        set(r.query) in ({"api-version", "$filter", "$orderby", "$top"}, {"api-version", "$skipToken"}) for r in lists
    )


def test_B5_changes_are_delivered_once_each_across_polls(emu, emu_connector, ctl):
    stream = s(emu_connector, emu)
    run = iter(stream)
    first = list(run)
    assert list(stream.since(run.checkpoint)) == []  # nothing changed: nothing again
    emu.advance(timedelta(minutes=1))
    closed = first[0].id
    ctl.modify_incident(closed, status="Closed", classification="Undetermined")
    run2 = iter(stream.since(run.checkpoint))
    assert [i.id for i in run2] == [closed]
    emu.advance(timedelta(minutes=1))
    ctl.modify_incident(closed, status="Active")  # reopened after the watermark passed it (B5a)
    run3 = iter(stream.since(run2.checkpoint))
    assert [(i.id, str(i.incident.status)) for i in run3] == [(closed, "Active")]
    assert list(stream.since(run3.checkpoint)) == []


def test_B5b_incident_visible_late_within_the_lag_is_delivered(emu, emu_connector, ctl):
    stream = s(emu_connector, emu)
    run = iter(stream)
    list(run)
    emu.advance(timedelta(minutes=2))
    early = ctl.create_incident(title="created 03:32, visible late")
    emu.advance(timedelta(minutes=1))
    hidden = ctl.incident(early["name"])
    ctl._core.ws.incidents.pop(early["name"].lower())  # not yet visible in the list API
    ctl.create_incident(title="created 03:33")
    run2 = iter(stream.since(run.checkpoint))
    assert [i.incident.title for i in run2] == ["created 03:33"]
    ctl._core.ws.incidents[early["name"].lower()] = hidden  # becomes visible 30 s later (< lag)
    emu.advance(timedelta(seconds=30))
    assert [i.incident.title for i in stream.since(run2.checkpoint)] == ["created 03:32, visible late"]


class CachingCredential:
    """Like azure-identity: caches the token and renews it 5 minutes before expiry (on the emulator's clock)."""

    def __init__(self, emu):
        self.emu = emu
        self.inner = emu.credential()
        self.cached = {}
        self.handed_out = []

    def get_token(self, *scopes, **kw):
        tok = self.cached.get(scopes)
        if tok is None or tok.expires_on - 300 <= self.emu.clock.now().timestamp():
            tok = self.cached[scopes] = self.inner.get_token(*scopes, **kw)
        self.handed_out.append(tok.token)
        return tok


def test_B6_token_expiry_mid_stream_continues_from_the_page_it_was_on(emu, ctl, sleeps):
    from m365sentinel._connector import Connector

    emu.state.page_size = 10
    cred = CachingCredential(emu)
    with Connector(emu.workspace_resource_id, credential=cred, transport=emu.transport(), sleep=sleeps) as c:
        stream = c.incidents().clock(emu.clock.now).page(10).lag(timedelta(hours=2))
        run = iter(stream)
        got = [next(run).id for _ in range(15)]
        emu.advance(timedelta(minutes=58))  # the cached token now has 2 minutes left: renewed before expiry
        got += [i.id for i in run]
    assert sorted(got) == defender_names(emu, ctl) and len(got) == len(set(got))
    assert len(set(cred.handed_out)) == 2


def test_B6_a_rejected_cached_token_raises_a_typed_error_and_the_stream_resumes(emu, ctl, sleeps):
    from m365sentinel._connector import Connector
    from m365sentinel._errors import AuthenticationError

    emu.state.page_size = 10
    store = MemoryCheckpointStore()
    cred = CachingCredential(emu)
    with Connector(emu.workspace_resource_id, credential=cred, transport=emu.transport(), sleep=sleeps) as c:
        stream = c.incidents().clock(emu.clock.now).page(10).since(store)
        got = []
        with pytest.raises(AuthenticationError, match="same rejected token"):
            for i, item in enumerate(stream):
                got.append(item.id)
                item.commit()
                if i == 14:
                    emu.faults.expire_tokens()  # revoked server-side; the credential still hands it out
        cred.cached.clear()  # the credential renews
        got += [item.id for item in stream]
    assert sorted(got) == defender_names(emu, ctl) and len(got) == len(set(got))


def test_alerts_and_entities_come_in_bulk_through_log_analytics(emu, emu_connector):
    items = list(s(emu_connector, emu).with_alerts().with_entities().page(20))
    la = [r for r in emu.requests if r.path.endswith("/query")]
    per_incident = [r for r in emu.requests if r.path.endswith(("/alerts", "/entities"))]
    assert per_incident == [] and len(la) == -(-len(items) // 20)
    with_alerts = [i for i in items if i.alerts]
    assert len(with_alerts) >= len(items) * 0.8
    one = with_alerts[0]
    direct = emu_connector.incidents().get(one.id).alerts()
    assert sorted(a.system_alert_id for a in one.alerts) == sorted(a.system_alert_id for a in direct)
    assert all(a.alert_display_name for a in one.alerts)
    kinds = {e.kind for i in items for e in i.entities}
    assert {"Account", "Host"} <= kinds  # ARM EntityInnerKind spelling, as POST .../entities returns it


def test_per_incident_calls_are_rate_limited_and_429_is_retried(emu, emu_connector, ctl, sleeps):
    name = ctl.names()[0]
    ctl.graph.rate_limit.limit = 2
    handle = emu_connector.incidents().get(name)
    handle.alerts()
    handle.entities()
    with pytest.raises(RateLimitedError) as exc:  # Retry-After ~300 s is beyond the 60 s ceiling
        handle.alerts()
    assert exc.value.retry_after == 300
    emu.advance(timedelta(minutes=5))
    assert handle.alerts() is not None


def test_C1_concurrent_owner_change_keeps_their_owner_and_our_status(emu, emu_connector, ctl):
    name = ctl.names()[0]
    handle = emu_connector.incidents().get(name)
    mine = handle.get()
    emu.advance(timedelta(seconds=5))
    ctl.modify_incident(
        name, owner={"userPrincipalName": "them@contoso.com"}, labels=[{"labelName": "theirs", "labelType": "User"}]
    )
    result = handle.close(classification="FalsePositive", reason="InaccurateData", base=mine)
    assert result.attempts == 2
    final = ctl.incident(name)["properties"]
    assert final["owner"]["userPrincipalName"] == "them@contoso.com"
    assert (final["status"], final["classification"], final["classificationReason"]) == (
        "Closed",
        "FalsePositive",
        "InaccurateData",
    )
    assert [lb["labelName"] for lb in final["labels"]] == ["theirs"]


def test_C2_close_without_classification_sends_nothing(emu, emu_connector, ctl):
    before = len(emu.requests)
    with pytest.raises(InvalidInputError):
        emu_connector.incidents().get(ctl.names()[0]).close(classification=None)
    assert len(emu.requests) == before


def test_D1_graph_side_parses_awaiting_action_and_alert_evidence(emu, emu_connector, ctl):
    name = next(n for n in ctl.names() if ctl.incident(n)["properties"].get("providerIncidentId"))
    pid = ctl.incident(name)["properties"]["providerIncidentId"]
    emu.advance(timedelta(seconds=1))
    ctl.set_defender(pid, status="awaitingAction")
    g = s(emu_connector, emu).defender().get(pid, with_alerts=True)
    assert g.status == "awaitingAction" and g.status.is_known
    assert g.alerts and g.alerts[0].evidence and g.alerts[0].evidence[0].verdict == "suspicious"
    graph_requests = [r for r in emu.requests if r.path.startswith("/v1.0/")]
    assert graph_requests


def test_mirror_to_defender_and_reconcile_report_drift(emu, emu_connector, ctl):
    stream = s(emu_connector, emu)
    names = [n for n in ctl.names() if ctl.incident(n)["properties"].get("providerIncidentId")]
    ctl.graph.sync = False  # the connector is not syncing: drift stays
    res = stream.get(names[0]).update(owner="kai@contoso.com", add_labels=["triaged"], mirror_to_defender=True)
    assert res.defender is not None and res.defender.assigned_to == "kai@contoso.com"
    assert res.defender_differences == ()
    pid = ctl.incident(names[1])["properties"]["providerIncidentId"]
    emu.advance(timedelta(seconds=1))
    ctl.set_defender(pid, assignedTo="someone@else.test")
    assert stream.reconcile(grace=timedelta(minutes=15)).drift == ()  # fresh: sync may be in flight
    emu.advance(timedelta(minutes=20))
    report = stream.reconcile(grace=timedelta(minutes=15))
    owner = (ctl.incident(names[1])["properties"].get("owner") or {}).get("userPrincipalName")
    assert [(d.incident_id, d.fields) for d in report.drift] == [(names[1], (("owner", owner, "someone@else.test"),))]
    assert report.missing_in_defender == ()
    assert "someone@else.test" in str(report)
    writes_before = len(emu.writes())
    assert len(emu.writes()) == writes_before  # reconcile without repair wrote nothing
    repaired = stream.reconcile(grace=timedelta(minutes=15), repair=True)
    assert repaired.drift[0].repaired is True
    assert stream.reconcile(grace=timedelta(0)).drift == ()


def test_follow_polls_until_stopped_with_a_store(emu, emu_connector, ctl):
    store = MemoryCheckpointStore()
    stop = threading.Event()
    stream = s(emu_connector, emu).since(store)
    seen = []
    polls = []

    def sleep(_seconds):
        polls.append(1)
        emu.advance(timedelta(minutes=1))
        if len(polls) == 1:
            ctl.create_incident(title="arrives while following")
        if len(polls) == 3:
            stop.set()

    for item in stream.follow(interval=60, stop=stop, sleep=sleep):
        seen.append(item.incident.title)
        item.commit()
    assert seen.count("arrives while following") == 1
    assert len(polls) == 3
    stored = store.load()
    assert stored is not None and stored.checkpoint.pending is None
    assert list(stream) == []  # everything was committed


def test_follow_can_be_cancelled_by_closing_the_generator(emu, emu_connector):
    gen = s(emu_connector, emu).follow(interval=0, sleep=lambda _s: None)
    first = next(gen)
    gen.close()
    assert first.incident.name


def test_checkpoint_json_survives_a_restart(emu, emu_connector, ctl):
    stream = s(emu_connector, emu).max_items(5)
    run = iter(stream)
    part = [i.id for i in run]
    assert run.stopped_early and len(part) == 5
    text = run.checkpoint.dumps()
    rest = [i.id for i in stream.since(Checkpoint.from_json(text)).max_items(10_000)]
    assert sorted(part + rest) == defender_names(emu, ctl)


def test_stream_start_uses_now_minus_lag(emu, emu_connector):
    run = iter(s(emu_connector, emu))
    list(run)
    assert run.checkpoint.watermark == NOW - timedelta(minutes=5)


def test_update_inputs_are_checked_before_any_request(emu, emu_connector, ctl):
    import pytest

    from m365sentinel import InvalidInputError

    handle = emu_connector.incidents().get(ctl.names()[0])
    before = len(emu.requests)
    for kwargs, message in [
        ({"owner": {"evil": 1}}, "a mapping needs text values"),
        ({"status": "New", "classification": "TruePositive", "reason": "SuspiciousActivity"}, "applies to closing"),
        ({"description": 5}, "description=5: expected text"),
        ({"comment": 5, "classification": "Undetermined", "status": "Closed"}, "comment=5: expected text"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            handle.update(**kwargs)
    assert len(emu.requests) == before
    result = handle.update(add_labels="triaged")  # a bare string is one label
    assert "triaged" in [label.label_name for label in result.incident.labels]
    assert not any(label.label_name in ("t", "r") for label in result.incident.labels)


def test_naive_clock_is_refused_before_any_request(emu, emu_connector):
    import pytest

    from m365sentinel import InvalidInputError

    before = len(emu.requests)
    with pytest.raises(InvalidInputError, match="aware datetime"):
        list(emu_connector.incidents().clock(lambda: datetime(2025, 11, 20, 12)))
    assert len(emu.requests) == before


def test_per_incident_related_calls_stop_at_max_items(emu, emu_connector):
    run = emu_connector.incidents().with_alerts(source="per_incident").max_items(3).run()
    items = list(run)
    assert len(items) == 3 and run.stopped_early
    assert len([r for r in emu.requests if r.path.endswith("/alerts")]) == 3


def test_a_host_clock_months_ahead_of_the_service_still_sees_every_change(emu, emu_connector, ctl):
    # No .clock(): the host's real clock is far ahead of the emulator's pinned one. The watermark must follow the
    # service's Date header, or every later change would fall behind it.
    store = MemoryCheckpointStore()
    first = [i.id for i in emu_connector.incidents().since(store)]
    assert sorted(first) == defender_names(emu, ctl)
    assert store.load().checkpoint.watermark == emu.clock.now().replace(microsecond=0) - timedelta(minutes=5)
    emu.advance(timedelta(minutes=1))
    name = ctl.names()[3]
    ctl.modify_incident(name, severity="High")
    again = list(emu_connector.incidents().since(store))
    assert [(i.id, str(i.incident.severity)) for i in again] == [(name, "High")]


class _Crash(Exception):
    pass


def test_handler_updates_then_a_crash_and_resume_lose_nothing(emu, emu_connector, ctl):
    # The SOC pattern: handle, update the incident (it moves to the front of the list), commit; crash, restart.
    # A resumed pass bounded above by where it stopped would see updated incidents leave its window and skip others.
    emu.state.page_size = 10
    store = MemoryCheckpointStore()
    incidents = s(emu_connector, emu)
    stream = incidents.since(store).page(10)
    expected = set(defender_names(emu, ctl))
    handled: set[str] = set()

    def handle(item):
        handled.add(item.id)
        incidents.get(item.id).update(status="Active", owner="triage@contoso.com")

    with pytest.raises(_Crash):
        for k, item in enumerate(stream):
            handle(item)
            item.commit()
            if k == 12:
                raise _Crash
    for item in stream:
        handle(item)
        item.commit()
    assert handled == expected


def test_a_status_filter_loses_nothing_when_the_handler_moves_incidents_out_of_it(emu, emu_connector, ctl):
    emu.state.page_size = 10
    ctl.create_incidents(50)  # status New
    incidents = s(emu_connector, emu)
    new = {n for n in defender_names(emu, ctl) if ctl.incident(n)["properties"]["status"] == "New"}
    seen = []
    for item in incidents.status("New").page(10):
        seen.append(item.id)
        incidents.get(item.id).update(status="Active")  # the incident leaves the filter as we go
    assert sorted(seen) == sorted(new) and len(new) > 50
