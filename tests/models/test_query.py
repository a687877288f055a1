from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from m365sentinel._errors import InvalidInputError, SerializationError
from m365sentinel.models import QueryResult, QueryStatus, Table, TimeSeries


def answer(columns: list[tuple[str, str]], rows: list[list[Any]], **extra: Any) -> dict[str, Any]:
    return {
        "tables": [{"name": "PrimaryResult", "columns": [{"name": n, "type": t} for n, t in columns], "rows": rows}],
        **extra,
    }


def test_case_d3_null_datetime_cell_is_none() -> None:
    body = answer(
        [("TimeGenerated", "datetime"), ("Name", "string")],
        [["2024-01-01T00:00:00.1234567Z", "a"], [None, "b"], ["", "c"]],
    )
    table = QueryResult.from_json(json.dumps(body)).primary
    assert table.column("TimeGenerated") == (datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC), None, None)
    assert table.rows[1] == (None, "b")


def test_case_e5_partial_error_keeps_tables_and_inner_error() -> None:
    body = answer(
        [("Category", "string"), ("count_", "long")],
        [["Administrative", 20839]],
        error={
            "code": "PartialError",
            "message": "There were some errors when processing your query.",
            "details": [
                {"code": "EngineError", "message": "Something went wrong processing your query on the server."}
            ],
            "innererror": {
                "code": "-2133196794",
                "message": "Query result set has exceeded the internal data size limit 67108864 "
                "(E_QUERY_RESULT_SET_TOO_LARGE).",
                "severity": 2,
            },
        },
    )
    result = QueryResult.from_json(json.dumps(body).encode())
    assert result.status is QueryStatus.PARTIAL
    assert result.is_partial
    assert result.error is not None
    assert result.error.code == "PartialError"
    assert result.error.details[0].code == "EngineError"
    assert result.error.inner_code == "-2133196794"
    assert result.error.inner_message == (
        "Query result set has exceeded the internal data size limit 67108864 (E_QUERY_RESULT_SET_TOO_LARGE)."
    )
    assert result.error.innermost().raw["severity"] == 2
    assert result.primary.to_dicts() == [{"Category": "Administrative", "count_": 20839}]


def test_partial_error_with_details_only_reports_first_detail() -> None:
    body = answer(
        [("x", "long")],
        [],
        error={"code": "PartialError", "message": "m", "details": [{"code": "c", "message": "result set too large"}]},
    )
    result = QueryResult.from_json(body)
    assert result.error is not None
    assert (result.error.inner_code, result.error.inner_message) == ("c", "result set too large")


def test_complete_result_status() -> None:
    result = QueryResult.from_json(answer([("x", "long")], [[1]]))
    assert result.status is QueryStatus.COMPLETE and not result.is_partial and result.error is None


def test_every_kusto_type_from_native_and_string_cells() -> None:
    cols = [
        ("dt", "datetime"),
        ("ts", "timespan"),
        ("l", "long"),
        ("i", "int"),
        ("r", "real"),
        ("d", "decimal"),
        ("b", "bool"),
        ("g", "guid"),
        ("s", "string"),
        ("dyn", "dynamic"),
    ]
    rows = [
        [
            "2023-02-06T09:42:59.09",
            "7.04:44:01.5115511",
            5,
            7,
            1.5,
            "1.10",
            True,
            "A1B2C3D4-0000-0000-0000-000000000001",
            "x",
            {"a": 1},
        ],
        ["2023-02-06T09:42:59Z", "00:00:00.0000005", "1", "2", "NaN", 3, "true", None, "", '{"k": [1, 2]}'],
        [None, None, None, None, "Infinity", None, "False", None, None, "[1, 2]"],
        [None, None, "-3", 4.0, "-Infinity", 0.1, 0, None, None, "not json"],
        [None, None, 9007199254740993, None, 2, None, 1, None, None, None],
    ]
    t = QueryResult.from_json(json.dumps(answer(cols, rows))).primary
    assert t.column("dt") == (
        datetime(2023, 2, 6, 9, 42, 59, 90000, tzinfo=UTC),
        datetime(2023, 2, 6, 9, 42, 59, tzinfo=UTC),
        None,
        None,
        None,
    )
    assert t.column("ts") == (
        timedelta(days=7, hours=4, minutes=44, seconds=1, microseconds=511551),
        timedelta(0),
        None,
        None,
        None,
    )
    assert t.column("l") == (5, 1, None, -3, 9007199254740993)
    assert t.column("i") == (7, 2, None, 4, None)
    reals = t.column("r")
    assert reals[0] == 1.5 and reals[1] != reals[1] and reals[2] == float("inf") and reals[3] == float("-inf")
    assert reals[4] == 2.0 and type(reals[4]) is float
    assert t.column("d") == (Decimal("1.10"), Decimal("3"), None, Decimal("0.1"), None)
    assert t.column("b") == (True, True, False, False, True)
    assert t.column("g")[0] == "A1B2C3D4-0000-0000-0000-000000000001"
    assert t.column("s") == ("x", "", None, None, None)
    assert t.column("dyn") == ({"a": 1}, {"k": [1, 2]}, [1, 2], "not json", None)
    assert [c.type for c in t.columns] == [c for _, c in cols]


