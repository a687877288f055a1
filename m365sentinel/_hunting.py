"""HuntingTable: the advanced hunting tables the Defender XDR connector streams ("Connect events"), and the pure
pieces the plan needs for them: the manual selection step, per-table ingestion from ``Usage``, and retention.

No published Microsoft.SecurityInsights api-version selects (or reads the selection of) these tables: the portal
uses an unpublished step (connector UI instruction type ``MicrosoftDefenderATPEvents``). So the selection is a
``ManualStep`` with the source document's exact instructions, due while a declared table shows no data, and the
per-table facts come from the ``Usage`` table (cheap: no table scans). Retention is per table in Log Analytics:
``GET/PATCH {workspace}/tables/{name}`` (Microsoft.OperationalInsights, api-version ``TABLES_API_VERSION``).

The catalogue is data: ``m365sentinel/_data/hunting_tables.json`` (names, products, descriptions, extra schemas and
their sources).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import InvalidInputError
from ._plan import Action, Change, FieldChange, ManualStep

if TYPE_CHECKING:
    from .kql import Query
    from .kql._expr import Column
    from .models import QueryResult, TimeSeries

__all__ = [
    "Dialect",
    "HuntingTable",
    "TableIngestion",
    "events_manual_step",
    "ingestion_from_usage",
    "presence",
    "retention_changes",
    "retention_notes",
    "tables_by_name",
    "usage_by_table_query",
]

# Workspace tables API (Microsoft.OperationalInsights/workspaces/tables): stable, the same version as the workspace
# resource. Its TableProperties: retentionInDays 4..730 (-1 = workspace default), totalRetentionInDays 4..4383
# (-1 = the table's retention), plan Basic | Analytics (Azure/azure-rest-api-specs stable/2023-09-01/Tables.json).
RETENTION_RANGE = (4, 730)
TOTAL_RETENTION_RANGE = (4, 4383)
TABLE_RESOURCE_TYPE = "tables"
TABLE_KIND = "table"  # tables have no ARM kind; Change.kind says what the resource is


@cache
def _catalogue() -> Mapping[str, Any]:
    data: Mapping[str, Any] = json.loads(files("m365sentinel._data").joinpath("hunting_tables.json").read_text("utf-8"))
    return data


def _entry(name: str) -> Mapping[str, Any]:
    for item in _catalogue()["tables"]:
        if item["name"] == name:
            return item  # type: ignore[no-any-return]
    raise KeyError(name)  # pragma: no cover - members are generated from the same data


class Dialect(enum.Enum):
    """Where a query runs: Microsoft Sentinel (Log Analytics) or Defender advanced hunting (Graph runHuntingQuery)."""

    SENTINEL = "sentinel"
    DEFENDER = "defender"


class HuntingTable(enum.StrEnum):
    """The advanced hunting tables the Defender XDR connector can stream to Sentinel (its ``dataTypes``).

    Members are strings (the table name), so they can go wherever a table name goes. ``HuntingTable.from_name``
    looks a name up case-insensitively. The first ten are the source document's "Connect events" tables
    (Defender for Endpoint). ``IdentityInfo`` is not here: in Sentinel it is written by UEBA (see
    ``Connector.entities``), not streamed by this connector.
    """

    DeviceInfo = "DeviceInfo"
    DeviceNetworkInfo = "DeviceNetworkInfo"
    DeviceProcessEvents = "DeviceProcessEvents"
    DeviceNetworkEvents = "DeviceNetworkEvents"
    DeviceFileEvents = "DeviceFileEvents"
    DeviceRegistryEvents = "DeviceRegistryEvents"
    DeviceLogonEvents = "DeviceLogonEvents"
    DeviceImageLoadEvents = "DeviceImageLoadEvents"
    DeviceEvents = "DeviceEvents"
    DeviceFileCertificateInfo = "DeviceFileCertificateInfo"
    EmailEvents = "EmailEvents"
    EmailUrlInfo = "EmailUrlInfo"
    EmailAttachmentInfo = "EmailAttachmentInfo"
    EmailPostDeliveryEvents = "EmailPostDeliveryEvents"
    UrlClickEvents = "UrlClickEvents"
    IdentityLogonEvents = "IdentityLogonEvents"
    IdentityQueryEvents = "IdentityQueryEvents"
    IdentityDirectoryEvents = "IdentityDirectoryEvents"
    CloudAppEvents = "CloudAppEvents"
    AlertEvidence = "AlertEvidence"

    @classmethod
    def _missing_(cls, value: object) -> HuntingTable:
        # HuntingTable("deviceevents") is as forgiving as from_name, and as clear when the name is unknown.
        return cls.from_name(value)  # type: ignore[arg-type]

    @classmethod
    def from_name(cls, name: str | HuntingTable) -> HuntingTable:
        """The member named ``name`` (any case). Raises InvalidInputError listing the valid names."""
        if isinstance(name, HuntingTable):
            return name
        if isinstance(name, str):
            for member in cls:
                if member.value.casefold() == name.strip().casefold():
                    return member
        valid = ", ".join(m.value for m in cls)
        raise InvalidInputError(f"unknown hunting table {name!r}; expected one of: {valid}")

    @classmethod
    def source_document(cls) -> tuple[HuntingTable, ...]:
        """The ten tables of the source document's "Connect events" list, in its order."""
        return tuple(m for m in cls if _entry(m.value)["source_document"])

    @property
    def product(self) -> str:
        """The Defender component that produces the table ("Microsoft Defender for Endpoint", ...)."""
        return str(_entry(self.value)["product"])

    @property
    def description(self) -> str:
        """What the table holds (the source document's "Events type" text for its ten tables)."""
        return str(_entry(self.value)["description"])

    @property
    def in_source_document(self) -> bool:
        return bool(_entry(self.value)["source_document"])

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        """The Sentinel (Log Analytics) columns ``((name, kusto type), ...)``."""
        from .kql import schema_for

        schema = schema_for(self.value)
        assert schema is not None, self.value  # every member has a schema (tests check it)
        return schema.columns

    def time_column(self, dialect: Dialect = Dialect.SENTINEL) -> str:
        """``TimeGenerated`` in Sentinel, ``Timestamp`` in Defender advanced hunting."""
        return "TimeGenerated" if dialect is Dialect.SENTINEL else "Timestamp"

    def query(self) -> Query:
        """``kql.table(name)`` with this table's typed schema."""
        from .kql import table

        return table(self.value)

    def col(self, name: str) -> Column:
        """The typed column ``name``; InvalidInputError (naming close matches) when the table has no such column."""
        if not isinstance(name, str):
            raise InvalidInputError(f"expected a column name (str), got {name!r}")
        return self.query().col(name)


