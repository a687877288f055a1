"""The Log Analytics query route: real KQL on the engine, timespan, value encoding, errors, partial results."""

from __future__ import annotations

import json
from datetime import timedelta

from m365sentinel.emulator._engine import format_datetime

from .conftest import LA, NOW, Api
from .test_kql_adapt import SOURCE_DEVICE_EVENTS, SOURCE_INCIDENTS


def chart(api: Api, query: str, timespan: str | None = "P14D") -> list[tuple[str, int]]:
    r = api.query(query, timespan)
    assert r.status_code == 200, r.text
    table = r.json()["tables"][0]
    assert table["columns"] == [
        {"name": "Value", "type": "long"},
        {"name": "Time", "type": "datetime"},
        {"name": "Legend", "type": "string"},
    ]
    return sorted((row[1], row[0]) for row in table["rows"])


def expected(points: list[tuple[object, int]]) -> list[tuple[str, int]]:
    return [(format_datetime(t), n) for t, n in points]  # type: ignore[arg-type]


def test_source_document_incident_chart_equals_row_counts(shared: Api) -> None:
    got = chart(shared, SOURCE_INCIDENTS)
    truth = shared.emu.daily_row_counts("SecurityIncident", where={"ProviderName": "Microsoft 365 Defender"})
    assert got == expected(truth)
    assert len(got) == 14
    assert got[0][0] == "2025-11-06T12:00:00Z" and got[-1][0] == "2025-11-19T12:00:00Z"
    assert sum(n for _, n in got) > 240  # update rows, not incidents: the source text counts each update


def test_source_document_device_events_chart_equals_row_counts(shared: Api) -> None:
    assert chart(shared, SOURCE_DEVICE_EVENTS) == expected(shared.emu.daily_row_counts("DeviceEvents"))


def test_without_timespan_older_bins_appear(shared: Api) -> None:
    assert len(chart(shared, SOURCE_DEVICE_EVENTS, timespan=None)) == 16  # 14 days + the 2 older days of data


def test_each_incident_counted_once_on_its_creation_day(shared: Api) -> None:
    query = """let Now = now();
SecurityIncident
| where ProviderName in ("Microsoft 365 Defender", "Microsoft XDR")
| summarize arg_max(TimeGenerated, *) by IncidentName
| where CreatedTime >= Now - 14d and CreatedTime < Now
| summarize Count = count() by Day = bin_at(CreatedTime, 1d, Now)
| project Day, Count"""
    r = shared.query(query)
    assert r.status_code == 200, r.text
    got = sorted((row[0], row[1]) for row in r.json()["tables"][0]["rows"])
    truth = shared.emu.daily_incident_counts(14)
    assert got == [(format_datetime(t), n) for t, n in truth if n]
    total = shared.emu.count_incidents_created(NOW - timedelta(days=14), NOW)
    assert sum(n for _, n in got) == total == 240


def test_values_are_encoded_as_the_service_does(shared: Api) -> None:
    r = shared.query(
        "SecurityIncident | where IncidentNumber == 1001 | take 1 "
        "| project TimeGenerated, AlertIds, IncidentNumber, Owner, Severity, Span = 1d + 2h, "
        "Flag = true, Ratio = 0.5, Big = tolong(5000000000)",
        timespan=None,
    )
    assert r.status_code == 200, r.text
    table = r.json()["tables"][0]
    assert [c["type"] for c in table["columns"]] == [
        "datetime",
        "dynamic",
        "int",
        "dynamic",
        "string",
        "timespan",
        "bool",
        "real",
        "long",
    ]
    row = table["rows"][0]
    assert row[0].endswith("Z") and row[0].startswith("2025-")
    assert isinstance(json.loads(row[1]), list)
    assert row[2] == 1001
    assert set(json.loads(row[3])) == {"objectId", "email", "assignedTo", "userPrincipalName"}
    assert row[5:] == ["1.02:00:00", True, 0.5, 5000000000]


