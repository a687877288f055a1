"""Values at the edge of their type (red-team round): a typed error naming the value, or a parse; never an untyped
OverflowError/ValueError from deep inside (a long timespan cell, an integer beyond a double in a real column, a
timespan text with 5,000 digits), and .NET type names in their full ``System.*`` spelling."""

from __future__ import annotations

import copy
import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from m365sentinel import InvalidInputError, kql
from m365sentinel._errors import SerializationError
from m365sentinel.models import GraphAlert, GraphIncident, Incident, QueryResult, parse_timespan

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def _one_cell(kind: str, cell: object) -> bytes:
    return json.dumps(
        {"tables": [{"name": "PrimaryResult", "columns": [{"name": "c", "type": kind}], "rows": [[cell]]}]}
    ).encode()


@pytest.mark.parametrize(
    ("kind", "cell", "message"),
    [
        ("timespan", "9999999999.00:00:00", "timespan '9999999999.00:00:00' is outside the representable range"),
        ("timespan", "P99999999999W", "timespan 'P99999999999W' is outside the representable range"),
        ("real", 10**400, "expected a real cell, got 1000000000"),
    ],
    ids=["kusto-days", "iso-weeks", "real-1e400"],
)
def test_a_cell_beyond_its_python_type_is_a_serialization_error_naming_it(kind: str, cell: object, message: str):
    with pytest.raises(SerializationError, match=r"cannot parse tables\[0\]\.rows\[0\] column 'c'") as caught:
        QueryResult.from_json(_one_cell(kind, cell))
    assert message in str(caught.value)


def test_kusto_timespan_extremes_still_parse():
    assert parse_timespan("10675199.02:48:05.4775807") == timedelta(days=10675199, seconds=10085, microseconds=477580)
    assert parse_timespan("-10675199.02:48:05.4775808") == -timedelta(days=10675199, seconds=10085, microseconds=477580)


@pytest.mark.parametrize(
    "text",
    ["99999999999999999999d", "9" * 5000 + "d", "1000000000d", "10675200d"],
    ids=["20-digits", "5000-digits", "beyond-timedelta", "beyond-int64-ticks"],
)
def test_kql_timespan_text_beyond_kql_range_is_invalid_input(text: str):
    with pytest.raises(InvalidInputError, match="is outside KQL's timespan range"):
        kql.parse_timespan(text)
    with pytest.raises(InvalidInputError, match="is outside KQL's timespan range"):
        kql.timechart(kql.table("SecurityIncident"), days=14, step=text, legend="x")


def test_kql_timespan_text_at_the_edges_parses():
    assert kql.parse_timespan("10675199d") == timedelta(days=10675199)
    assert kql.parse_timespan("0" * 30 + "1d") == timedelta(days=1)


