"""Golden tests: the exact text of every template, and the parser's verdict on it (zero diagnostics,
declared result columns)."""

from __future__ import annotations

import pytest

from m365sentinel import kql
from m365sentinel._errors import InvalidInputError

PROVIDERS = ["Microsoft 365 Defender", "Microsoft XDR"]

INCIDENTS = """\
SecurityIncident
| where ProviderName in ("Microsoft 365 Defender", "Microsoft XDR")
| summarize arg_max(TimeGenerated, *) by IncidentNumber"""

INCIDENT_CHART = """\
let Now = now();
(range TimeGenerated from Now - 14d to Now - 1d step 1d
| extend Count = 0
| union isfuzzy=true (
    SecurityIncident
    | where ProviderName in ("Microsoft 365 Defender", "Microsoft XDR")
    | summarize arg_max(TimeGenerated, *) by IncidentNumber
    | where CreatedTime >= Now - 14d and CreatedTime < Now
    | summarize Count = count() by TimeGenerated = bin_at(CreatedTime, 1d, Now)
)
| summarize Count = max(Count) by bin_at(TimeGenerated, 1d, Now)
| sort by TimeGenerated asc
| project Value = iff(isnull(Count), 0, Count), Time = TimeGenerated, Legend = "Incidents")
| render timechart"""

DEVICE_EVENTS_CHART = """\
let Now = now();
(range TimeGenerated from Now - 14d to Now - 1d step 1d
| extend Count = 0
| union isfuzzy=true (
    DeviceEvents
    | where TimeGenerated >= Now - 14d and TimeGenerated < Now
    | summarize Count = count() by bin_at(TimeGenerated, 1d, Now)
)
| summarize Count = max(Count) by bin_at(TimeGenerated, 1d, Now)
| sort by TimeGenerated asc
| project Value = iff(isnull(Count), 0, Count), Time = TimeGenerated, Legend = "Events")
| render timechart"""

ALERTS = """\
SecurityAlert
| where ProductName in ("Microsoft Defender XDR", "Microsoft Defender Advanced Threat Protection")
| summarize arg_max(TimeGenerated, *) by SystemAlertId"""

ALERT_CHART = """\
let Now = now();
(range TimeGenerated from Now - 7d to Now - 1d step 1d
| extend Count = 0
| union isfuzzy=true (
    SecurityAlert
    | where ProductName in ("Microsoft Defender XDR", "Microsoft Defender Advanced Threat Protection")
    | summarize TimeGenerated = min(TimeGenerated) by SystemAlertId
    | where TimeGenerated >= Now - 7d and TimeGenerated < Now
    | summarize Count = count() by bin_at(TimeGenerated, 1d, Now)
)
| summarize Count = max(Count) by bin_at(TimeGenerated, 1d, Now)
| sort by TimeGenerated asc
| project Value = iff(isnull(Count), 0, Count), Time = TimeGenerated, Legend = "Alerts")
| render timechart"""

LAST_DATA = """\
union withsource=TableName isfuzzy=true DeviceEvents, DeviceInfo
| summarize LastReceived = max(TimeGenerated) by TableName"""

DAILY_VOLUME = """\
union withsource=TableName isfuzzy=true DeviceEvents, DeviceInfo
| where TimeGenerated > ago(14d)
| summarize Rows = count() by TableName, Day = bin(TimeGenerated, 1d)
| sort by TableName asc, Day asc"""

BILLABLE = """\
Usage
| where TimeGenerated > ago(30d) and IsBillable == true
| summarize BillableGB = sum(Quantity) / 1000.0 by DataType
| sort by BillableGB desc"""

PRODUCTS = ["Microsoft Defender XDR", "Microsoft Defender Advanced Threat Protection"]

TEMPLATES = {
    "incidents": (lambda: kql.incidents_by_provider(PROVIDERS), INCIDENTS, None),
    "incident_chart": (lambda: kql.incident_timechart(PROVIDERS), INCIDENT_CHART, kql.TIMECHART_COLUMNS),
    "device_events_chart": (lambda: kql.table_timechart("DeviceEvents"), DEVICE_EVENTS_CHART, kql.TIMECHART_COLUMNS),
    "alerts": (lambda: kql.alerts_by_product(PRODUCTS), ALERTS, None),
    "alert_chart": (lambda: kql.alert_timechart(PRODUCTS, days=7, legend="Alerts"), ALERT_CHART, kql.TIMECHART_COLUMNS),
    "last_data": (
        lambda: kql.last_data_received(["DeviceEvents", "DeviceInfo"]),
        LAST_DATA,
        (("TableName", "string"), ("LastReceived", "datetime")),
    ),
    "daily_volume": (
        lambda: kql.daily_volume(["DeviceEvents", "DeviceInfo"]),
        DAILY_VOLUME,
        (("TableName", "string"), ("Day", "datetime"), ("Rows", "long")),
    ),
    "billable": (lambda: kql.billable_volume(), BILLABLE, (("DataType", "string"), ("BillableGB", "real"))),
}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_text_is_exact(name: str) -> None:
    build, expected, _ = TEMPLATES[name]
    assert build().to_kql() == expected
    assert str(build()) == expected


