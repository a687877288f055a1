"""The main job end to end on the emulator: plan → apply → empty plan → incidents → verification charts.

Every KQL string the Connector runs here is also checked by Microsoft's parser (zero diagnostics).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from contract.bodies import validate_body

from m365sentinel import (
    Cloud,
    Connector,
    ConsentRequiredError,
    InvalidInputError,
    PreflightError,
    QueryError,
    RateLimitedError,
    StalePlanError,
    TimeSeries,
    kql,
    provider_names,
)
from m365sentinel.emulator import Emulator

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def emu():
    e = Emulator(now=NOW, seed=7)
    yield e
    e.close()


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def connector(emu, sleeps, face):
    """The tests taking it run on both faces (bench/faces.py): the same bodies drive the async Connector too."""
    with face.connector(emu.workspace_resource_id, emu=emu, sleep=sleeps) as c:
        yield c


def test_plan_apply_then_second_plan_is_empty_and_second_apply_writes_nothing(emu, connector):
    desired = connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True)
    plan = desired.plan()
    assert emu.writes() == []
    assert [(c.action.value, c.resource_type) for c in plan.changes] == [("create", "dataConnectors")] + [
        ("update", "alertRules")
    ] * 5
    assert {c.title.split("[")[1].rstrip("]") for c in plan.changes[1:]} == {
        "Microsoft Defender Advanced Threat Protection",
        "Azure Advanced Threat Protection",
        "Office 365 Advanced Threat Protection",
        "Microsoft Cloud App Security",
        "Azure Active Directory Identity Protection",
    }
    result = plan.apply()
    assert result.writes == 6
    writes = emu.writes()
    assert [w.method for w in writes] == ["PUT"] * 6
    assert "/dataConnectors/" in writes[0].path  # connector first: never a window without an incident source
    for w in writes:
        body = json.loads(w.body) if isinstance(w.body, (str, bytes)) else w.body
        validate_body("mtp_data_connector" if "/dataConnectors/" in w.path else "incident_creation_rule", body)

    second = desired.plan()
    assert second.is_empty and second.blockers == ()
    assert desired.apply().writes == 0
    assert len(emu.writes()) == 6

    status = connector.status()
    assert status.connected and status.connector.alerts_state == "Enabled"
    by_product = {r.rule.product_filter: r.rule.enabled for r in status.creation_rules}
    assert by_product["Azure Security Center"] is True  # case A5: not a Defender XDR product
    assert [p for p, enabled in by_product.items() if enabled] == ["Azure Security Center"]


def test_incident_chart_counts_each_incident_once_on_its_creation_day(emu, connector, kql_parser):
    chart = kql.incident_timechart(provider_names().incident_providers)
    kql_parser.assert_clean(chart.to_kql())
    result = connector.query(chart, timespan=timedelta(days=14))
    assert not result.is_partial
    series = TimeSeries.from_table(result.primary)
    truth = emu.daily_incident_counts(days=14)
    assert [(t, v) for t, v in series.points] == [(t, n) for t, n in truth]
    assert len(series.points) == 14
    assert sum(v for _, v in series.points) == emu.count_incidents_created(NOW - timedelta(days=14), NOW) == 240


@pytest.mark.parametrize("table", ["DeviceEvents", "DeviceProcessEvents", "DeviceFileCertificateInfo"])
def test_table_chart_matches_the_rows_the_emulator_holds(emu, connector, kql_parser, table):
    chart = kql.table_timechart(table)
    kql_parser.assert_clean(chart.to_kql())
    series = TimeSeries.from_table(connector.query(chart, timespan=timedelta(days=14)).primary)
    assert [(t, v) for t, v in series.points] == [(t, n) for t, n in emu.daily_row_counts(table, days=14)]


def test_incidents_by_provider_latest_row_each(emu, connector, kql_parser):
    q = kql.incidents_by_provider(provider_names().incident_providers)
    kql_parser.assert_clean(q.to_kql())
    rows = connector.query(q, timespan=timedelta(days=14)).primary.to_dicts()
    numbers = [r["IncidentNumber"] for r in rows]
    assert len(numbers) == len(set(numbers))  # case E4: one row per incident
    assert {r["ProviderName"] for r in rows} <= set(provider_names().incident_providers)


def test_retry_after_is_honoured_end_to_end(emu, connector, sleeps):
    emu.faults.add("GET */dataConnectors", status=429, headers={"Retry-After": "7"}, times=1)
    plan = connector.incidents_and_alerts().plan()
    assert sleeps == [7.0]
    assert len(plan.changes) == 1


def test_retry_after_beyond_ceiling_is_a_typed_error(emu, connector, sleeps):
    emu.faults.add("GET */alertRules", status=429, headers={"Retry-After": "3600"}, times=1)
    with pytest.raises(RateLimitedError) as err:
        connector.incidents_and_alerts().plan()
    assert err.value.retry_after == 3600 and sleeps == []


def test_server_errors_and_dropped_connections_are_retried(emu, connector, sleeps):
    emu.faults.server_error(times=2, status=503)
    emu.faults.drop_connection(times=1)
    assert connector.incidents_and_alerts().plan().changes
    assert len(sleeps) == 3


def test_missing_consent_is_caught_by_preflight_before_any_write(emu, connector):
    emu.faults.require_consent()
    plan = connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True).plan()
    assert plan.blockers[0].startswith("licence state is Invalid (dataConnectorsCheckRequirements)")
    assert "Microsoft Defender portal" in plan.blockers[0]
    with pytest.raises(PreflightError):
        plan.apply()
    assert emu.writes() == []


def test_consent_error_at_put_is_typed_and_nothing_else_changes(emu, connector):
    plan = connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True).plan()
    emu.faults.require_consent()  # consent withdrawn between plan and apply: the PUT itself is refused (case A2)
    with pytest.raises(ConsentRequiredError) as err:
        plan.apply()
    assert err.value.status_code == 403 and err.value.code == "InvalidLicense"
    assert "Defender portal" in err.value.remediation
    assert [w.method for w in emu.writes()] == ["PUT"]  # the refused PUT only: no retry, no rule turned off
    emu.faults.require_consent(False)
    assert not connector.status().connected


def test_token_expiry_mid_plan_refreshes_once(emu, connector):
    plan_before = connector.incidents_and_alerts().plan()
    emu.faults.expire_tokens()
    emu.advance(timedelta(hours=2))
    assert connector.incidents_and_alerts().plan().changes == plan_before.changes


def test_partial_query_result_is_reported(emu, connector):
    emu.faults.partial_query_result()
    result = connector.query(kql.table_timechart("DeviceEvents"), timespan=timedelta(days=14))
    assert result.is_partial and result.error.code == "PartialError"
    assert result.error.inner_message and "limit" in result.error.inner_message
    assert len(result.primary.rows) == 14


def test_unified_portal_workspace_is_reported_not_fought():
    emu = Emulator(now=NOW, seed=3, unified_portal=True)
    try:
        with Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as c:
            plan = c.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True).plan()
            assert plan.is_empty and plan.blockers == ()
            assert "unified Microsoft Defender portal" in plan.notes[0] and "'Microsoft XDR'" in plan.notes[0]
    finally:
        emu.close()


def test_not_onboarded_workspace_blocks_apply(emu, connector):
    emu.state.sentinel_onboarded = False
    plan = connector.incidents_and_alerts().plan()
    with pytest.raises(PreflightError, match="not onboarded"):
        plan.apply()
    assert emu.writes() == []


def test_disconnect_then_reconnect(emu, connector):
    connector.incidents_and_alerts().apply()
    assert connector.status().connected
    assert len(connector.disconnect().deleted) == 1
    assert connector.disconnect().deleted == ()
    assert not connector.status().connected


@pytest.mark.sentinel_emulator(now=NOW, seed=7)
def test_loopback_server_over_a_real_socket(served_sentinel_emulator):
    served = served_sentinel_emulator  # the m365sentinel pytest plugin's fixture: served on loopback, stopped after
    assert served.cloud == Cloud.custom(arm=served.url, log_analytics=served.url, graph=served.url)
    with served.connector() as c:
        assert c.incidents_and_alerts().apply().writes == 1
        assert c.incidents_and_alerts().plan().is_empty
        result = c.query("SecurityIncident | summarize n = dcount(IncidentNumber)", timespan=timedelta(days=14))
        assert result.primary.rows[0][0] > 200


def _arm(emu, method, path, **kw):
    """Another actor changing the workspace through the emulator's ARM routes."""
    import httpx

    token = emu.credential().get_token("https://management.azure.com/.default").token
    with httpx.Client(transport=emu.transport(), base_url="https://management.azure.com") as client:
        return client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)