def _tables(values: Iterable[str | HuntingTable]) -> tuple[HuntingTable, ...]:
    if isinstance(values, str):
        raise InvalidInputError(f"expected a sequence of hunting tables, got the string {values!r}")
    return tuple(dict.fromkeys(HuntingTable.from_name(v) for v in values))


# --- ingestion from Usage -------------------------------------------------------------------------------------


@attrs.frozen
class TableIngestion:
    """What ``Usage`` says about one table over the verification window.

    ``last_received``: end of the newest hour with data (Usage is hourly), ``None`` when none. ``volume_mb`` /
    ``billable_mb``: ingested MB (decimal) in the window. ``daily_mb``: MB per day (``TimeSeries``).
    ``inconclusive``: the Usage query returned a partial result (case E5), so "no data" is not proven.
    """

    table: str
    last_received: datetime | None
    volume_mb: float
    billable_mb: float
    daily_mb: TimeSeries
    inconclusive: bool = False

    @property
    def flowing(self) -> bool:
        """Data arrived in the window."""
        return self.volume_mb > 0 or self.last_received is not None


def usage_by_table_query(table_names: Sequence[str], *, days: int = 14) -> Query:
    """Per table and day from ``Usage`` over ``[Now - days, Now)`` (``Now = now()``, the bins of the source document's
    charts): ``DataType, Day, Quantity (MB), BillableQuantity (MB), LastReceived``. Cheap: Usage is small."""
    from .kql import col, fn, table, var

    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidInputError(f"days must be a positive int, got {days!r}")
    names = [str(n) for n in dict.fromkeys(table_names)]
    if not names:
        raise InvalidInputError("usage_by_table_query needs at least one table name")
    q = table("Usage")
    now = var("Now")
    window = timedelta(days=days)
    tg = q.c.TimeGenerated
    return (
        q.where(tg >= now - window, tg < now, q.c.DataType.in_(names))
        .summarize(
            Quantity=fn.sum("Quantity"),
            BillableQuantity=fn.call("sumif", q.c.Quantity, q.c.IsBillable == True),  # noqa: E712 - KQL comparison
            LastReceived=fn.max("TimeGenerated"),
            by=[q.c.DataType, fn.bin_at(tg, timedelta(days=1), now).as_("Day")],
        )
        .sort_by(col("DataType").asc(), col("Day").asc())
        .let("Now", fn.now())
    )