@pytest.mark.kqlparser
@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_parses_clean_with_declared_columns(kql_parser, name: str) -> None:  # type: ignore[no-untyped-def]
    _, expected, columns = TEMPLATES[name]
    inferred = kql_parser.assert_clean(expected)
    if columns is not None:
        assert tuple(inferred) == tuple(columns)


@pytest.mark.kqlparser
def test_incidents_template_keeps_every_incident_column(kql_parser) -> None:  # type: ignore[no-untyped-def]
    inferred = dict(kql_parser.assert_clean(INCIDENTS))
    schema = dict(kql.schema_for("SecurityIncident").columns)  # type: ignore[union-attr]
    assert inferred == schema


def test_timechart_declares_columns() -> None:
    assert kql.incident_timechart(PROVIDERS).columns == (("Value", "long"), ("Time", "datetime"), ("Legend", "string"))


def test_timechart_accepts_table_name_and_query_alike() -> None:
    assert kql.timechart("DeviceEvents") == kql.table_timechart("DeviceEvents")
    assert str(kql.timechart(kql.table("DeviceEvents"))) == DEVICE_EVENTS_CHART


def test_timechart_per_incident_bins_on_created_time() -> None:
    q = kql.timechart(kql.table("SecurityIncident"), per_incident=True, days=3, step="1d")
    text = str(q)
    assert "| summarize arg_max(TimeGenerated, *) by IncidentNumber\n" in text
    assert "| where CreatedTime >= Now - 3d and CreatedTime < Now\n" in text
    assert "by TimeGenerated = bin_at(CreatedTime, 1d, Now)" in text


def test_timechart_hourly_step() -> None:
    from datetime import timedelta

    text = str(kql.table_timechart("DeviceEvents", days=14).to_kql())
    assert "step 1d" in text
    hourly = str(kql.timechart("DeviceEvents", days=24, step=timedelta(hours=1)))
    assert "range TimeGenerated from Now - 1d to Now - 1h step 1h" in hourly
    assert "bin_at(TimeGenerated, 1h, Now)" in hourly


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "14"])
def test_timechart_rejects_bad_days(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="days"):
        kql.timechart("DeviceEvents", days=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["0d", "1 day", "-1d", 5])
def test_timechart_rejects_bad_step(bad: object) -> None:
    with pytest.raises(ValueError, match=r"step|timespan"):
        kql.timechart("DeviceEvents", step=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["Microsoft XDR", [], [""], [1]])
def test_incidents_rejects_bad_provider_names(bad: object) -> None:
    with pytest.raises(ValueError, match="provider names"):
        kql.incidents_by_provider(bad)  # type: ignore[arg-type]


@pytest.mark.kqlparser
@pytest.mark.parametrize(
    "table_name",
    [
        "DeviceInfo",
        "DeviceNetworkInfo",
        "DeviceProcessEvents",
        "DeviceNetworkEvents",
        "DeviceFileEvents",
        "DeviceRegistryEvents",
        "DeviceLogonEvents",
        "DeviceImageLoadEvents",
        "DeviceEvents",
        "DeviceFileCertificateInfo",
        "SecurityAlert",
        "SecurityIncident",
    ],
)
def test_table_timechart_parses_for_every_table(kql_parser, table_name: str) -> None:  # type: ignore[no-untyped-def]
    inferred = kql_parser.assert_clean(str(kql.table_timechart(table_name)))
    assert tuple(inferred) == kql.TIMECHART_COLUMNS


def test_timechart_declares_its_window_through_later_pipes():
    import datetime as dt

    import pytest

    from m365sentinel import kql
    from m365sentinel._errors import InvalidInputError

    q = kql.timechart("DeviceEvents", days=7, step="1d")
    assert q.timespan == dt.timedelta(days=7)
    assert kql.table("DeviceEvents").timespan is None
    assert kql.table("DeviceEvents").take(1).with_timespan(dt.timedelta(hours=1)).take(2).timespan == dt.timedelta(
        hours=1
    )
    with pytest.raises(InvalidInputError, match=r"positive datetime\.timedelta"):
        kql.table("DeviceEvents").with_timespan(dt.timedelta(0))


def test_shared_template_nodes_are_immutable_and_charts_stay_independent():
    import pytest
    from attrs.exceptions import FrozenInstanceError

    from m365sentinel import kql
    from m365sentinel.kql import _templates as t

    for node in (t._NOW, t._TG, t._COUNT, t._ZERO, t._VALUE, t._TIME, t._LET_NOW, t._EXTEND_ZERO_COUNT):
        with pytest.raises(FrozenInstanceError):
            node.name = "x"  # type: ignore[attr-defined]
    a = kql.table_timechart("DeviceEvents", legend="A")
    b = kql.table_timechart("DeviceProcessEvents", legend='") | take 1 //')
    assert '"A"' in a.to_kql() and "DeviceProcessEvents" not in a.to_kql()
    assert 'Legend = "\\") | take 1 //"' in b.to_kql()


def test_chart_templates_label_their_series_by_what_they_count():
    assert kql.incident_timechart(["Microsoft XDR"]).to_kql().count('Legend = "Incidents"') == 1
    assert kql.alert_timechart(["Microsoft Defender for Endpoint"]).to_kql().count('Legend = "Alerts"') == 1
