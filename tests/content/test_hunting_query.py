"""Connector.run_hunting_query: Graph runHuntingQuery at the HTTP level (pytest-httpx) and on the emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken

from m365sentinel import Connector, kql
from m365sentinel._errors import (
    InvalidInputError,
    QueryError,
    QueryLimitError,
    RateLimitedError,
    SerializationError,
)

SUB = "d0cfe6b2-9ac0-4464-9919-dccaee2e48c0"
WS = f"/subscriptions/{SUB}/resourceGroups/myRg/providers/Microsoft.OperationalInsights/workspaces/myWorkspace"
URL = "https://graph.microsoft.com/v1.0/security/runHuntingQuery"
# The documented example (tests/reference/graph/security-runHuntingQuery.json, copied from the Graph docs).
EXAMPLE = json.loads((Path(__file__).parents[1] / "reference/graph/security-runHuntingQuery.json").read_text())


class Cred:
    def get_token(self, *scopes, **kw):
        return AccessToken("secret-token-value", 4_102_444_800)


@pytest.fixture
def connector():
    c = Connector(WS, credential=Cred(), sleep=lambda s: None)
    yield c
    c.close()


def test_documented_example_is_typed(httpx_mock, connector):
    httpx_mock.add_response(method="POST", url=URL, json=EXAMPLE["response"]["body"])
    result = connector.run_hunting_query(EXAMPLE["request"]["body"]["Query"])
    (request,) = httpx_mock.get_requests()
    assert json.loads(request.content) == {"Query": EXAMPLE["request"]["body"]["Query"], "Timespan": "P30D"}
    table = result.primary
    assert [(c.name, c.type) for c in table.columns] == [
        ("Timestamp", "datetime"),
        ("FileName", "string"),
        ("InitiatingProcessFileName", "string"),
    ]
    assert table.rows[0] == (datetime(2024, 3, 26, 9, 39, 50, 768864, tzinfo=UTC), "cmd.exe", "powershell.exe")
    assert len(table) == 2 and not result.is_partial


def test_pascal_case_schema_and_dotnet_types(httpx_mock, connector):
    body = {
        "Schema": [
            {"Name": n, "Type": t}
            for n, t in [
                ("N", "Int64"),
                ("I", "Int32"),
                ("D", "Double"),
                ("B", "Boolean"),
                ("O", "Object"),
                ("G", "Guid"),
                ("S", "TimeSpan"),
                ("M", "String"),
            ]
        ],
        "Results": [
            {
                "N": "7",
                "I": 3,
                "D": "NaN",
                "B": "true",
                "O": '{"a": [1]}',
                "G": "8365ebfe-a381-45b7-ad08-7d818070e11f",
                "S": "01:00:00",
            }
        ],
    }
    httpx_mock.add_response(method="POST", url=URL, json=body)
    table = connector.run_hunting_query(kql.table("DeviceInfo").take(1), timespan=timedelta(days=2)).primary
    assert json.loads(httpx_mock.get_requests()[0].content)["Timespan"] == "P2D"
    assert [c.type for c in table.columns] == ["long", "int", "real", "bool", "dynamic", "guid", "timespan", "string"]
    row = table.rows[0]
    assert row[:2] == (7, 3) and row[2] != row[2] and row[3] is True  # NaN is the one value unequal to itself
    assert row[4:] == ({"a": [1]}, "8365ebfe-a381-45b7-ad08-7d818070e11f", timedelta(hours=1), None)


def test_row_limit_is_an_error_not_a_short_answer(httpx_mock, connector):
    rows = [{"X": i} for i in range(100_000)]
    httpx_mock.add_response(method="POST", url=URL, json={"schema": [{"name": "X", "type": "Int64"}], "results": rows})
    with pytest.raises(QueryLimitError) as info:
        connector.run_hunting_query("DeviceEvents")
    assert info.value.limit == "rows" and "100000 rows" in str(info.value)


def test_a_value_outside_the_schema_is_refused(httpx_mock, connector):
    httpx_mock.add_response(
        method="POST", url=URL, json={"schema": [{"name": "X", "type": "Int64"}], "results": [{"X": 1, "Y": 2}]}
    )
    with pytest.raises(SerializationError, match=r"columns \['Y'\] are not in the schema"):
        connector.run_hunting_query("DeviceEvents")


def test_429_is_retried_with_retry_after_then_raised(httpx_mock, connector):
    slept = []
    c = Connector(WS, credential=Cred(), sleep=slept.append)
    for _ in range(4):
        httpx_mock.add_response(
            method="POST",
            url=URL,
            status_code=429,
            headers={"Retry-After": "3"},
            json={"error": {"code": "TooManyRequests", "message": "quota"}},
        )
    with pytest.raises(RateLimitedError):
        c.run_hunting_query("DeviceEvents")
    assert slept == [3.0, 3.0, 3.0]
    c.close()


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("Query exceeded the allowed execution time limit", QueryLimitError),
        ("'wher' is not a valid operator", QueryError),
    ],
)
def test_bad_request_is_typed(httpx_mock, connector, message, error):
    httpx_mock.add_response(
        method="POST", url=URL, status_code=400, json={"error": {"code": "BadRequest", "message": message}}
    )
    with pytest.raises(error) as info:
        connector.run_hunting_query("DeviceEvents | wher x")
    assert type(info.value) is error and info.value.query == "DeviceEvents | wher x"


@pytest.mark.parametrize(
    "bad",
    [
        timedelta(days=31),
        "P90D",
        "",
        5,
        "2026-01-01T00:00:00Z/2026-03-01T00:00:00Z",
        "2026-01-01T00:00:00Z/P31D",
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),
    ],
)
def test_timespan_beyond_retention_or_malformed_is_refused_before_sending(httpx_mock, connector, bad):
    with pytest.raises(InvalidInputError):
        connector.run_hunting_query("DeviceEvents", timespan=bad)
    assert httpx_mock.get_requests() == []


@pytest.mark.parametrize(
    ("span", "sent"),
    [
        ("2026-01-01T00:00:00Z/2026-01-31T00:00:00Z", "2026-01-01T00:00:00Z/2026-01-31T00:00:00Z"),
        (
            (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)),
            "2026-01-01T00:00:00.0000000Z/2026-01-02T00:00:00.0000000Z",
        ),
    ],
)
def test_intervals_within_retention_are_sent(httpx_mock, connector, span, sent):
    httpx_mock.add_response(method="POST", url=URL, json={"schema": [], "results": []})
    assert len(connector.run_hunting_query("DeviceEvents", timespan=span).primary) == 0
    assert json.loads(httpx_mock.get_requests()[0].content)["Timespan"] == sent


def test_same_query_on_both_sides_of_the_emulator_is_equal():
    from m365sentinel.emulator import Emulator

    emu = Emulator(now=datetime(2026, 11, 20, 12, tzinfo=UTC), seed=0)
    c = Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport())
    q = (
        kql.table("DeviceProcessEvents")
        .project("TimeGenerated", "DeviceName", "FileName", "ProcessId", "AdditionalFields")
        .order_by("TimeGenerated")
        .take(20)
    )
    sentinel = c.query(q, timespan=timedelta(days=7)).primary
    defender = c.run_hunting_query(q, timespan=timedelta(days=7)).primary
    assert [(x.name, x.type) for x in defender.columns] == [
        ("TimeGenerated", "datetime"),
        ("DeviceName", "string"),
        ("FileName", "string"),
        ("ProcessId", "long"),
        ("AdditionalFields", "dynamic"),
    ]
    assert defender.columns == sentinel.columns
    assert len(defender) == 20 and list(defender.rows) == list(sentinel.rows)
    graph = [r for r in emu.requests if r.path == "/v1.0/security/runHuntingQuery"]
    assert [r.body["Timespan"] for r in graph] == ["P7D"]
    emu.close()


def test_rule_templates_are_listed_across_pages_and_filtered_here(httpx_mock, connector):
    si = f"https://management.azure.com{WS}/providers/Microsoft.SecurityInsights/alertRuleTemplates"
    example = json.loads(
        (
            Path(__file__).parents[1] / "reference/samples/arm_rest_examples/2025-09-01/"
            "alertRuleTemplates/GetAlertRuleTemplates.json"
        ).read_text()
    )["responses"]["200"]["body"]
    mtp = {
        "name": "t-mtp",
        "kind": "NRT",
        "properties": {
            "displayName": "A Defender XDR template",
            "version": "1.2.0",
            "requiredDataConnectors": [{"connectorId": "MicrosoftThreatProtection", "dataTypes": ["DeviceEvents"]}],
        },
    }
    httpx_mock.add_response(
        url=f"{si}?api-version=2025-09-01",
        json={"value": example["value"], "nextLink": f"{si}?api-version=2025-09-01&$skipToken=x"},
    )
    httpx_mock.add_response(url=f"{si}?api-version=2025-09-01&$skipToken=x", json={"value": [mtp]})
    (template,) = connector.list_rule_templates()
    assert (template.name, template.kind, template.version, template.display_name) == (
        "t-mtp",
        "NRT",
        "1.2.0",
        "A Defender XDR template",
    )
    assert len(httpx_mock.get_requests()) == 2