@pytest.mark.parametrize(
    ("dotnet", "cell", "value"),
    [
        ("System.DateTime", "2024-01-01T00:00:00.1234567Z", datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("System.Int64", "42", 42),
        ("System.TimeSpan", "1.00:00:00", timedelta(days=1)),
        ("SqlDecimal", "1.5", Decimal("1.5")),
    ],
)
def test_dotnet_type_names_in_full_are_typed(dotnet: str, cell: object, value: object):
    assert QueryResult.from_json(_one_cell(dotnet, cell)).primary.column("c") == (value,)


# --- null where an array is expected --------------------------------------------------------------------------
# A JSON null for a ``tuple[...]`` field structures as () like an absent key (the converter's array hooks), instead
# of failing the whole page (one incident with "labels": null stopped a stream for good).
def _arm_incident() -> dict:
    doc = json.loads((REFERENCE / "arm/2025-09-01/examples/incidents/GetIncidentById.json").read_text("utf-8"))
    return copy.deepcopy(doc["responses"]["200"]["body"])


def _graph_incident() -> dict:
    doc = json.loads((REFERENCE / "graph/security-incidents.list-expand-alerts.json").read_text("utf-8"))
    return copy.deepcopy(doc["response"]["body"]["value"][0])


def test_null_arrays_in_an_arm_incident_parse_as_empty():
    doc = _arm_incident()
    doc["properties"]["labels"] = None
    doc["properties"]["additionalData"]["tactics"] = None
    incident = Incident.from_json(doc)
    assert (incident.labels, incident.additional_data.tactics) == ((), ())


def test_null_arrays_in_graph_incidents_and_alerts_parse_as_empty():
    doc = _graph_incident()
    doc["customTags"] = None
    doc["comments"] = None
    alert = doc["alerts"][0]
    alert["evidence"] = None
    alert["mitreTechniques"] = None
    parsed = GraphIncident.from_json(doc)
    assert (parsed.custom_tags, parsed.comments) == ((), ())
    assert (parsed.alerts[0].evidence, parsed.alerts[0].mitre_techniques) == ((), ())
    assert GraphAlert.from_json(alert).evidence == ()


def test_error_detail_resources_are_a_json_array_of_text_or_nothing():
    body = {
        "tables": [],
        "error": {
            "code": "PartialError",
            "message": "m",
            "details": [
                {"code": "a", "resources": 5},
                {"code": "b", "resources": "ws1"},
                {"code": "c", "resources": ["ws1", None, 2]},
            ],
        },
    }
    result = QueryResult.from_json(json.dumps(body))
    assert [d.resources for d in result.error.details] == [(), (), ("ws1", "2")]


def test_primary_of_an_error_answer_without_tables_is_the_query_error():
    """A 200 with only ``error`` (no tables) parsed; ``.primary`` said "InvalidInputError: no tables" (a caller
    mistake) instead of what the service said."""
    from m365sentinel._errors import QueryError

    body = {
        "error": {
            "code": "BadArgumentError",
            "message": "The request had some invalid properties",
            "innererror": {"code": "SemanticError", "message": "'Foo' is not a column"},
        }
    }
    result = QueryResult.from_json(json.dumps(body))
    with pytest.raises(QueryError) as caught:
        _ = result.primary
    assert (caught.value.code, caught.value.status_code) == ("SemanticError", 200)
    assert str(caught.value) == (
        "SemanticError: the service answered BadArgumentError: The request had some invalid properties, and no "
        "tables (SemanticError: 'Foo' is not a column)"
    )


# --- numbers and booleans are not coerced -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [(3177, 3177), (3177.0, 3177), ("3177", 3177), (" -5 ", -5), (None, None)],
)
def test_an_integer_field_takes_integral_numbers_and_their_text(value, expected):
    assert Incident.from_json({"name": "a", "properties": {"incidentNumber": value}}).incident_number == expected


@pytest.mark.parametrize("value", [3177.5, True, False, "12a", "1e3", [1], {"n": 1}, ""])
def test_an_integer_field_refuses_what_int_would_truncate_or_coerce(value):
    # int(3177.5) is 3177 and int(True) is 1: the SDK would have handed a different number on, silently.
    with pytest.raises(SerializationError, match=r"expected int \| None @ Incident.incident_number"):
        Incident.from_json({"name": "a", "properties": {"incidentNumber": value}})


def test_a_boolean_field_refuses_the_text_false_becoming_true_and_numbers():
    from m365sentinel.models._converter import _structure_bool, _structure_float

    assert [_structure_bool(v, bool) for v in (True, False, "true", "FALSE", " True ")] == [
        True,
        False,
        True,
        False,
        True,
    ]
    assert [_structure_float(v, float) for v in (1, 2.5, "2.5")] == [1.0, 2.5, 2.5]
    for bad in ("false-ish", 0, 1, None, [True]):
        with pytest.raises(TypeError, match="expected a boolean"):
            _structure_bool(bad, bool)
    for bad in (True, "x", None):
        with pytest.raises(TypeError, match="expected a number"):
            _structure_float(bad, float)


def test_to_json_of_a_document_nested_too_deeply_to_copy_is_a_serialization_error():
    deep: dict = {}
    node = deep
    for _ in range(sys.getrecursionlimit() + 50):  # deeper than a recursive copy can go, whatever the limit is now
        node["x"] = {}
        node = node["x"]
    incident = Incident.from_json({"name": "a", "properties": {"title": "t", "odd": deep}})
    with pytest.raises(SerializationError, match="nested too deeply to copy"):
        incident.to_json()
