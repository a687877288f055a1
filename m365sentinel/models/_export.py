"""Result tables and incident lists as pandas or polars DataFrames, CSV and JSON Lines.

Reads a ``Table`` through its public API only (``columns``, ``column()``, ``rows``). One column type maps to one
DataFrame type whatever the values, so a frame's schema depends on the query, not on which cells happen to be null:

==========  ==============================  ===========================  =============================================
Kusto       pandas (``pandas`` extra)       polars (``polars`` extra)    CSV / JSON Lines text
==========  ==============================  ===========================  =============================================
datetime    ``datetime64[us, UTC]``         ``Datetime("us", "UTC")``    ``2025-11-20T12:00:00.0000000Z``
timespan    ``timedelta64[us]``             ``Duration("us")``           ``[-][d.]hh:mm:ss[.fffffff]`` (Kusto's form)
long, int   ``Int64`` (nullable)            ``Int64``                    digits
real        ``Float64`` (nullable; NaN      ``Float64`` (NaN kept)       ``1.5``, ``NaN``, ``Infinity``,
            stays NaN, null is ``<NA>``)                                 ``-Infinity`` (as the service sends them)
bool        ``boolean`` (nullable)          ``Boolean``                  ``true`` / ``false``
string,     ``string`` (nullable)           ``String``                   as is
guid
decimal     ``object`` (``Decimal``)        ``Decimal(38, scale)``       exact decimal text (a JSON string in JSONL)
dynamic,    ``object`` (Python values:      ``Object``                   compact JSON (CSV); nested JSON (JSONL)
other       dict, list, str, number)
==========  ==============================  ===========================  =============================================

Nulls stay nulls: ``<NA>``/``NaT``/``None`` in pandas, ``null`` in polars and JSON Lines, an empty field in CSV.
Microsecond units keep years 1 to 9999 (nanoseconds would overflow outside 1677-2262); Kusto's 100 ns ticks
are already cut to microseconds by Python's ``datetime``.
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Context, Decimal
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .._errors import InvalidInputError, MissingExtraError
from ._arm import Incident
from ._query import Table
from ._time import format_datetime

if TYPE_CHECKING:
    import pandas
    import polars

__all__ = ["incidents_table", "table_to_csv", "table_to_jsonl", "table_to_pandas", "table_to_polars"]


def _extra(module: str, feature: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingExtraError(feature, module, exc.name) from exc


# --- DataFrames ------------------------------------------------------------------------------------------------


def table_to_pandas(table: Table) -> pandas.DataFrame:
    """``table`` as a pandas DataFrame, one typed column per result column (see the module docstring).

    Raises:
        MissingExtraError: pandas is not installed (``pip install 'm365sentinel[pandas]'``).
    """
    pd = _extra("pandas", "to_pandas()")
    import numpy as np  # pandas depends on it

    def masked(values: Sequence[Any], fill: Any, dtype: str) -> tuple[Any, Any]:
        mask = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
        data = np.fromiter((fill if v is None else v for v in values), dtype=dtype, count=len(values))
        return data, mask

    def objects(values: Sequence[Any]) -> Any:
        out = np.empty(len(values), dtype=object)  # element-wise: a list cell must not become a new axis
        out[:] = values
        return out

    def convert(kusto_type: str, values: Sequence[Any]) -> Any:
        if kusto_type == "datetime":
            return pd.array(values, dtype=pd.DatetimeTZDtype("us", "UTC"))
        if kusto_type == "timespan":
            return pd.array(values, dtype="timedelta64[us]")
        if kusto_type in ("long", "int"):
            return pd.arrays.IntegerArray(*masked(values, 0, "int64"))
        if kusto_type == "real":
            return pd.arrays.FloatingArray(*masked(values, 0.0, "float64"))
        if kusto_type == "bool":
            return pd.arrays.BooleanArray(*masked(values, False, "bool"))
        if kusto_type in ("string", "guid"):
            return pd.array(values, dtype=pd.StringDtype("python"))
        return objects(values)

    _ = table.rows  # decodes the dynamic columns once, kept on the table (column() alone would decode per call)
    data = {c.name: convert(c.type, table.column(c.name)) for c in table.columns}
    return pd.DataFrame(data, columns=list(table.column_names))


def table_to_polars(table: Table) -> polars.DataFrame:
    """``table`` as a polars DataFrame, one typed column per result column (see the module docstring).

    Raises:
        MissingExtraError: polars is not installed (``pip install 'm365sentinel[polars]'``).
    """
    pl = _extra("polars", "to_polars()")
    types: dict[str, Any] = {
        "datetime": pl.Datetime("us", "UTC"),
        "timespan": pl.Duration("us"),
        "long": pl.Int64,
        "int": pl.Int64,
        "real": pl.Float64,
        "bool": pl.Boolean,
        "string": pl.Utf8,
        "guid": pl.Utf8,
    }
    series = []
    for c in table.columns:
        values = table.column(c.name)
        if c.type == "decimal":
            # Kusto's decimal has at most 34 significant digits: 38 holds any; one scale fits every cell.
            exponents = [v.as_tuple().exponent for v in values if v is not None]
            scale = max(0, max((-e for e in exponents if isinstance(e, int)), default=0))
            step, context = Decimal(1).scaleb(-scale), Context(prec=38)  # polars 1.0 wants one scale in the values
            values = tuple(None if v is None else context.quantize(v, step) for v in values)
            series.append(pl.Series(c.name, values, dtype=pl.Decimal(38, scale)))
        else:
            series.append(pl.Series(c.name, values, dtype=types.get(c.type, pl.Object)))
    frame: polars.DataFrame = pl.DataFrame(series)
    return frame


# --- text files ------------------------------------------------------------------------------------------------


def format_timespan(value: timedelta) -> str:
    """Kusto's timespan text, as Log Analytics returns it: ``[-][d.]hh:mm:ss[.fffffff]``."""
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    seconds, micro = divmod(abs(micros), 1_000_000)
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    head = f"{sign}{days}." if days else sign
    tail = f".{micro:06d}0" if micro else ""
    return f"{head}{hours:02d}:{minutes:02d}:{seconds:02d}{tail}"