def ingestion_from_usage(result: QueryResult, table_names: Sequence[str]) -> dict[str, TableIngestion]:
    """Per-table ingestion from the answer to ``usage_by_table_query``; every name in ``table_names`` gets an entry
    (no rows -> not flowing). A partial answer marks every entry ``inconclusive``."""
    from .models import TimeSeries

    per: dict[str, list[dict[str, Any]]] = {str(n): [] for n in table_names}
    rows = result.primary.to_dicts() if result.tables else []
    for row in rows:
        per.setdefault(str(row["DataType"]), []).append(row)
    out: dict[str, TableIngestion] = {}
    for name, items in per.items():
        if name not in {str(n) for n in table_names}:
            continue
        points = tuple(sorted((r["Day"], float(r["Quantity"] or 0)) for r in items if r["Day"] is not None))
        last = max((r["LastReceived"] for r in items if r["LastReceived"] is not None), default=None)
        out[name] = TableIngestion(
            table=name,
            last_received=last,
            volume_mb=sum(float(r["Quantity"] or 0) for r in items),
            billable_mb=sum(float(r["BillableQuantity"] or 0) for r in items),
            daily_mb=TimeSeries(legend=name, points=points),
            inconclusive=result.is_partial,
        )
    return out


def presence(ingestion: Mapping[str, TableIngestion]) -> dict[str, bool]:
    """``{table: flowing}``: the ``table_presence`` the entity checks take."""
    return {name: i.flowing for name, i in ingestion.items()}


# --- Connect events: the manual step ---------------------------------------------------------------------------


def events_manual_step(
    declared: Sequence[HuntingTable | str], ingestion: Mapping[str, TableIngestion]
) -> ManualStep | None:
    """The portal step that selects the declared tables, due only while one of them shows no data in ``Usage``
    ("selected-but-silent"); ``None`` when every declared table is flowing (or none is declared).

    No API call is involved or implied: the step's text says so. A table whose ingestion is unknown or
    inconclusive counts as silent (the step stays due until data is seen)."""
    tables = _tables(declared)
    silent = [t for t in tables if not (t.value in ingestion and ingestion[t.value].flowing)]
    if not silent:
        return None
    unsure = [t.value for t in silent if t.value in ingestion and ingestion[t.value].inconclusive]
    by_product: dict[str, list[str]] = {}
    for t in silent:
        by_product.setdefault(t.product, []).append(t.value)
    boxes = "; ".join(f"{product}: {', '.join(names)}" for product, names in by_product.items())
    reason = (
        f"no data in Usage for declared table(s) {', '.join(t.value for t in silent)}; no published API selects the "
        "advanced hunting tables of the Defender XDR connector, so they are selected in the portal"
    )
    if unsure:
        reason += f" (the Usage query returned partial results for {', '.join(unsure)})"
    return ManualStep(
        title="Connect events: select the advanced hunting tables in the Defender XDR connector",
        instructions=(
            "In Microsoft Sentinel, select Data connectors, select Microsoft Defender XDR (formerly Microsoft 365 "
            "Defender) from the gallery and select Open connector page.",
            "In the Configuration section, under Connect events, mark the check boxes of the tables with the event "
            f"types you wish to collect: {boxes}.",
            "Click Apply Changes.",
            "To query the advanced hunting tables in Log Analytics, enter the table name in the query window; run "
            "verification again once data has arrived (this step is no longer listed when every declared table shows "
            "data in Usage).",
        ),
        reason=reason,
    )