def test_renamed_provider_alone_is_not_the_unified_portal():
    emu = Emulator(now=NOW, seed=5, xdr_share=0.2)  # "Microsoft XDR" incidents, classic connection (case E3)
    try:
        with Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as c:
            plan = c.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True).plan()
            assert plan.notes == ()
            assert [x.resource_type for x in plan.changes] == ["dataConnectors"] + ["alertRules"] * 5
    finally:
        emu.close()


@pytest.mark.parametrize("target", ["first", "last"])
def test_stale_plan_is_refused_before_any_write(emu, connector, target):
    plan = connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True).plan()
    rule = plan.changes[1] if target == "first" else plan.changes[-1]
    path = f"{emu.workspace_resource_id}/providers/Microsoft.SecurityInsights/alertRules/{rule.name}"
    assert _arm(emu, "DELETE", path, params={"api-version": "2025-10-01-preview"}).status_code in (200, 204)
    before = len(emu.writes())
    with pytest.raises(StalePlanError, match=f"alertRules/{rule.name} is not as planned: it was deleted"):
        plan.apply()
    assert len(emu.writes()) == before  # nothing half-applied
    fresh = connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True).plan()
    assert rule.name not in [c.name for c in fresh.changes] and fresh.apply().writes == 5


def test_connector_created_by_someone_else_makes_the_plan_stale(emu, connector):
    plan = connector.incidents_and_alerts().plan()
    other = connector.incidents_and_alerts()
    other.plan().apply()  # another run creates the connector first
    with pytest.raises(StalePlanError, match="MicrosoftThreatProtection connector was created meanwhile"):
        plan.apply()