def test_engine_failures_are_400_bad_argument(shared: Api) -> None:
    missing = shared.query("NoSuchTable | count")
    assert missing.status_code == 400
    err = missing.json()["error"]
    assert err["code"] == "BadArgumentError"
    assert err["innererror"]["code"] == "SemanticError"
    syntax = shared.query("SecurityIncident | wherex x")
    assert syntax.status_code == 400
    assert syntax.json()["error"]["innererror"]["code"] == "SyntaxError"
    unsupported = shared.query("SecurityIncident | extend x = bin_at(TimeGenerated, 1d)")
    assert unsupported.status_code == 400
    writes = shared.query(".set-or-replace T <| print 1")
    assert writes.status_code == 400
    bad_span = shared.query("print 1", timespan="14 days")
    assert bad_span.status_code == 400
    empty = shared.request("POST", f"{LA}/v1/workspaces/{shared.emu.customer_id}/query", json={})
    assert empty.status_code == 400


def test_timespan_forms(shared: Api) -> None:
    def count(span: str) -> int:
        r = shared.query("DeviceEvents | count", timespan=span)
        assert r.status_code == 200, r.text
        return int(r.json()["tables"][0]["rows"][0][0])

    truth = sum(n for _, n in shared.emu.daily_row_counts("DeviceEvents", days=2))
    assert count("P2D") == truth
    assert count("2025-11-18T12:00:00Z/2025-11-20T12:00:00Z") == truth
    assert count("2025-11-18T12:00:00Z/P2D") == truth
    assert count("P2D/2025-11-20T12:00:00Z") == truth


def test_partial_result_fault(shared: Api) -> None:
    shared.emu.faults.partial_query_result()
    r = shared.query("DeviceEvents | summarize count() by ActionType")
    assert r.status_code == 200
    body = r.json()
    assert body["tables"][0]["rows"]
    assert body["error"]["code"] == "PartialError"
    assert body["error"]["message"] == "There were some errors when processing your query."
    assert body["error"]["details"][0]["code"] == "EngineError"
    assert body["error"]["innererror"]["message"] == "Query result set has exceeded the internal record count limit"
    assert "error" not in shared.query("DeviceEvents | count").json()


def test_resource_centric_route_and_unknown_workspace(shared: Api) -> None:
    emu = shared.emu
    r = shared.request("POST", f"{LA}/v1{emu.workspace_resource_id}/query", json={"query": "Usage | count"})
    assert r.status_code == 200
    assert r.json()["tables"][0]["rows"][0][0] > 0
    other = shared.request(
        "POST", f"{LA}/v1/workspaces/00000000-0000-0000-0000-000000000000/query", json={"query": "print 1"}
    )
    assert other.status_code == 404
    azure_host = shared.request(
        "POST",
        f"https://api.loganalytics.azure.com/v1/workspaces/{emu.customer_id}/query",
        json={"query": "print x = 1"},
    )
    assert azure_host.status_code == 200


def test_dropped_and_silenced_tables(fresh: Api) -> None:
    fresh.emu.state.drop_table("DeviceRegistryEvents")
    assert fresh.query("DeviceRegistryEvents | count").status_code == 400
    fuzzy = fresh.query("union isfuzzy=true DeviceRegistryEvents, (print x = 1) | count")
    assert fuzzy.status_code == 200
    fresh.emu.state.silence_table("DeviceEvents")
    assert fresh.query("DeviceEvents | count").json()["tables"][0]["rows"] == [[0]]
    assert "DeviceRegistryEvents" not in fresh.emu.state.table_names()
    fresh.emu.state.create_table("IdentityInfo", [("TimeGenerated", "datetime"), ("AccountUPN", "string")])
    fresh.emu.state.add_rows("IdentityInfo", [{"TimeGenerated": NOW - timedelta(hours=1), "AccountUPN": "a@b.c"}])
    assert fresh.query("IdentityInfo | project AccountUPN").json()["tables"][0]["rows"] == [["a@b.c"]]


def test_a_timespan_reaching_past_year_1_or_9999_is_a_400_not_a_500(shared: Api) -> None:
    """A 500 here was retried by the client (4 attempts with backoff) for a request that can never succeed."""
    for span in ("P999999999DT23H59M59.999999S", "P3000000D", "9000-01-01T00:00:00Z/P3000000D"):
        r = shared.query("print 1", timespan=span)
        assert r.status_code == 400, span
        assert r.json()["error"]["innererror"]["code"] == "InvalidTimespan"
