"""QueryResult and incident lists as pandas / polars DataFrames, CSV and JSON Lines: typed columns, nulls kept."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from m365sentinel import Connector, InvalidInputError, QueryError
from m365sentinel.emulator import Emulator
from m365sentinel.models import QueryResult, incidents_table

COLUMNS = [
    ("T", "datetime"),
    ("D", "timespan"),
    ("N", "long"),
    ("R", "real"),
    ("B", "bool"),
    ("S", "string"),
    ("Y", "dynamic"),
    ("M", "decimal"),
    ("G", "guid"),
]
ROWS = [
    ["2025-11-20T12:00:00.1234567Z", "1.02:03:04.5", 1, "NaN", True, "a,b", '{"k":[1,2]}', "1.25", "0f"],
    [None, None, None, None, None, None, None, None, None],
    ["0001-01-01T00:00:00Z", "-00:00:01", 2**62, 1.5, "false", "", "[1,2]", "10", "x"],
]
T0 = datetime(2025, 11, 20, 12, 0, 0, 123456, tzinfo=UTC)
T1 = datetime(1, 1, 1, tzinfo=UTC)


def result(error: dict[str, object] | None = None) -> QueryResult:
    doc: dict[str, object] = {
        "tables": [
            {
                "name": "PrimaryResult",
                "columns": [{"name": n, "type": t} for n, t in COLUMNS],
                "rows": [list(r) for r in ROWS],
            }
        ]
    }
    if error:
        doc["error"] = error
    return QueryResult.from_json(json.dumps(doc))


def test_to_pandas_types_every_column_and_keeps_nulls() -> None:
    df = result().to_pandas()
    assert [str(t) for t in df.dtypes] == [
        "datetime64[us, UTC]",
        "timedelta64[us]",
        "Int64",
        "Float64",
        "boolean",
        "string",
        "object",
        "object",
        "string",
    ]
    assert list(df["T"])[0::2] == [pd.Timestamp(T0), pd.Timestamp(T1)] and df["T"].isna().tolist() == [
        False,
        True,
        False,
    ]
    assert df["D"].tolist()[0::2] == [pd.Timedelta(days=1, hours=2, minutes=3, seconds=4.5), pd.Timedelta(seconds=-1)]
    assert df["N"].tolist() == [1, pd.NA, 2**62]
    r = df["R"].tolist()
    assert math.isnan(r[0]) and r[1] is pd.NA and r[2] == 1.5  # NaN (a value) and null stay apart
    assert df["B"].tolist() == [True, pd.NA, False]
    assert df["S"].tolist() == ["a,b", pd.NA, ""]
    assert df["Y"].tolist() == [{"k": [1, 2]}, None, [1, 2]]
    assert df["M"].tolist() == [Decimal("1.25"), None, Decimal("10")]


def test_to_polars_types_every_column_and_keeps_nulls() -> None:
    df = result().to_polars()
    assert df.schema == pl.Schema(
        {
            "T": pl.Datetime("us", "UTC"),
            "D": pl.Duration("us"),
            "N": pl.Int64,
            "R": pl.Float64,
            "B": pl.Boolean,
            "S": pl.String,
            "Y": pl.Object,
            "M": pl.Decimal(38, 2),
            "G": pl.String,
        }
    )
    rows = df.rows()
    assert rows[1] == (None,) * 9
    assert rows[0][:3] == (T0, timedelta(days=1, hours=2, minutes=3, seconds=4.5), 1)
    assert math.isnan(rows[0][3]) and rows[2][3] == 1.5
    assert rows[2][:3] == (T1, timedelta(seconds=-1), 2**62)
    assert [r[4:] for r in (rows[0], rows[2])] == [
        (True, "a,b", {"k": [1, 2]}, Decimal("1.25"), "0f"),
        (False, "", [1, 2], Decimal("10.00"), "x"),
    ]


def test_to_csv_writes_the_service_text_forms(tmp_path: Path) -> None:
    assert result().to_csv(tmp_path / "r.csv") == 3
    assert (tmp_path / "r.csv").read_bytes().decode("utf-8") == (
        "T,D,N,R,B,S,Y,M,G\r\n"
        '2025-11-20T12:00:00.1234560Z,1.02:03:04.5000000,1,NaN,true,"a,b","{""k"":[1,2]}",1.25,0f\r\n'
        ",,,,,,,,\r\n"
        '0001-01-01T00:00:00.0000000Z,-00:00:01,4611686018427387904,1.5,false,,"[1,2]",10,x\r\n'
    )


def test_to_jsonl_writes_one_object_per_row(tmp_path: Path) -> None:
    assert result().to_jsonl(str(tmp_path / "r.jsonl")) == 3
    lines = (tmp_path / "r.jsonl").read_text("utf-8").split("\n")
    assert lines[3] == "" and len(lines) == 4
    assert [json.loads(x) for x in lines[:3]] == [
        {
            "T": "2025-11-20T12:00:00.1234560Z",
            "D": "1.02:03:04.5000000",
            "N": 1,
            "R": "NaN",
            "B": True,
            "S": "a,b",
            "Y": {"k": [1, 2]},
            "M": "1.25",
            "G": "0f",
        },
        dict.fromkeys("TDNRBSYMG"),
        {
            "T": "0001-01-01T00:00:00.0000000Z",
            "D": "-00:00:01",
            "N": 2**62,
            "R": 1.5,
            "B": False,
            "S": "",
            "Y": [1, 2],
            "M": "10",
            "G": "x",
        },
    ]


def test_a_partial_result_is_not_exported_as_if_whole(tmp_path: Path) -> None:
    partial = result({"code": "PartialError", "message": "cut", "details": [{"code": "E_QUERY_RESULT_SET_TOO_LARGE"}]})
    for export in (partial.to_pandas, partial.to_polars, lambda: partial.to_csv(tmp_path / "p.csv")):
        with pytest.raises(QueryError, match=r"of a partial result \(the service said PartialError: cut\)") as info:
            export()
        assert info.value.code == "E_QUERY_RESULT_SET_TOO_LARGE"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidInputError, match=r"^to_pandas\(allow_partial='yes'\): expected True or False$"):
        partial.to_pandas(allow_partial="yes")  # type: ignore[arg-type]
    assert partial.to_csv(tmp_path / "p.csv", allow_partial=True) == 3
    assert len(partial.to_pandas(allow_partial=True)) == 3


def test_a_bad_path_is_invalid_input_before_writing(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"to_csv\(path=.*\): the folder '.*missing' does not exist"):
        result().to_csv(tmp_path / "missing" / "r.csv")
    with pytest.raises(InvalidInputError, match=r"to_jsonl\(path=3\): expected a file path"):
        result().to_jsonl(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(("module", "method"), [("pandas", "to_pandas"), ("polars", "to_polars")])
def test_without_the_extra_the_error_names_it(module: str, method: str) -> None:
    code = (
        f"import sys\nsys.modules[{module!r}] = None\n"
        "from m365sentinel import MissingExtraError\n"
        "from m365sentinel.models import QueryResult\n"
        'r = QueryResult.from_json(\'{"tables": [{"name": "t", "columns": [], "rows": []}]}\')\n'
        f"try:\n    r.{method}()\nexcept MissingExtraError as exc:\n    print(exc.extra, exc.name, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (out.stdout, out.stderr) == (
        f"{module} {module} {method}() needs the {module!r} extra: pip install 'm365sentinel[{module}]'\n",
        "",
    )


def test_incident_lists_from_a_stream_export_typed(sentinel_emulator: Emulator, sentinel_connector: Connector) -> None:
    items = list(sentinel_connector.incidents().since(None).max_items(5))
    table = incidents_table(items)
    df = table.to_pandas()
    assert len(df) == 5 and list(df["name"]) == [i.incident.name for i in items]
    assert str(df["created_time_utc"].dtype) == "datetime64[us, UTC]"
    first = items[0].incident
    assert df["created_time_utc"][0] == pd.Timestamp(first.created_time_utc)
    assert df["severity"][0] == first.severity and type(df["severity"][0]) is str
    assert df["labels"][0] == [label.label_name for label in first.labels]
    assert incidents_table([i.incident for i in items]).to_polars()["incident_number"].to_list() == [
        i.incident.incident_number for i in items
    ]
    with pytest.raises(InvalidInputError, match=r"incidents\[1\]='x': expected an Incident or a StreamedIncident"):
        incidents_table([first, "x"])