def _float_text(value: float) -> str | float:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _json_value(value: Any) -> Any:
    """A cell as a JSON value: the wire forms of datetimes, timespans, decimals and non-finite reals."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, timedelta):
        return format_timespan(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return _dumps(value)
    return str(_json_value(value))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_value)


def _open_for_writing(path: str | os.PathLike[str], what: str) -> Any:
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise InvalidInputError(f"{what}(path={path!r}): expected a file path (str or os.PathLike)")
    target = Path(path)
    if not target.parent.is_dir():
        raise InvalidInputError(f"{what}(path={str(target)!r}): the folder {str(target.parent)!r} does not exist")
    try:
        return target.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise InvalidInputError(f"{what}(path={str(target)!r}): cannot write the file ({exc.strerror})") from exc


def _write(path: str | os.PathLike[str], what: str, write: Callable[[Any], None]) -> None:
    with _open_for_writing(path, what) as handle:
        try:
            write(handle)
        except OSError as exc:  # disk full, quota: the caller's file, named
            raise InvalidInputError(f"{what}(path={str(path)!r}): writing failed ({exc.strerror})") from exc


def table_to_csv(table: Table, path: str | os.PathLike[str]) -> int:
    """Write ``table`` to ``path`` as UTF-8 CSV (RFC 4180, a header row of column names); returns the row count.

    Cells are written in the text forms of the module docstring; null is an empty field.

    Raises:
        InvalidInputError: ``path`` is not a path, its folder does not exist, or the file cannot be written.
    """

    def write(handle: Any) -> None:
        out = csv.writer(handle, lineterminator="\r\n")
        out.writerow(table.column_names)
        out.writerows([_csv_value(v) for v in row] for row in table.rows)

    _write(path, "to_csv", write)
    return len(table)


def table_to_jsonl(table: Table, path: str | os.PathLike[str]) -> int:
    """Write ``table`` to ``path`` as JSON Lines (UTF-8, one ``{column: value}`` object per row, ``\\n`` after
    each); returns the row count. Dynamic cells stay nested JSON; other cells use the module docstring's text forms.

    Raises:
        InvalidInputError: ``path`` is not a path, its folder does not exist, or the file cannot be written.
    """
    names = table.column_names

    def write(handle: Any) -> None:
        for row in table.rows:
            handle.write(_dumps({n: _json_value(v) for n, v in zip(names, row, strict=True)}))
            handle.write("\n")

    _write(path, "to_jsonl", write)
    return len(table)


# --- incident lists ---------------------------------------------------------------------------------------------

# (column, Kusto type, value of an Incident): the model's own field names, so a frame reads like the objects.
_INCIDENT_COLUMNS: tuple[tuple[str, str, Callable[[Incident], Any]], ...] = (
    ("name", "string", lambda i: i.name),
    ("incident_number", "long", lambda i: i.incident_number),
    ("title", "string", lambda i: i.title),
    ("severity", "string", lambda i: i.severity),
    ("status", "string", lambda i: i.status),
    ("classification", "string", lambda i: i.classification),
    ("classification_reason", "string", lambda i: i.classification_reason),
    ("classification_comment", "string", lambda i: i.classification_comment),
    ("owner", "dynamic", lambda i: None if i.owner is None else _plain(i.owner)),
    ("labels", "dynamic", lambda i: [label.label_name for label in i.labels]),
    ("provider_name", "string", lambda i: i.provider_name),
    ("provider_incident_id", "string", lambda i: i.provider_incident_id),
    ("created_time_utc", "datetime", lambda i: i.created_time_utc),
    ("last_modified_time_utc", "datetime", lambda i: i.last_modified_time_utc),
    ("first_activity_time_utc", "datetime", lambda i: i.first_activity_time_utc),
    ("last_activity_time_utc", "datetime", lambda i: i.last_activity_time_utc),
    ("alerts_count", "long", lambda i: i.additional_data and i.additional_data.alerts_count),
    ("alert_product_names", "dynamic", lambda i: _additional(i, "alert_product_names")),
    ("tactics", "dynamic", lambda i: _additional(i, "tactics")),
    ("description", "string", lambda i: i.description),
    ("incident_url", "string", lambda i: i.incident_url),
    ("etag", "string", lambda i: i.etag),
    ("id", "string", lambda i: i.id),
)


def _additional(incident: Incident, name: str) -> list[str]:
    return list(getattr(incident.additional_data, name)) if incident.additional_data else []


def _plain(model: Any) -> dict[str, Any]:
    import attrs

    return {k: _wire(v) for k, v in attrs.asdict(model).items()}


def _wire(value: Any) -> Any:
    # Table.from_json takes cells as the service sends them: datetimes as text, enums as their strings.
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, str):
        return str.__str__(value)
    return value


def incidents_table(incidents: Iterable[Any]) -> Table:
    """A ``Table`` named ``Incidents`` with one row per incident, ready for ``to_pandas()``, ``to_polars()``,
    ``to_csv(path)`` and ``to_jsonl(path)``.

    ``incidents``: ``Incident`` models or ``StreamedIncident`` items (their ``.incident``), e.g. a stream's output.
    Columns: the ``Incident`` field names (``name``, ``incident_number``, ``title``, ``severity``, ``status``,
    ``classification``..., ``created_time_utc``, ``last_modified_time_utc``... as UTC datetimes, ``owner`` as a
    dict, ``labels``, ``alert_product_names`` and ``tactics`` as lists, ``alerts_count``).

    Raises:
        InvalidInputError: ``incidents`` is not an iterable of incidents (the first bad item is named).
    """
    if isinstance(incidents, (str, bytes)) or not isinstance(incidents, Iterable):
        raise InvalidInputError(f"incidents={incidents!r:.100}: expected an iterable of Incident or StreamedIncident")
    rows = []
    for n, item in enumerate(incidents):
        incident = getattr(item, "incident", item)
        if not isinstance(incident, Incident):
            raise InvalidInputError(f"incidents[{n}]={item!r:.100}: expected an Incident or a StreamedIncident")
        rows.append([_wire(get(incident)) for _, _, get in _INCIDENT_COLUMNS])
    columns = [{"name": name, "type": kusto_type} for name, kusto_type, _ in _INCIDENT_COLUMNS]
    return Table.from_json({"name": "Incidents", "columns": columns, "rows": rows})