def test_bad_kql_is_a_query_error_naming_the_cause(connector):
    with pytest.raises(QueryError) as err:
        connector.query("SecurityIncident | where NoSuchColumn == 1", timespan=timedelta(days=1))
    assert err.value.code in ("SemanticError", "SyntaxError")
    assert err.value.query == "SecurityIncident | where NoSuchColumn == 1"
    assert "BadArgumentError" in str(err.value)


def test_flags_and_options_are_checked_before_any_request(emu):
    with Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as c:
        with pytest.raises(
            InvalidInputError, match="turn_off_microsoft_incident_creation_rules must be True or False, got 'no'"
        ):
            c.incidents_and_alerts(turn_off_microsoft_incident_creation_rules="no")
        with pytest.raises(InvalidInputError, match="query must be KQL text"):
            c.query(5, timespan=timedelta(days=1))
    for kw, message in [
        ({"retry": 3}, "retry must be a"),
        ({"transport": "x"}, "transport must be a"),
        ({"api_versions": "2020-01-01"}, "api_versions must be a"),
        ({"timeout": 0}, "timeout must be"),
        ({"sleep": 5}, r"sleep=5: expected a callable sleep\(seconds\) or None"),
        ({"credential": object()}, "credential must be"),
    ]:
        kw.setdefault("credential", emu.credential())
        with pytest.raises(InvalidInputError, match=message):
            Connector(emu.workspace_resource_id, **kw)
    assert emu.requests == []


def test_time_chart_carries_its_window_and_refuses_a_shorter_one(emu, connector):
    chart = kql.incident_timechart(provider_names().incident_providers)
    assert chart.timespan == timedelta(days=14)
    series = TimeSeries.from_table(connector.query(chart).primary)  # no timespan: the chart's own 14 days
    assert [v for _, v in series.points] == [n for _, n in emu.daily_incident_counts(days=14)]
    before = len(emu.requests)
    with pytest.raises(InvalidInputError, match="shorter than the 14 days, 0:00:00 this query covers"):
        connector.query(chart, timespan=timedelta(days=1))
    assert len(emu.requests) == before


def test_errors_carry_the_service_request_id(emu, connector):
    emu.faults.add(
        "GET */dataConnectors",
        status=403,
        times=1,
        body={"error": {"code": "AuthorizationFailed", "message": "no read"}},
    )
    from m365sentinel import PermissionDeniedError

    with pytest.raises(PermissionDeniedError) as err:
        connector.incidents_and_alerts().plan()
    assert (err.value.status_code, err.value.code) == (403, "AuthorizationFailed")
    assert len(err.value.request_id) == 36 and err.value.request_id in str(err.value)


def test_an_emulator_without_dataset_answers_status_plan_and_verify():
    """Emulator(dataset=False) (documented) once failed all three with 'Table with name Usage does not exist'."""
    emu = Emulator(now=NOW, seed=0, dataset=False)
    with Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as c:
        status = c.status()
        assert status.connected is False
        assert {name: (t.last_received, t.volume_mb) for name, t in status.tables.items()}["DeviceEvents"] == (None, 0)
        plan = c.incidents_and_alerts().plan()
        assert [(x.action.value, x.resource_type) for x in plan.changes][:1] == [("create", "dataConnectors")]
        report = c.verify()
        assert [(x.name, x.verdict.value, x.series.total) for x in report.lines[:3]] == [
            ("Incidents", "silent", 0),
            ("Alerts", "silent", 0),
            ("Events", "silent", 0),
        ]
        assert len(report.lines) == 13 and report.all_ingesting is False
    emu.close()