# --- retention (workspace tables API) --------------------------------------------------------------------------

Retention = tuple[int | None, int | None]


def _check_days(table: str, what: str, value: int | None, lo_hi: tuple[int, int]) -> None:
    if value is None:
        return
    lo, hi = lo_hi
    if isinstance(value, bool) or not isinstance(value, int) or not (value == -1 or lo <= value <= hi):
        raise InvalidInputError(
            f"{what} for table {table} must be an int from {lo} to {hi} (or -1 for the default), got {value!r}"
        )


def _desired(desired: Mapping[HuntingTable | str, Retention]) -> dict[str, Retention]:
    out: dict[str, Retention] = {}
    for key, value in desired.items():
        name = HuntingTable.from_name(key).value
        if not isinstance(value, tuple) or len(value) != 2:
            raise InvalidInputError(
                f"retention for table {name} must be (retention_days, total_retention_days), got {value!r}"
            )
        ret, total = value
        _check_days(name, "retention_days", ret, RETENTION_RANGE)
        _check_days(name, "total_retention_days", total, TOTAL_RETENTION_RANGE)
        if ret is not None and total is not None and -1 not in (ret, total) and total < ret:
            raise InvalidInputError(
                f"total_retention_days ({total}) for table {name} must be >= retention_days ({ret})"
            )
        out[name] = (ret, total)
    return out


def _find(observed: Mapping[str, Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    for key, raw in observed.items():
        if key.casefold() == name.casefold():
            return raw
    return None


def retention_changes(
    desired: Mapping[HuntingTable | str, Retention], observed_tables: Mapping[str, Mapping[str, Any]]
) -> list[Change]:
    """One ``Change`` (resource_type ``"tables"``, action UPDATE) per table whose retention differs from
    ``desired`` (``{table: (retention_days, total_retention_days)}``; ``None`` leaves a value as it is).

    ``observed_tables`` maps table names to the raw JSON read from ``GET {workspace}/tables/{name}``. The body is the
    PATCH body of Tables_Update: ``{"properties": {...}}`` with only the intended properties (PATCH merges them
    into the resource server-side; a PUT would resend the read-only schema). Tables absent from
    ``observed_tables`` get no change (see ``retention_notes``). Pure; raises InvalidInputError for bad input.
    """
    wanted = _desired(desired)
    changes: list[Change] = []
    for name, (ret, total) in wanted.items():
        raw = _find(observed_tables, name)
        if raw is None:
            continue
        props: Mapping[str, Any] = raw["properties"] if isinstance(raw.get("properties"), Mapping) else {}
        fields: list[FieldChange] = []
        body_props: dict[str, Any] = {}
        for key, value in (("retentionInDays", ret), ("totalRetentionInDays", total)):
            if value is None:
                continue
            before = props.get(key)
            # -1 asks for the default; the service reports the effective days and flags them "<key>AsDefault".
            already = props.get(f"{key}AsDefault") is True if value == -1 else before == value
            if not already:
                fields.append(FieldChange(f"properties.{key}", before, value))
                body_props[key] = value
        if not fields:
            continue
        changes.append(
            Change(
                Action.UPDATE,
                TABLE_RESOURCE_TYPE,
                str(raw.get("name") or name),
                TABLE_KIND,
                f"{name} retention",
                "increased retention in Log Analytics is set per table (the source document's 'store the logs with "
                "increased retention')",
                None,
                tuple(fields),
                {"properties": body_props},
            )
        )
    return changes


def retention_notes(
    desired: Mapping[HuntingTable | str, Retention], observed_tables: Mapping[str, Mapping[str, Any]]
) -> tuple[str, ...]:
    """Notes for declared retention that cannot be planned: the table is not in the workspace's tables list yet."""
    return tuple(
        f"table {name} is not in the workspace's tables list yet; its retention is set once the table exists"
        for name in _desired(desired)
        if _find(observed_tables, name) is None
    )


def tables_by_name(listed: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """``{name: raw}`` from the items of a tables list (the ``observed_tables`` of ``retention_changes``)."""
    return {str(item.get("name")): item for item in listed if item.get("name")}
