"""verify() on the emulator: every verdict, golden chart series, the tables API route, and the chart writers."""

from __future__ import annotations

import builtins
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from m365sentinel import Connector, MissingExtraError, provider_names
from m365sentinel._charts import ChartsUnavailableError, text_chart, write_png, write_svg
from m365sentinel._errors import InvalidInputError
from m365sentinel._hunting import HuntingTable
from m365sentinel._verify import Verdict, verify
from m365sentinel.emulator import Emulator
from m365sentinel.models import TimeSeries

NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)
DECLARED = [HuntingTable.DeviceProcessEvents, HuntingTable.DeviceNetworkEvents, HuntingTable.DeviceEvents]


@pytest.fixture
def emu():
    e = Emulator(now=NOW, seed=3, incidents=60)
    yield e
    e.close()


class Recorder:
    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self.kql: list[str] = []

    def __call__(self, q, span: timedelta):
        self.kql.append(q.to_kql())
        return self.connector.query(q, timespan=span)


@pytest.fixture
def run(emu):
    with Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as c:
        yield Recorder(c)


def _verify(run, **kw):
    names = provider_names()
    kw.setdefault("tables", DECLARED)
    return verify(run, incident_providers=names.incident_providers, alert_products=names.alert_products, **kw)


def test_all_ingesting_and_golden_series_equal_the_emulator(emu, run, kql_parser):
    report = _verify(run)
    assert [(x.name, x.verdict) for x in report.lines[:6]] == [
        ("Incidents", Verdict.INGESTING),
        ("Alerts", Verdict.INGESTING),
        ("Events", Verdict.INGESTING),
        ("DeviceProcessEvents", Verdict.INGESTING),
        ("DeviceNetworkEvents", Verdict.INGESTING),
        ("DeviceEvents", Verdict.INGESTING),
    ]
    assert list(report.incidents.series.points) == emu.daily_incident_counts(days=14)
    assert list(report.alerts.series.points) == emu.daily_alert_counts(days=14)
    per_table = [emu.daily_row_counts(t.value, days=14) for t in DECLARED]
    expected_events = [(t, sum(c[i][1] for c in per_table)) for i, (t, _) in enumerate(per_table[0])]
    assert list(report.events.series.points) == expected_events
    for t in DECLARED:
        got = report.line(t.value).series.points
        want = emu.daily_usage_mb(t.value, days=14)
        assert [p[0] for p in got] == [p[0] for p in want]
        assert [p[1] for p in got] == pytest.approx([p[1] for p in want], abs=1e-9)
    assert report.declared_but_silent == ()
    assert set(report.flowing_but_undeclared) == {t.value for t in HuntingTable.source_document()} - {
        t.value for t in DECLARED
    }
    assert len(run.kql) == 4
    for text in run.kql:
        kql_parser.assert_clean(text)
    assert report.line("DeviceEvents").kql == run.kql[3]


def test_declared_table_silent(emu, run):
    emu.state.silence_table("DeviceEvents")
    report = _verify(run)
    line = report.line("DeviceEvents")
    assert line.verdict is Verdict.SILENT
    assert line.detail == "declared but silent: no data in Usage"
    assert report.declared_but_silent == ("DeviceEvents",)
    assert report.events.verdict is Verdict.INGESTING  # the others still flow
    assert line.series.total == 0 and len(line.series.points) == 14


def test_declared_table_that_does_not_exist_is_silent(emu, run):
    report = _verify(run, tables=[HuntingTable.EmailEvents])
    assert report.events.verdict is Verdict.SILENT
    assert report.events.detail == "no events in 14 days"
    assert report.line("EmailEvents").verdict is Verdict.SILENT


def test_a6_ueba_tables_absent_then_populated(emu, run):
    report = _verify(run, ueba=True)
    assert [(x.name, x.verdict) for x in report.lines if x.category == "ueba"] == [
        ("BehaviorAnalytics", Verdict.NOT_YET_POPULATED),
        ("IdentityInfo", Verdict.NOT_YET_POPULATED),
    ]
    assert "IdentityInfo" not in emu.state.table_names()
    with pytest.raises(InvalidInputError):
        emu.populate_ueba()  # UEBA is not enabled yet
    base = f"https://management.azure.com{emu.workspace_resource_id}/providers/Microsoft.SecurityInsights/settings"
    token = emu.credential().get_token("https://management.azure.com/.default").token
    with httpx.Client(transport=emu.transport(), headers={"Authorization": f"Bearer {token}"}) as client:
        for name, body in (
            (
                "EntityAnalytics",
                {
                    "kind": "EntityAnalytics",
                    "properties": {"entityProviders": ["ActiveDirectory", "AzureActiveDirectory"]},
                },
            ),
            ("Ueba", {"kind": "Ueba", "properties": {"dataSources": ["AuditLogs"]}}),
        ):
            assert client.put(f"{base}/{name}?api-version=2025-10-01-preview", json=body).status_code == 201
    report = _verify(run, ueba=True)
    assert report.line("IdentityInfo").verdict is Verdict.NOT_YET_POPULATED  # enabling claims no data
    emu.populate_ueba()
    report = _verify(run, ueba=True)
    assert report.line("IdentityInfo").verdict is Verdict.INGESTING
    assert report.line("BehaviorAnalytics").verdict is Verdict.INGESTING
    assert report.all_ingesting is True
    assert report.line("IdentityInfo").series.points[0][1] == pytest.approx(emu.daily_usage_mb("IdentityInfo")[0][1])


