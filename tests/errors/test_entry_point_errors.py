"""Issue 10, errors: caller mistakes are InvalidInputError before any request, RetryPolicy is bounded, idempotent
writes send nothing. Each case below escaped as an untyped exception (or misbehaved silently) on f5c9a72."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from m365sentinel import Connector, InvalidInputError, RetryPolicy, kql
from m365sentinel._entities import EntitySync
from m365sentinel.emulator import Emulator

NOW = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def emu():
    e = Emulator(now=NOW, seed=5, incidents=20)
    yield e
    e.close()


@pytest.fixture
def connector(emu):
    with Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as c:
        yield c


@pytest.fixture
def incident_id(emu):
    return next(
        n
        for n in emu.incident_control().names()
        if emu.incident_control().incident(n)["properties"]["providerName"] == "Microsoft 365 Defender"
    )


def refused_before_any_request(emu, call, *fragments):
    before = len(emu.requests)
    with pytest.raises(InvalidInputError) as info:
        call()
    assert len(emu.requests) == before, [r.path for r in emu.requests[before:]]
    for fragment in fragments:
        assert fragment in str(info.value)
    return info.value


# --- the places the fuzz found on main (one realistic mistake each) ------------------------------------------------
CASES = [
    ("update(add_labels=None)", lambda c, i: c.incidents().get(i).update(add_labels=None), "add_labels=None"),
    ("update(remove_labels=None)", lambda c, i: c.incidents().get(i).update(remove_labels=None), "remove_labels=None"),
    ("update(labels=None)", lambda c, i: c.incidents().get(i).update(labels=None), "labels"),
    ("update(base='')", lambda c, i: c.incidents().get(i).update(title="T", base=""), "base=''"),
    ("update(title=lone surrogate)", lambda c, i: c.incidents().get(i).update(title="a\ud800"), "lone surrogate"),
    ("update(title=control char)", lambda c, i: c.incidents().get(i).update(title="a\x1bb"), "control character"),
    ("update(description=surrogate)", lambda c, i: c.incidents().get(i).update(description="\udfff"), "description"),
    ("update(owner=surrogate)", lambda c, i: c.incidents().get(i).update(owner="x\ud800@y"), "owner"),
    (
        "close(comment=surrogate)",
        lambda c, i: c.incidents().get(i).close(classification="Undetermined", comment="\ud800"),
        "comment",
    ),
    ("add_comment(message=surrogate)", lambda c, i: c.incidents().get(i).add_comment("\ud800"), "message"),
    (
        "add_comment(comment_id=surrogate)",
        lambda c, i: c.incidents().get(i).add_comment("m", comment_id="\ud800"),
        "comment id",
    ),
    ("incidents().get(surrogate)", lambda c, i: c.incidents().get("\ud800").get(), "incident id"),
    ("provider(surrogate)", lambda c, i: list(c.incidents().provider("\ud800")), "provider name"),
    ("reconcile(grace=timedelta.max)", lambda c, i: c.incidents().reconcile(grace=timedelta.max), "grace="),
    ("defender().get(surrogate)", lambda c, i: c.incidents().defender().get("\ud800"), "incident id"),
    ("defender().patch(body=1)", lambda c, i: c.incidents().defender().patch("1", 1), "body=1"),
    (
        "defender().patch(body=surrogate)",
        lambda c, i: c.incidents().defender().patch("1", {"status": "\ud800"}),
        "body",
    ),
    ("query(lone surrogate)", lambda c, i: c.query("print '\ud800'", timespan=timedelta(days=1)), "lone surrogate"),
    ("verify(days=2**63)", lambda c, i: c.verify(days=2**63), "days must be"),
    (
        "entities(ueba_data_sources=datetime)",
        lambda c, i: c.entities(ueba_data_sources=datetime(2025, 1, 1)),
        "ueba_data_sources",
    ),
    (
        "entities(ueba_data_sources unknown)",
        lambda c, i: c.entities(ueba_data_sources=("AuditLog",)),
        "'AuditLog' is not a UEBA data source",
    ),
]


@pytest.mark.parametrize(("name", "call", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_caller_mistake_is_invalid_input_before_any_request(emu, connector, incident_id, name, call, fragment):
    refused_before_any_request(emu, lambda: call(connector, incident_id), fragment)


KQL_CASES = [
    ("kql.where(None)", lambda: kql.table("SecurityIncident").where(None)),
    ("Query.col(None)", lambda: kql.table("SecurityIncident").col(None)),
    ("Query.join(None, ...)", lambda: kql.table("SecurityIncident").join(None, "Title")),
    ("Query.join(on=None)", lambda: kql.table("SecurityIncident").join(kql.table("SecurityAlert"), None)),
    ("Query.lookup(on=None)", lambda: kql.table("SecurityIncident").lookup(kql.table("SecurityAlert"), None)),
    ("Query.union(None)", lambda: kql.table("SecurityIncident").union(None)),
    ("kql.union(None)", lambda: kql.union(None)),
    ("Query.summarize(by=None)", lambda: kql.table("SecurityIncident").summarize(by=None)),
    ("Query.project_rename(1)", lambda: kql.table("SecurityIncident").project_rename(1)),
    ("Query.with_columns(None)", lambda: kql.table("SecurityIncident").with_columns(None)),
    ("Query.pipe_raw_unsafe(None)", lambda: kql.table("SecurityIncident").pipe_raw_unsafe(None)),
    ("kql.table({})", lambda: kql.table({})),
    ("kql.schema_for([])", lambda: kql.schema_for([])),
    ("kql.table_timechart({})", lambda: kql.table_timechart({})),
    ("kql.timechart(days=2**63)", lambda: kql.timechart("SecurityIncident", days=2**63)),
    ("kql.daily_volume(days=10**30)", lambda: kql.daily_volume(["DeviceEvents"], days=10**30)),
    ("kql.datatable(None, [])", lambda: kql.datatable(None, [])),
    ("kql.datatable(rows=None)", lambda: kql.datatable([("A", "string")], None)),
    ("kql.function(None, ...)", lambda: kql.function(None, kql.col("x"))),
    ("kql.last_data_received(iter([]))", lambda: kql.last_data_received(iter([]))),
    ("kql.incidents_by_provider(1.5)", lambda: kql.incidents_by_provider(1.5)),
    ("kql.check_portability(selected_tables=1.5)", lambda: kql.check_portability("T", selected_tables=1.5)),
    ("kql.raw_query_unsafe(surrogate)", lambda: kql.raw_query_unsafe("T | where x == '\ud800'")),
]


@pytest.mark.parametrize(("name", "call"), KQL_CASES, ids=[c[0] for c in KQL_CASES])
def test_kql_builder_mistake_is_invalid_input(name, call):
    with pytest.raises(InvalidInputError):
        call()


def test_kql_where_none_names_the_value_and_the_expected_form():
    with pytest.raises(InvalidInputError, match=r"where\(\) takes expressions such as kql.col\('A'\) == 1, got None"):
        kql.table("SecurityIncident").where(None)


def test_lone_surrogate_in_a_query_sends_not_even_the_workspace_lookup(emu, connector):
    """On main the GET of the workspace (for its customerId) went out, then httpx raised UnicodeEncodeError."""
    error = refused_before_any_request(
        emu, lambda: connector.query("SecurityIncident | where Title == '\ud800'", timespan=timedelta(days=1))
    )
    assert "contains a lone surrogate ('\\ud800' at 35); expected KQL text" in str(error)


# --- RetryPolicy bounds -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": math.inf},
        {"max_attempts": 1.5},
        {"max_attempts": 10**6},
        {"max_attempts": True},
        {"max_retry_after": math.inf},
        {"max_retry_after": 10**9},
        {"backoff_initial": math.nan},
        {"backoff_max": -math.inf},
        {"jitter": math.inf},
    ],
    ids=repr,
)
def test_retry_policy_values_are_finite_and_bounded(kwargs):
    with pytest.raises(InvalidInputError, match="RetryPolicy"):
        RetryPolicy(**kwargs)


def test_retry_policy_limits_are_accepted():
    assert RetryPolicy(max_attempts=100, max_retry_after=3600, backoff_max=3600, jitter=600, backoff_initial=600)


# --- UEBA data sources ---------------------------------------------------------------------------------------------
def test_ueba_data_sources_bare_string_is_one_source_not_its_letters():
    assert EntitySync(ueba_data_sources="AuditLogs").ueba_data_sources == ("AuditLogs",)


def test_ueba_data_sources_match_case_insensitively_and_come_back_canonical():
    assert EntitySync(ueba_data_sources=("signinlogs", "SigninLogs")).ueba_data_sources == ("SigninLogs",)


def test_ueba_data_sources_plan_writes_the_named_source(emu, connector):
    plan = connector.entities(ueba_data_sources="AuditLogs").plan()
    ueba = [c for c in plan.changes if c.name == "Ueba" or c.kind == "Ueba"]
    for change in ueba:
        sources = change.body["properties"]["dataSources"]
        assert "AuditLogs" in sources and all(len(s) > 1 for s in sources)


# --- idempotent writes --------------------------------------------------------------------------------------------
def _puts(emu, before):
    return [r for r in emu.requests[before:] if r.method == "PUT"]


def test_close_with_the_values_it_already_has_sends_no_put(emu, connector, incident_id):
    handle = connector.incidents().get(incident_id)
    first = handle.close(classification="FalsePositive", reason="InaccurateData", comment="dup")
    assert first.attempts == 1
    before = len(emu.requests)
    again = handle.close(classification="FalsePositive", reason="InaccurateData", comment="dup")
    assert _puts(emu, before) == []
    assert again.attempts == 0 and again.incident.etag == first.incident.etag
    assert [r.method for r in emu.requests[before:]] == ["GET"]


def test_update_with_the_values_it_already_has_sends_no_put(emu, connector, incident_id):
    handle = connector.incidents().get(incident_id)
    handle.update(title="Same title", severity="High", add_labels=("VIP",))
    before = len(emu.requests)
    result = handle.update(title="Same title", severity="high", add_labels=("VIP",))
    assert (_puts(emu, before), result.attempts) == ([], 0)
    assert result.incident.title == "Same title"


def test_update_over_a_stale_base_rereads_and_writes_what_changed(emu, connector, incident_id):
    handle = connector.incidents().get(incident_id)
    stale = handle.get()
    emu.incident_control().modify_incident(incident_id, severity="Low")  # someone else changed it meanwhile
    before = len(emu.requests)
    result = handle.update(severity=str(stale.severity), base=stale)  # a no-op on the stale read, not on the service
    assert len(_puts(emu, before)) == 1 and result.attempts == 1
    assert str(result.incident.severity) == str(stale.severity)


def test_update_that_changes_something_still_writes(emu, connector, incident_id):
    handle = connector.incidents().get(incident_id)
    before = len(emu.requests)
    result = handle.update(title=f"changed {len(emu.requests)}")
    assert len(_puts(emu, before)) == 1 and result.attempts == 1


# --- the emulator's public API -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"host": "example.com"}, "loopback address only"),  # refused before any name lookup
        ({"host": "127.0.0.1\x00"}, "control character"),
        ({"port": 70000}, "port=70000: expected an integer from 0 to 65535"),
        ({"port": -1}, "port=-1"),
        ({"port": "80"}, "port='80'"),
    ],
    ids=repr,
)
def test_emulator_serve_refuses_what_it_cannot_serve_on(kwargs, fragment):
    emu = Emulator(now=NOW, dataset=False)
    try:
        with pytest.raises(InvalidInputError, match=fragment.replace("(", r"\(")):
            emu.serve(**kwargs)
    finally:
        emu.close()


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda e: e.incident_control().modify_incident("no-such-incident", severity="High"), "was not found"),
        (lambda e: e.faults.server_error(times=None), "times=None"),
        (lambda e: e.faults.server_error(status=[503]), "status=[503]"),
        (lambda e: e.advance(timedelta.min), "out of the datetime range"),
        (lambda e: Emulator(now=datetime(1, 1, 1, tzinfo=UTC), dataset=False), "year 1900 to 9000"),
        (lambda e: Emulator(now=NOW, xdr_share="", dataset=False), "xdr_share=''"),
    ],
    ids=[
        "modify unknown incident",
        "times=None",
        "status=[503]",
        "advance(timedelta.min)",
        "now=year 1",
        "xdr_share=''",
    ],
)
def test_emulator_control_mistakes_are_invalid_input(call, fragment):
    emu = Emulator(now=NOW, dataset=False)
    try:
        with pytest.raises(InvalidInputError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
            call(emu)
    finally:
        emu.close()


def test_a_checkpoint_path_with_a_nul_byte_is_invalid_input_at_construction():
    # pathlib raises a plain ValueError ("embedded null byte") at the first file-system call; refuse it up front.
    from m365sentinel import FileCheckpointStore
    from m365sentinel._errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="checkpoint path"):
        FileCheckpointStore("cp\x00.json")
