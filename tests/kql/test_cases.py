"""Field cases E1-E4 as named tests (E1/E2 details are in test_literals.py and test_properties.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources

import pytest

from m365sentinel import kql
from m365sentinel._errors import InvalidInputError


def _providers() -> dict:  # type: ignore[type-arg]
    return json.loads(resources.files("m365sentinel._data").joinpath("providers.json").read_text())  # type: ignore[no-any-return]


def test_e1_literal_escaping() -> None:
    q = kql.table("SecurityIncident").where(kql.col("Title").in_("St. John's", 'a"b', "C:\\temp\\new", "l1\nl2\tx"))
    assert q.to_kql() == (
        'SecurityIncident\n| where Title in ("St. John\'s", "a\\"b", "C:\\\\temp\\\\new", "l1\\nl2\\tx")'
    )


def test_e2_identifiers_and_times() -> None:
    q = (
        kql.table("DeviceEvents")
        .extend(**{"Device Name": kql.col("DeviceName")})
        .where(kql.col("TimeGenerated") > datetime(2024, 1, 2, 5, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2))))
        .extend(Later=kql.col("TimeGenerated") + timedelta(microseconds=5))
        .project("Device Name", "where" if False else "Later")
    )
    assert q.to_kql() == (
        "DeviceEvents\n| extend ['Device Name'] = DeviceName\n"
        "| where TimeGenerated > datetime(2024-01-02T03:04:05.1234560Z)\n"
        "| extend Later = TimeGenerated + 50tick\n| project ['Device Name'], Later"
    )
    with pytest.raises(InvalidInputError, match="naive"):
        kql.lit(datetime(2024, 1, 2))


def test_e3_renamed_products_accepted_from_data() -> None:
    data = _providers()
    incidents = kql.incidents_by_provider(data["incident_provider_names"]).to_kql()
    assert '"Microsoft 365 Defender"' in incidents and '"Microsoft XDR"' in incidents
    assert (
        incidents.splitlines()[1]
        == "| where ProviderName in (" + ", ".join(json.dumps(n) for n in data["incident_provider_names"]) + ")"
    )
    alerts = kql.alerts_by_product(data["alert_product_names"]).to_kql()
    assert '"Microsoft Defender XDR"' in alerts and '"Microsoft Defender Advanced Threat Protection"' in alerts


@pytest.mark.kqlparser
def test_e3_templates_from_data_parse_clean(kql_parser) -> None:  # type: ignore[no-untyped-def]
    data = _providers()
    for q in (
        kql.incidents_by_provider(data["incident_provider_names"]),
        kql.incident_timechart(data["incident_provider_names"]),
        kql.alerts_by_product(data["alert_product_names"]),
        kql.alert_timechart(data["alert_product_names"]),
    ):
        kql_parser.assert_clean(q.to_kql())


def test_e4_append_only_incident_counted_once_as_latest_row() -> None:
    """Incident 45 has rows New, Active, Closed: the queries keep only its latest row (Closed)."""
    text = kql.incidents_by_provider(["Microsoft 365 Defender"]).to_kql()
    assert text.endswith("| summarize arg_max(TimeGenerated, *) by IncidentNumber")
    chart = kql.incident_timechart(["Microsoft 365 Defender"]).to_kql()
    # dedupe happens before the time filter and the daily count, and bins on the creation time
    dedupe = chart.index("summarize arg_max(TimeGenerated, *) by IncidentNumber")
    assert dedupe < chart.index("where CreatedTime >= Now - 14d") < chart.index("Count = count()")


@pytest.mark.kqlparser
def test_e4_incident_45_counted_once_closed_on_parser_checked_datatable(kql_parser) -> None:  # type: ignore[no-untyped-def]
    t0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    rows = [
        [45, "New", t0, t0],
        [45, "Active", t0 + timedelta(hours=1), t0],
        [45, "Closed", t0 + timedelta(hours=5), t0],
        [46, "New", t0, t0],
    ]
    data = kql.datatable(
        [("IncidentNumber", "int"), ("Status", "string"), ("TimeGenerated", "datetime"), ("CreatedTime", "datetime")],
        rows,
    )
    q = data.summarize(kql.fn.arg_max("TimeGenerated", "*"), by="IncidentNumber").where(kql.col("IncidentNumber") == 45)
    cols = kql_parser.assert_clean(q.to_kql())
    assert [c for c, _ in cols] == ["IncidentNumber", "TimeGenerated", "Status", "CreatedTime"]