def test_e5_partial_results_are_inconclusive(emu, run):
    emu.faults.partial_query_result(times=4)
    report = _verify(run, ueba=True)
    for line in report.lines:
        if line.category in ("incidents", "alerts", "events"):
            assert line.verdict is Verdict.INCONCLUSIVE, line.name
            assert "E_QUERY_RESULT_SET_TOO_LARGE" in line.detail
    assert report.line("DeviceEvents").verdict is Verdict.INGESTING  # data seen is data seen
    assert report.line("IdentityInfo").verdict is Verdict.INCONCLUSIVE  # "no data" is not proven


def test_report_text_and_json(emu, run):
    emu.state.silence_table("DeviceEvents")
    report = _verify(run)
    text = str(report)
    assert text.splitlines()[0] == "Data ingestion over the last 14 days"
    assert "  SILENT             DeviceEvents" in text
    assert "declared but silent: DeviceEvents" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["declaredButSilent"] == ["DeviceEvents"]
    assert data["lines"][0]["name"] == "Incidents" and len(data["lines"][0]["series"]["points"]) == 14
    assert data["lines"][0]["series"]["points"][0][0] == "2025-11-06T12:00:00+00:00"


def test_verify_rejects_bad_input_before_any_query(run):
    with pytest.raises(InvalidInputError):
        _verify(run, tables="DeviceEvents")
    with pytest.raises(InvalidInputError):
        _verify(run, days=0)
    with pytest.raises(InvalidInputError):
        _verify(run, tables=["NoSuchTable"])
    assert run.kql == []


def test_no_declared_tables_gives_a_silent_events_line(run):
    report = _verify(run, tables=[])
    assert report.events.verdict is Verdict.SILENT
    assert report.events.detail == "no hunting tables are declared"
    assert len(report.events.series.points) == 14


# --- emulator: workspace tables API ----------------------------------------------------------------------------


def test_tables_api_route(emu):
    token = emu.credential().get_token("https://management.azure.com/.default").token
    base = f"https://management.azure.com{emu.workspace_resource_id}/tables"
    with httpx.Client(transport=emu.transport(), headers={"Authorization": f"Bearer {token}"}) as client:
        listed = client.get(f"{base}?api-version=2023-09-01").json()["value"]
        names = {t["name"] for t in listed}
        assert {t.value for t in HuntingTable} <= names and "Usage" in names
        one = client.get(f"{base}/DeviceEvents?api-version=2023-09-01").json()
        assert one["properties"]["retentionInDays"] == 90 and one["properties"]["retentionInDaysAsDefault"] is True
        r = client.patch(
            f"{base}/DeviceEvents?api-version=2023-09-01",
            json={"properties": {"retentionInDays": 180, "totalRetentionInDays": 730}},
        )
        assert r.status_code == 200
        p = r.json()["properties"]
        assert (p["retentionInDays"], p["totalRetentionInDays"], p["archiveRetentionInDays"], p["plan"]) == (
            180,
            730,
            550,
            "Analytics",
        )
        assert p["retentionInDaysAsDefault"] is False
        bad = client.patch(
            f"{base}/DeviceEvents?api-version=2023-09-01", json={"properties": {"totalRetentionInDays": 100}}
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidParameter"
        assert client.get(f"{base}/DeviceEvents?api-version=2019-01-01").status_code == 400
        assert client.get(f"{base}/NoSuchTable_CL?api-version=2023-09-01").status_code == 404
        put = client.put(f"{base}/DeviceEvents?api-version=2023-09-01", json={"properties": {"plan": "Basic"}})
        assert put.json()["properties"]["retentionInDays"] == 90  # PUT replaced the settable properties
        assert put.json()["properties"]["plan"] == "Basic"


def test_usage_stays_consistent_with_rows(emu):
    before = emu.daily_usage_mb("DeviceEvents")
    assert sum(v for _, v in before) > 0
    emu.state.silence_table("DeviceEvents")
    assert sum(v for _, v in emu.daily_usage_mb("DeviceEvents")) == 0
    assert emu.daily_usage_mb("DeviceProcessEvents") != [(t, 0.0) for t, _ in before]


# --- charts ----------------------------------------------------------------------------------------------------


def test_text_chart_exact():
    t0 = datetime(2025, 11, 1, tzinfo=UTC)
    s = TimeSeries(legend="Incidents", points=tuple((t0 + timedelta(days=i), v) for i, v in enumerate([0, 1, 2, 4, 8])))
    assert text_chart(s) == "Incidents  ·▁▂▄█ 15"
    flat = TimeSeries(legend="Events", points=tuple((t0 + timedelta(days=i), 0) for i in range(3)))
    assert text_chart([s, flat], label_width=6) == "Incide ·▁▂▄█ 15\nEvents ··· 0"
    # resampled: [0, 1] and [2, 4, 8] summed -> 1 and 14
    assert text_chart(s, width=2) == "Incidents  ▁█ 15"
    with pytest.raises(InvalidInputError):
        text_chart(s, width=0)


def test_png_and_svg_are_written(emu, run, tmp_path):
    pytest.importorskip("matplotlib")
    report = _verify(run, ueba=True)
    png = write_png(report, tmp_path / "out.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = write_svg(report, tmp_path / "out.svg").read_text()
    assert "<svg" in svg and "Ingestion per table (Usage)" in svg and "Incidents (ingesting, total" in svg
    with pytest.raises(InvalidInputError):
        write_png(report, tmp_path / "out.svg")
    missing = tmp_path / "no" / "dir" / "x.png"
    with pytest.raises(InvalidInputError) as err:
        write_png(report, missing)
    assert str(err.value) == f"path {str(missing)!r}: expected a file in an existing directory"


def test_missing_matplotlib_names_the_extra(monkeypatch, emu, run, tmp_path):
    report = _verify(run)
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ChartsUnavailableError) as err:
        write_png(report, tmp_path / "x.png")
    assert "pip install 'm365sentinel[charts]'" in str(err.value)
    assert isinstance(err.value, MissingExtraError) and err.value.extra == "charts"