def test_dynamic_cells_stay_text_until_read_then_decode_once() -> None:
    body = answer([("d", "dynamic")], [['{"a": 1}']])
    t = QueryResult.from_json(body).primary
    assert body["tables"][0]["rows"][0][0] == '{"a": 1}'  # nothing decoded by parsing
    assert t.rows[0] == ({"a": 1},)
    assert t.rows[0][0] is t.rows[0][0]  # decoded once, then kept


def test_rows_dicts_and_iteration() -> None:
    t = QueryResult.from_json(answer([("a", "long"), ("b", "string")], [[1, "x"], [2, "y"]])).primary
    assert list(t.rows) == [(1, "x"), (2, "y")]
    assert t.rows[-1] == (2, "y")
    assert t.rows[0:1] == ((1, "x"),)
    assert len(t) == 2 and len(t.rows) == 2
    assert list(t) == [(1, "x"), (2, "y")]
    assert t.to_dicts() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert t.index("b") == 1
    with pytest.raises(InvalidInputError, match=r"no column 'c' in table 'PrimaryResult'; columns: \['a', 'b'\]"):
        t.column("c")


def test_bad_cell_names_table_row_column_and_value() -> None:
    body = answer([("n", "long")], [[1], [2], ["many"]])
    with pytest.raises(SerializationError, match=r"tables\[0\]\.rows\[2\] column 'n' \(long\).*'many'"):
        QueryResult.from_json(body)
    body = answer([("t", "datetime")], [["2024-01-01T00:00:00Z"], ["soon"]])
    with pytest.raises(SerializationError, match=r"rows\[1\] column 't' \(datetime\).*'soon'"):
        QueryResult.from_json(body)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"{not json", "body is not JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"tables": {}}', "'tables' must be an array"),
        (
            b'{"tables": [{"name": "t", "columns": [{"name": "a", "type": "long"}], "rows": [[1, 2]]}]}',
            r"rows\[0\]: expected an array of 1 cells",
        ),
    ],
)
def test_malformed_answers(data: bytes, match: str) -> None:
    with pytest.raises(SerializationError, match=match):
        QueryResult.from_json(data)


def test_pascal_case_arm_shape_and_dotnet_type_names() -> None:
    body = {
        "Tables": [
            {
                "TableName": "Table_0",
                "Columns": [{"ColumnName": "T", "DataType": "DateTime"}, {"ColumnName": "N", "DataType": "Int64"}],
                "Rows": [["2024-01-01T00:00:00Z", "3"]],
            }
        ]
    }
    t = QueryResult.from_json(body).primary
    assert t.name == "Table_0"
    assert [(c.name, c.type) for c in t.columns] == [("T", "datetime"), ("N", "long")]
    assert t.rows[0] == (datetime(2024, 1, 1, tzinfo=UTC), 3)


def test_statistics_and_render_are_kept_read_only() -> None:
    result = QueryResult.from_json(
        answer([("x", "long")], [], statistics={"query": {"executionTime": 0.1}}, render={"visualization": "timechart"})
    )
    assert result.statistics is not None and result.statistics["query"]["executionTime"] == 0.1
    assert result.render is not None and result.render["visualization"] == "timechart"


def test_timeseries_from_source_document_projection() -> None:
    rows = [
        [3, "2024-01-02T00:00:00Z", "Events"],
        [None, "2024-01-01T00:00:00Z", "Events"],
        [5, "2024-01-03T00:00:00Z", "Events"],
    ]
    t = QueryResult.from_json(answer([("Value", "long"), ("Time", "datetime"), ("Legend", "string")], rows)).primary
    series = TimeSeries.from_table(t)
    assert series.legend == "Events"
    assert series.points == (
        (datetime(2024, 1, 1, tzinfo=UTC), 0),
        (datetime(2024, 1, 2, tzinfo=UTC), 3),
        (datetime(2024, 1, 3, tzinfo=UTC), 5),
    )
    assert series.total == 8


