"""Schemas as data for both sides: Sentinel (reference + validation overlay) and Defender advanced hunting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from m365sentinel import kql
from m365sentinel._data import __file__ as _data_init
from m365sentinel.kql._schemas import defender_side

DATA = Path(kql.__file__).parent / "_schema_data"
STREAMED = [t["name"] for t in json.loads((Path(_data_init).parent / "hunting_tables.json").read_text())["tables"]]


def test_email_timestamp_is_a_sentinel_column(kql_parser: Any) -> None:
    q = kql.table("EmailEvents").where(kql.col("Timestamp") > kql.fn.ago("30d")).project("Timestamp", "Subject")
    assert kql_parser.assert_clean(q.to_kql()) == [("Timestamp", "datetime"), ("Subject", "string")]


def test_identityinfo_names_differ_between_the_sides() -> None:
    sentinel = kql.schema_for("IdentityInfo")
    defender = defender_side().tables["IdentityInfo"]
    assert sentinel is not None
    assert {"AccountUPN", "MailAddress", "AccountSID"} <= set(sentinel.kinds)
    assert not {"AccountUpn", "EmailAddress", "OnPremSid"} & set(sentinel.kinds)
    assert {"AccountUpn", "EmailAddress", "OnPremSid"} <= set(defender.kinds)


def test_types_that_differ_between_the_sides() -> None:
    d = defender_side().tables
    assert d["DeviceProcessEvents"].kinds["AdditionalFields"] == "string"
    assert kql.schema_for("DeviceProcessEvents").kinds["AdditionalFields"] == "dynamic"  # type: ignore[union-attr]
    assert d["IdentityLogonEvents"].kinds["Port"] == "int"
    assert kql.schema_for("IdentityLogonEvents").kinds["Port"] == "string"  # type: ignore[union-attr]
    assert "TimeGenerated" not in d["DeviceInfo"].kinds and d["DeviceInfo"].kinds["Timestamp"] == "datetime"


def test_every_streamed_table_has_both_sides_with_a_time_column() -> None:
    d = defender_side().tables
    for name in STREAMED:
        sentinel = kql.schema_for(name)
        assert sentinel is not None and sentinel.kinds["TimeGenerated"] == "datetime", name
        assert d[name].kinds["Timestamp"] == "datetime", name
    for name in ("IdentityInfo", "BehaviorAnalytics", "SecurityIncident", "SecurityAlert", "AlertInfo"):
        assert kql.schema_for(name) is not None, name


def test_schema_files_cite_source_commit_and_date_and_record_disagreements() -> None:
    for file in ("sentinel_validation.json", "defender_tables.json"):
        data = json.loads((DATA / file).read_text())
        assert data["_retrieved"] == "2026-12-04"
        for table in data["tables"]:
            assert data["_sources"][table], (file, table)
    validation = json.loads((DATA / "sentinel_validation.json").read_text())
    assert (
        "EmailEvents.Timestamp: Azure Monitor reference lacks it; Sentinel's validation and sample queries use it "
        "(added)"
    ) in validation["disagreements"]
    assert "@ bc043b8035deba6392cddcece2b78d4142c91b59" in validation["_sources"]["AlertInfo"]
