"""HuntingTable catalogue, the Connect-events manual step, retention changes and the tables API request builders."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from m365sentinel import kql
from m365sentinel._errors import InvalidInputError
from m365sentinel._hunting import (
    Dialect,
    HuntingTable,
    TableIngestion,
    events_manual_step,
    retention_changes,
    retention_notes,
    usage_by_table_query,
)
from m365sentinel._ids import WorkspaceId
from m365sentinel._plan import Action
from m365sentinel._transport import Cloud
from m365sentinel.kql._schemas import TableSchema, _overlay
from m365sentinel.models import TimeSeries

REF = Path(__file__).resolve().parents[1] / "reference"
WS = WorkspaceId.parse(
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.OperationalInsights/workspaces/law-sentinel"
)
SOURCE_TEN = [
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
]


def test_catalogue_is_the_connector_definitions_data_types_less_incidents_and_alerts():
    extract = json.loads(
        (REF / "arm/azure-sentinel-ui/MicrosoftThreatProtection.connector-ui.extract.json").read_text()
    )
    expected = [n for n in extract["dataTypes[].name"] if n not in ("SecurityIncident", "SecurityAlert")]
    assert sorted(m.value for m in HuntingTable) == sorted(expected)
    assert len(HuntingTable) == 20
    assert "IdentityInfo" not in {m.value for m in HuntingTable}  # written by UEBA in Sentinel, not streamed


def test_source_document_tables_in_order_with_its_descriptions():
    assert [t.value for t in HuntingTable.source_document()] == SOURCE_TEN
    assert HuntingTable.DeviceImageLoadEvents.description == "DLL loading events"
    assert HuntingTable.DeviceNetworkInfo.description == (
        "Network properties of devices, including physical adapters, IP and MAC addresses, as well as connected "
        "networks and domains"
    )
    text = (REF / "source-document.txt").read_text()
    for t in HuntingTable.source_document():
        assert f"{t.value} {t.description}" in text
    assert not HuntingTable.EmailEvents.in_source_document


@pytest.mark.parametrize(
    ("table", "product"),
    [
        (HuntingTable.DeviceEvents, "Microsoft Defender for Endpoint"),
        (HuntingTable.EmailUrlInfo, "Microsoft Defender for Office 365"),
        (HuntingTable.UrlClickEvents, "Microsoft Defender for Office 365"),
        (HuntingTable.IdentityQueryEvents, "Microsoft Defender for Identity"),
        (HuntingTable.CloudAppEvents, "Microsoft Defender for Cloud Apps"),
        (HuntingTable.AlertEvidence, "Microsoft Defender XDR"),
    ],
)
def test_products(table, product):
    assert table.product == product


def test_lookup_is_case_insensitive_and_errors_list_valid_names():
    assert HuntingTable.from_name("deviceprocessevents") is HuntingTable.DeviceProcessEvents
    assert HuntingTable.from_name(" EMAILEVENTS ") is HuntingTable.EmailEvents
    assert HuntingTable.from_name(HuntingTable.AlertEvidence) is HuntingTable.AlertEvidence
    with pytest.raises(InvalidInputError) as err:
        HuntingTable.from_name("DeviceTvmSoftwareInventory")
    assert "'DeviceTvmSoftwareInventory'" in str(err.value)
    assert "DeviceProcessEvents" in str(err.value) and "AlertEvidence" in str(err.value)
    with pytest.raises(InvalidInputError):
        HuntingTable.from_name(3)  # type: ignore[arg-type]


def test_members_are_table_name_strings():
    assert HuntingTable.DeviceEvents == "DeviceEvents"
    assert str(kql.table(HuntingTable.DeviceEvents).take(1)) == "DeviceEvents\n| take 1"


def test_every_table_has_a_typed_schema_with_timegenerated():
    for t in HuntingTable:
        cols = dict(t.columns)
        assert cols["TimeGenerated"] == "datetime", t
        assert len(t.columns) >= 10, t
    assert dict(HuntingTable.UrlClickEvents.columns)["IsClickedThrough"] == "bool"
    assert dict(HuntingTable.EmailAttachmentInfo.columns)["FileSize"] == "long"


def test_extra_schemas_agree_with_the_kql_registry_and_cite_sources():
    data = json.loads(Path("m365sentinel/_data/hunting_tables.json").read_text())
    # The registry overlays Sentinel's validation schemas on these (kql/_schema_data/sentinel_validation.json).
    overlay = json.loads(Path("m365sentinel/kql/_schema_data/sentinel_validation.json").read_text())["tables"]
    for name, cols in data["schemas"].items():
        expected = _overlay(TableSchema(name, tuple((c, t) for c, t in cols)), name, overlay.get(name, []))
        assert kql.schema_for(name).columns == expected.columns, name
        assert data["_sources"][name]
    for t in HuntingTable:
        assert t.value in data["_sources"]


def test_streaming_sample_columns_exist_in_the_sentinel_schemas():
    # Defender streaming rows carry Timestamp where Sentinel has TimeGenerated; every other column must be known.
    seen: dict[str, set[str]] = {}
    for f in (REF / "samples/streaming-api").glob("*.jsonl"):
        for line in f.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                seen.setdefault(row["category"].split("-", 1)[1], set()).update(row["properties"])
    for name in ("EmailUrlInfo", "EmailPostDeliveryEvents", "UrlClickEvents", "EmailAttachmentInfo"):
        cols = set(dict(HuntingTable.from_name(name).columns))
        assert seen[name] - {"Timestamp"} <= cols, (name, seen[name] - cols)
    # Known gap: the Defender stream has IsAdminOperation, the Jul-2024 Log Analytics reference does not list it.
    cols = set(dict(HuntingTable.IdentityQueryEvents.columns))
    # Timestamp is known since Sentinel's validation schemas are overlaid (kql/_schema_data/sentinel_validation.json).
    assert seen["IdentityQueryEvents"] - cols == {"IsAdminOperation"}


def test_time_column_per_dialect():
    assert HuntingTable.DeviceEvents.time_column() == "TimeGenerated"
    assert HuntingTable.DeviceEvents.time_column(Dialect.DEFENDER) == "Timestamp"
    assert HuntingTable.EmailEvents.time_column(Dialect.SENTINEL) == "TimeGenerated"


def test_typed_column_access(kql_parser):
    t = HuntingTable.DeviceProcessEvents
    assert t.col("FileName").kind == "string"
    with pytest.raises(InvalidInputError) as err:
        t.col("FileNme")
    assert "FileName" in str(err.value)
    q = t.query().where(t.col("FileName") == "powershell.exe").project("DeviceName", "ProcessCommandLine")
    assert kql_parser.assert_clean(q.to_kql()) == [("DeviceName", "string"), ("ProcessCommandLine", "string")]
    with pytest.raises(InvalidInputError):
        t.query().where(t.col("FileSize") == "big")  # a string literal compared with a long column


def test_every_catalogue_table_parses(kql_parser):
    for t in HuntingTable:
        kql_parser.assert_clean(t.query().where(t.col("TimeGenerated") > kql.fn.ago("1d")).take(5).to_kql())


def test_usage_query_shape_and_parser(kql_parser):
    q = usage_by_table_query(["DeviceEvents", "EmailEvents"], days=14)
    assert q.to_kql() == (
        "let Now = now();\n"
        "Usage\n"
        '| where TimeGenerated >= Now - 14d and TimeGenerated < Now and DataType in ("DeviceEvents", "EmailEvents")\n'
        "| summarize Quantity = sum(Quantity), BillableQuantity = sumif(Quantity, IsBillable == true), "
        "LastReceived = max(TimeGenerated) by DataType, Day = bin_at(TimeGenerated, 1d, Now)\n"
        "| sort by DataType asc, Day asc"
    )
    cols = dict(kql_parser.assert_clean(q.to_kql()))
    assert cols["Day"] == "datetime" and cols["Quantity"] == "real" and cols["LastReceived"] == "datetime"
    with pytest.raises(InvalidInputError):
        usage_by_table_query([], days=14)
    with pytest.raises(InvalidInputError):
        usage_by_table_query(["DeviceEvents"], days=0)


# --- Connect events: the manual step ---------------------------------------------------------------------------


def _ing(name: str, flowing: bool, inconclusive: bool = False) -> TableIngestion:
    t = datetime(2025, 11, 20, 11, 59, tzinfo=UTC)
    return TableIngestion(
        name,
        t if flowing else None,
        1.5 if flowing else 0.0,
        1.5 if flowing else 0.0,
        TimeSeries(legend=name, points=()),
        inconclusive,
    )


def test_manual_step_due_while_a_declared_table_is_silent():
    declared = [HuntingTable.DeviceProcessEvents, HuntingTable.EmailEvents, HuntingTable.IdentityLogonEvents]
    ingestion = {"DeviceProcessEvents": _ing("DeviceProcessEvents", True), "EmailEvents": _ing("EmailEvents", False)}
    step = events_manual_step(declared, ingestion)
    assert step is not None
    assert step.title == "Connect events: select the advanced hunting tables in the Defender XDR connector"
    assert step.instructions[0].startswith(
        "In Microsoft Sentinel, select Data connectors, select Microsoft Defender XDR"
    )
    assert step.instructions[1] == (
        "In the Configuration section, under Connect events, mark the check boxes of the tables with the event types "
        "you wish to collect: Microsoft Defender for Office 365: EmailEvents; Microsoft Defender for Identity: "
        "IdentityLogonEvents."
    )
    assert step.instructions[2] == "Click Apply Changes."
    assert "no published API selects" in step.reason
    assert "EmailEvents, IdentityLogonEvents" in step.reason


def test_manual_step_not_due_when_every_declared_table_flows():
    ingestion = {"DeviceEvents": _ing("DeviceEvents", True)}
    assert events_manual_step([HuntingTable.DeviceEvents], ingestion) is None
    assert events_manual_step([], ingestion) is None


def test_manual_step_stays_due_on_inconclusive_usage():
    step = events_manual_step(["DeviceEvents"], {"DeviceEvents": _ing("DeviceEvents", False, inconclusive=True)})
    assert step is not None and "partial results for DeviceEvents" in step.reason


# --- retention ---------------------------------------------------------------------------------------------------


def _table(name: str, retention: int, total: int, default: bool = False) -> dict:
    return {
        "id": f"{WS.resource_id}/tables/{name}",
        "name": name,
        "properties": {
            "retentionInDays": retention,
            "totalRetentionInDays": total,
            "plan": "Analytics",
            "retentionInDaysAsDefault": default,
            "archiveRetentionInDays": total - retention,
        },
    }


def test_retention_changes_only_for_differences_with_patch_bodies():
    observed = {"DeviceEvents": _table("DeviceEvents", 90, 90, True), "DeviceInfo": _table("DeviceInfo", 180, 365)}
    changes = retention_changes({HuntingTable.DeviceEvents: (180, 730), "deviceinfo": (180, 365)}, observed)
    assert len(changes) == 1
    c = changes[0]
    assert (c.action, c.resource_type, c.name, c.kind, c.etag) == (
        Action.UPDATE,
        "tables",
        "DeviceEvents",
        "table",
        None,
    )
    assert [(f.path, f.before, f.after) for f in c.fields] == [
        ("properties.retentionInDays", 90, 180),
        ("properties.totalRetentionInDays", 90, 730),
    ]
    assert c.body == {"properties": {"retentionInDays": 180, "totalRetentionInDays": 730}}


def test_retention_none_leaves_a_value_and_idempotent_after_apply():
    observed = {"DeviceEvents": _table("DeviceEvents", 90, 90)}
    (c,) = retention_changes({"DeviceEvents": (None, 400)}, observed)
    assert c.body == {"properties": {"totalRetentionInDays": 400}}
    applied = {"DeviceEvents": _table("DeviceEvents", 90, 400)}
    assert retention_changes({"DeviceEvents": (None, 400)}, applied) == []


def test_retention_for_a_table_not_listed_is_a_note():
    desired = {"EmailEvents": (90, 365)}
    assert retention_changes(desired, {}) == []
    assert retention_notes(desired, {}) == (
        "table EmailEvents is not in the workspace's tables list yet; its retention is set once the table exists",
    )


@pytest.mark.parametrize(
    "value",
    [(3, 100), (731, 800), (30, 4384), (100, 50), ("90", 100), (True, 100), (90,), [90, 100]],
)
def test_retention_validation(value):
    with pytest.raises(InvalidInputError):
        retention_changes({"DeviceEvents": value}, {})


def test_retention_accepts_minus_one_defaults():
    (c,) = retention_changes({"DeviceEvents": (-1, -1)}, {"DeviceEvents": _table("DeviceEvents", 180, 365)})
    assert c.body == {"properties": {"retentionInDays": -1, "totalRetentionInDays": -1}}


def test_tables_api_request_builders():
    from m365sentinel._api_versions import ApiVersions
    from m365sentinel._ids import WorkspaceId
    from m365sentinel._routes import Routes

    routes = Routes(Cloud.resolve("AzureCloud"), WorkspaceId.parse(WS.resource_id), ApiVersions())
    base = (
        "https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/"
        "providers/Microsoft.OperationalInsights/workspaces/law-sentinel/tables"
    )
    spec = routes.list_tables()
    assert (spec.method, spec.url, spec.json) == ("GET", f"{base}?api-version=2023-09-01", None)
    spec = routes.get_table("DeviceEvents")
    assert (spec.method, spec.url) == ("GET", f"{base}/DeviceEvents?api-version=2023-09-01")
    spec = routes.patch_table("DeviceEvents", {"properties": {"retentionInDays": 180}})
    assert (spec.method, spec.url, spec.json) == (
        "PATCH",
        f"{base}/DeviceEvents?api-version=2023-09-01",
        {"properties": {"retentionInDays": 180}},
    )
    with pytest.raises(InvalidInputError):
        routes.get_table("..")