def test_timeseries_several_legends_and_make_series_rows() -> None:
    cols = [("Legend", "string"), ("Value", "dynamic"), ("Time", "dynamic")]
    rows = [
        ["A", "[1, 2]", '["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"]'],
        ["B", "[0, 7]", '["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"]'],
    ]
    t: Table = QueryResult.from_json(answer(cols, rows)).primary
    a, b = TimeSeries.all_from_table(t)
    assert (a.legend, [v for _, v in a.points]) == ("A", [1, 2])
    assert (b.legend, b.total) == ("B", 7)
    with pytest.raises(InvalidInputError, match="holds 2 series"):
        TimeSeries.from_table(t)


def test_str_previews_the_first_rows_and_says_how_many_more():
    from m365sentinel.models import QueryResult

    rows = [[f"2025-11-20T{h:02d}:00:00Z", h, "x" * (45 if h == 0 else 1)] for h in range(12)]
    doc = {
        "tables": [
            {
                "name": "PrimaryResult",
                "columns": [
                    {"name": "TimeGenerated", "type": "datetime"},
                    {"name": "Count", "type": "long"},
                    {"name": "Name", "type": "string"},
                ],
                "rows": rows,
            }
        ],
        "error": {"code": "PartialError", "message": "limits reached"},
    }
    lines = str(QueryResult.from_json(doc)).splitlines()
    assert lines[0] == "PrimaryResult:"
    assert lines[1] == "TimeGenerated                 Count  Name"
    assert lines[2] == "2025-11-20T00:00:00.0000000Z  0      " + "x" * 39 + "…"
    assert lines[3] == "2025-11-20T01:00:00.0000000Z  1      x"
    assert lines[12] == "(12 rows, 2 more not shown)"
    assert lines[-1] == "PARTIAL: PartialError: limits reached"


def test_a_decoded_dict_is_read_not_modified() -> None:
    body = answer([("t", "datetime"), ("n", "long")], [["2024-01-01T00:00:00Z", "3"]])
    t = QueryResult.from_json(body).primary
    assert body["tables"][0]["rows"] == [["2024-01-01T00:00:00Z", "3"]]
    assert t.rows[0] == (datetime(2024, 1, 1, tzinfo=UTC), 3)


def test_dynamic_column_decoded_once_for_rows_and_column_alike() -> None:
    t = QueryResult.from_json(answer([("d", "dynamic"), ("n", "long")], [['{"a": 1}', 1], ["[2]", 2]])).primary
    first = t.column("d")
    assert first == ({"a": 1}, [2])
    assert first[0] is t.column("d")[0] is t.rows[0][0] is next(iter(t))[0]
    assert t.column("n") == (1, 2)


def test_rows_view_indexes_slices_and_a_table_without_columns() -> None:
    t = QueryResult.from_json(answer([("a", "long"), ("b", "string")], [[1, "x"], [2, "y"], [3, "z"]])).primary
    assert t.rows[-3] == (1, "x") and t.rows[::2] == ((1, "x"), (3, "z")) and t.rows[5:] == ()
    with pytest.raises(IndexError):
        t.rows[3]
    empty = QueryResult.from_json({"tables": [{"name": "t", "columns": [], "rows": [[], []]}]}).primary
    assert (len(empty), list(empty), empty.rows[1], empty.rows[:1], empty.to_dicts()) == (
        2,
        [(), ()],
        (),
        ((),),
        [{}, {}],
    )


def test_a_result_pickles_before_and_after_its_dynamic_cells_are_read() -> None:
    import pickle

    result = QueryResult.from_json(
        answer([("d", "dynamic"), ("t", "datetime")], [['{"a": 1}', "2024-01-01T00:00:00Z"]])
    )
    expected = [({"a": 1}, datetime(2024, 1, 1, tzinfo=UTC))]
    assert list(pickle.loads(pickle.dumps(result)).primary) == expected
    assert list(result.primary) == expected
    assert list(pickle.loads(pickle.dumps(result)).primary) == expected


@pytest.mark.parametrize("enabled", [True, False])
def test_collector_paused_while_decoding_and_restored_after(monkeypatch: pytest.MonkeyPatch, enabled: bool) -> None:
    import gc

    from m365sentinel.models import _query

    seen: list[bool] = []

    def recording(data: Any) -> Any:
        seen.append(gc.isenabled())
        return json.loads(data)

    monkeypatch.setattr(_query, "decode_json", recording)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        table = QueryResult.from_json(json.dumps(answer([("d", "dynamic")], [['{"a": 1}'], ["[2]"]]))).primary
        assert table.column("d") == ({"a": 1}, [2])
        assert (seen, gc.isenabled()) == ([False, False, False], enabled)  # the body, then two cells
    finally:
        (gc.enable if was else gc.disable)()
