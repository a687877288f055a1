"""Log Analytics query results: ``POST /v1/workspaces/{workspaceId}/query`` answers, typed by column.

Shape read: ``{"tables": [{"name", "columns": [{"name", "type"}], "rows": [[...]]}], "statistics"?, "render"?,
"error"?}`` (also the PascalCase ``Tables/Columns/ColumnName/DataType/Rows`` shape of the ARM-routed API).

A table is stored column by column: the decoded rows are read once into one list per column, each converted
with one comprehension picked by the column type (see ``bench/query_result.py``). Conversions that can fail run
while parsing, so a bad cell is a ``SerializationError`` before anything is handed out; dynamic cells (which cannot
fail) are decoded the first time their column is read. ``rows`` builds each row's tuple as it is read (nothing is
stored per row), ``column(name)`` is one copy of a stored column.

==========  ==================================================================================================
datetime    aware UTC ``datetime`` (``parse_datetime``); null or ``""`` -> ``None`` (case D3)
timespan    ``timedelta`` (``parse_timespan``, case D4)
long, int   ``int``; also from strings like ``"1"``
real        ``float``; also from ints and the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, ``"1.5"``
decimal     ``decimal.Decimal`` (from its string form, no float rounding)
bool        ``bool``; also from ``"true"``/``"false"`` (any case) and ``1``/``0``
guid        ``str`` as sent (not ``uuid.UUID``: parsing every id costs about 1 µs per cell and most callers
            compare or print ids; use ``uuid.UUID(cell)`` where needed)
dynamic     decoded JSON (dict, list, number, ...). Cells that arrive as JSON text are decoded (orjson) once, the
            first time the column is read (``rows``, iteration or ``column``), then kept; text that is not JSON
            stays a string. Decoded values are plain mutable Python objects.
string      ``str`` as sent
other       unchanged
==========  ==================================================================================================

Nulls are ``None`` in every column. A 200 answer with an ``error`` object (``PartialError``) is a partial
result: ``is_partial`` is true, ``error`` carries the codes and messages (inner ones too, case E5), all tables
are kept.
"""

from __future__ import annotations

import contextlib
import enum
import gc
import itertools
import operator
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, overload

import attrs

from .._errors import InvalidInputError, QueryError, SentinelError, SerializationError
from .._json import loads as decode_json
from ._converter import freeze
from ._time import format_datetime, parse_datetime, parse_timespan

if TYPE_CHECKING:
    import os

    import pandas
    import polars

__all__ = ["Column", "QueryErrorDetail", "QueryErrorInfo", "QueryResult", "QueryStatus", "Table", "TimeSeries"]

# .NET type names (ARM-routed API, Graph hunting) -> Kusto names.
_TYPE_ALIASES = {
    "boolean": "bool",
    "sbyte": "bool",
    "int32": "int",
    "int64": "long",
    "double": "real",
    "single": "real",
    "float": "real",
    "object": "dynamic",
    "sqldecimal": "decimal",
    "uniqueid": "guid",
    "date": "datetime",
    "time": "timespan",
}


def _kusto_type(name: str) -> str:
    low = name.lower().removeprefix("system.")  # "System.DateTime": the full .NET name
    return _TYPE_ALIASES.get(low, low)


@attrs.frozen
class Column:
    """A result column: ``name`` and its Kusto ``type`` (lower-case: ``datetime``, ``long``, ``dynamic``...)."""

    name: str
    type: str


class QueryStatus(enum.Enum):
    COMPLETE = "complete"
    PARTIAL = "partial"


@attrs.frozen(kw_only=True)
class QueryErrorDetail:
    code: str | None = None
    message: str | None = None
    target: str | None = None
    value: str | None = None
    resources: tuple[str, ...] = ()
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class QueryErrorInfo:
    """``errorInfo``: ``code``, ``message``, ``details`` and a nested ``innererror`` chain."""

    code: str | None = None
    message: str | None = None
    details: tuple[QueryErrorDetail, ...] = ()
    innererror: QueryErrorInfo | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QueryErrorInfo:
        if not isinstance(data, Mapping):
            raise SerializationError(f"cannot parse QueryResult.error: expected an object, got {data!r:.200}")
        inner = data.get("innererror") or data.get("innerError")
        details = data.get("details") or ()
        return cls(
            code=_opt_str(data.get("code")),
            message=_opt_str(data.get("message")),
            details=tuple(
                QueryErrorDetail(
                    code=_opt_str(d.get("code")),
                    message=_opt_str(d.get("message")),
                    target=_opt_str(d.get("target")),
                    value=_opt_str(d.get("value")),
                    resources=_str_list(d.get("resources")),
                    raw=freeze(d),
                )
                for d in details
                if isinstance(d, Mapping)
            ),
            innererror=cls.from_json(inner) if isinstance(inner, Mapping) else None,
            raw=freeze(dict(data)),
        )

    def innermost(self) -> QueryErrorInfo:
        """The deepest ``innererror`` (``self`` if there is none)."""
        node = self
        while node.innererror is not None:
            node = node.innererror
        return node

    @property
    def inner_code(self) -> str | None:
        """The most specific code: the deepest inner error's, else the first detail's, else ``code``."""
        if self.innererror is not None:
            return self.innermost().code
        if self.details:
            return self.details[0].code
        return self.code

    @property
    def inner_message(self) -> str | None:
        """The most specific message, chosen like ``inner_code``."""
        if self.innererror is not None:
            return self.innermost().message
        if self.details:
            return self.details[0].message
        return self.message


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _str_list(value: Any) -> tuple[str, ...]:
    # Only a JSON array is a list: a string is not its characters, a number not iterable.
    return tuple(str(v) for v in value if v is not None) if isinstance(value, list) else ()


# --- per-type column converters --------------------------------------------------------------------------------
# Each takes one column's cells (a list) and returns the converted list. A comprehension per type, because a
# per-cell Python call is the dominant cost at 10^6 cells: cells already of the right type are kept with one check.


def _bad(kind: str, value: Any) -> InvalidInputError:
    return InvalidInputError(f"expected a {kind} cell, got {value!r:.100}")


def _conv_datetime(col: list[Any]) -> list[Any]:
    parse = parse_datetime
    try:
        return [None if v is None else parse(v) for v in col]
    except SentinelError:
        return [_parse_or_null(v, parse_datetime, datetime) for v in col]


def _conv_timespan(col: list[Any]) -> list[Any]:
    parse = parse_timespan
    try:
        return [None if v is None else parse(v) for v in col]
    except SentinelError:
        return [_parse_or_null(v, parse_timespan, timedelta) for v in col]


def _parse_or_null(v: Any, parse: Callable[[Any], Any], done: type) -> Any:
    # The second pass after a failure: "" means null, typed cells are kept, the rest must parse.
    if v is None or isinstance(v, done):
        return v
    return None if v == "" else parse(v)


def _to_int(v: Any) -> int | None:
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        try:
            return int(s)
        except ValueError:
            pass
        try:
            f = float(s)
        except ValueError:
            raise _bad("long", v) from None
        if f.is_integer():
            return int(f)
        raise _bad("long", v)
    if isinstance(v, float):
        if v.is_integer():
            return int(v)
        raise _bad("long", v)
    if isinstance(v, (bool, int)):
        return int(v)
    raise _bad("long", v)


def _conv_int(col: list[Any]) -> list[Any]:
    return [v if v.__class__ is int or v is None else _to_int(v) for v in col]


def _to_float(v: Any) -> float | None:
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        if v == "":
            return None
        try:
            return float(v)
        except (ValueError, OverflowError):  # OverflowError: an integer beyond a double's range
            raise _bad("real", v) from None
    raise _bad("real", v)


def _conv_real(col: list[Any]) -> list[Any]:
    return [v if v.__class__ is float or v is None else _to_float(v) for v in col]


def _to_decimal(v: Any) -> Decimal | None:
    if isinstance(v, Decimal):
        return v
    if v == "":
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise _bad("decimal", v)
    try:
        # str() first: Decimal(0.1) would carry the float's binary error.
        return Decimal(v if isinstance(v, str) else str(v))
    except InvalidOperation:
        raise _bad("decimal", v) from None


def _conv_decimal(col: list[Any]) -> list[Any]:
    return [None if v is None else _to_decimal(v) for v in col]


_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}


def _to_bool(v: Any) -> bool | None:
    if isinstance(v, str):
        if v == "":
            return None
        b = _BOOL_TEXT.get(v.strip().lower())
        if b is None:
            raise _bad("bool", v)
        return b
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    raise _bad("bool", v)


def _conv_bool(col: list[Any]) -> list[Any]:
    return [v if v.__class__ is bool or v is None else _to_bool(v) for v in col]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a bulk decode builds values that are all kept.

    Each collection would re-scan every container decoded so far (at 200,000 rows that was most of the cost of
    reading a dynamic column), and none of them can be cyclic garbage: decoded JSON is a tree, and it is all kept.
    The collector is restored at the end, and only if it was on; no caller code runs inside.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _decode_dynamic(col: list[Any]) -> None:
    """Decode a dynamic column's JSON text cells in place (each text is freed as soon as it is decoded)."""
    with _collector_paused():
        for n, v in enumerate(col):
            if v.__class__ is str:
                try:  # noqa: SIM105 (contextlib.suppress costs a context manager per cell)
                    col[n] = decode_json(v)
                except ValueError:
                    pass  # plain text in a dynamic column stays text


_EAGER: dict[str, Callable[[list[Any]], list[Any]]] = {
    "datetime": _conv_datetime,
    "timespan": _conv_timespan,
    "long": _conv_int,
    "int": _conv_int,
    "real": _conv_real,
    "decimal": _conv_decimal,
    "bool": _conv_bool,
}


class _State:
    """The mutable inside of a frozen ``Table``: its row count and the dynamic columns still holding JSON text
    (decoded once, under the lock, the first time they are read)."""

    __slots__ = ("length", "lock", "pending")

    def __init__(self, length: int, pending: list[int]) -> None:
        self.length = length
        self.pending = pending
        self.lock = threading.Lock()

    def __getstate__(self) -> tuple[int, list[int]]:  # a result pickles (the lock is recreated, not copied)
        return self.length, list(self.pending)

    def __setstate__(self, state: tuple[int, list[int]]) -> None:
        self.length, self.pending = state
        self.lock = threading.Lock()


class _RowsView(Sequence[tuple[Any, ...]]):
    """Read-only view of a table's rows as tuples, built from the columns as they are read (not stored)."""

    __slots__ = ("_columns", "_length")

    def __init__(self, columns: list[list[Any]], length: int) -> None:
        self._columns = columns
        self._length = length

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[Any, ...]]: ...
    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | Sequence[tuple[Any, ...]]:
        if isinstance(index, slice):
            if not self._columns:
                return ((),) * len(range(self._length)[index])
            return tuple(zip(*[c[index] for c in self._columns], strict=True))
        n = range(self._length)[index]  # IndexError beyond the rows; negative indexes count from the end
        return tuple([c[n] for c in self._columns])

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        if not self._columns:
            return itertools.repeat((), self._length)
        return zip(*self._columns, strict=True)

    def __repr__(self) -> str:
        return f"<{self._length} rows>"


@attrs.frozen(eq=False)
class Table:
    """One result table: ``name``, ``columns`` and typed ``rows`` (see the module docstring for cell types).

    Access: ``table.rows`` (sequence of tuples), ``table.to_dicts()``, ``table.iter_dicts()``,
    ``table.column("Count")`` (one column's values), ``table.index("Count")``, ``len(table)``, iteration.
    Stored column by column: ``column()`` costs one copy of that column, ``rows`` builds each tuple as it is read.
    """

    name: str
    columns: tuple[Column, ...]
    _data: list[list[Any]] = attrs.field(repr=False, alias="_data")  # one list of cells per column
    _state: _State = attrs.field(repr=False, alias="_state")

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, path: str = "table") -> Table:
        """Build a table from one decoded ``table`` object (read, not modified: cells are taken per column)."""
        if not isinstance(data, Mapping):
            raise SerializationError(f"cannot parse {path}: expected an object, got {type(data).__name__}")
        name = data.get("name", data.get("TableName"))
        raw_columns = data.get("columns", data.get("Columns"))
        rows = data.get("rows", data.get("Rows"))
        if not isinstance(raw_columns, list) or not isinstance(rows, list):
            raise SerializationError(f"cannot parse {path}: 'columns' and 'rows' must be arrays")
        columns = []
        for n, c in enumerate(raw_columns):
            if not isinstance(c, Mapping):
                raise SerializationError(f"cannot parse {path}.columns[{n}]: expected an object")
            cname = c.get("name", c.get("ColumnName"))
            ctype = c.get("type", c.get("DataType", c.get("ColumnType")))
            if not isinstance(cname, str) or not isinstance(ctype, str):
                raise SerializationError(f"cannot parse {path}.columns[{n}]: needs string 'name' and 'type'")
            columns.append(Column(cname, _kusto_type(ctype)))
        width = len(columns)
        # Two passes in C over the rows; the loop that names the bad row runs only when one is bad.
        if rows and (set(map(type, rows)) != {list} or set(map(len, rows)) != {width}):
            for r, row in enumerate(rows):
                if row.__class__ is not list or len(row) != width:
                    raise SerializationError(
                        f"cannot parse {path}.rows[{r}]: expected an array of {width} cells, got {row!r:.200}"
                    )
        cells = [list(map(operator.itemgetter(i), rows)) for i in range(width)]
        pending: list[int] = []
        for i, col in enumerate(columns):
            if col.type == "dynamic":
                pending.append(i)
                continue
            conv = _EAGER.get(col.type)
            if conv is None:
                continue
            try:
                cells[i] = conv(cells[i])
            except SentinelError as exc:
                raise SerializationError(_cell_error(path, col, cells[i], exc)) from exc
        name = str(name) if name is not None else ""
        return cls(name, tuple(columns), _data=cells, _state=_State(len(rows), pending))

    # --- access ---------------------------------------------------------------------------------------------

    def _decoded(self, pending: list[int]) -> list[list[Any]]:
        """The columns, with the dynamic ones among ``pending`` decoded (once)."""
        state = self._state
        if pending:
            with state.lock:
                for i in tuple(pending):  # a copy: ``pending`` may be ``state.pending`` itself
                    if i in state.pending:
                        _decode_dynamic(self._data[i])
                        state.pending.remove(i)
        return self._data

    @property
    def rows(self) -> Sequence[tuple[Any, ...]]:
        """All rows as tuples, in service order (dynamic cells decoded on first access)."""
        return _RowsView(self._decoded(self._state.pending), self._state.length)

    def __len__(self) -> int:
        return self._state.length

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def index(self, name: str) -> int:
        """Position of column ``name``.

        Raises:
            InvalidInputError: no such column (the message lists the columns there are).
        """
        for i, c in enumerate(self.columns):
            if c.name == name:
                return i
        raise InvalidInputError(f"no column {name!r} in table {self.name!r}; columns: {list(self.column_names)}")

    def column(self, name: str) -> tuple[Any, ...]:
        """All values of column ``name``, in row order."""
        i = self.index(name)
        return tuple(self._decoded([i] if i in self._state.pending else [])[i])

    def iter_dicts(self) -> Iterator[dict[str, Any]]:
        """Rows as ``{column name: value}`` dicts, one at a time."""
        names = self.column_names
        for row in self.rows:
            yield dict(zip(names, row, strict=True))

    def to_dicts(self) -> list[dict[str, Any]]:
        """Rows as a list of ``{column name: value}`` dicts."""
        return list(self.iter_dicts())

    # --- export (m365sentinel/models/_export.py: column types, text forms) -------------------------------------

    def to_pandas(self) -> pandas.DataFrame:
        """A pandas DataFrame with one typed column per result column (``pandas`` extra; MissingExtraError
        without it): aware UTC ``datetime64[us, UTC]``, ``timedelta64[us]``, nullable ``Int64``/``Float64``/
        ``boolean``/``string``, dynamic cells as Python objects."""
        from ._export import table_to_pandas

        return table_to_pandas(self)

    def to_polars(self) -> polars.DataFrame:
        """A polars DataFrame with one typed column per result column (``polars`` extra; MissingExtraError
        without it): ``Datetime("us", "UTC")``, ``Duration("us")``, ``Int64``, ``Float64``, ``Boolean``,
        ``String``, dynamic cells as ``Object``."""
        from ._export import table_to_polars

        return table_to_polars(self)

    def to_csv(self, path: str | os.PathLike[str]) -> int:
        """Write the rows to ``path`` as UTF-8 CSV with a header row; returns the number of rows written.
        InvalidInputError when the path's folder is missing or the file cannot be written."""
        from ._export import table_to_csv

        return table_to_csv(self, path)

    def to_jsonl(self, path: str | os.PathLike[str]) -> int:
        """Write the rows to ``path`` as JSON Lines (one object per row); returns the number of rows written.
        InvalidInputError when the path's folder is missing or the file cannot be written."""
        from ._export import table_to_jsonl

        return table_to_jsonl(self, path)

    def __repr__(self) -> str:
        cols = ", ".join(f"{c.name}:{c.type}" for c in self.columns)
        return f"Table(name={self.name!r}, columns=[{cols}], rows={len(self)})"

    def __str__(self) -> str:
        """A text preview: the column names and the first 10 rows (cells cut at 40 characters), then a count."""
        shown = [[_cell_text(v) for v in row] for row in self.rows[:_PREVIEW_ROWS]]
        names = [c.name for c in self.columns]
        widths = [max([len(n), *(len(r[i]) for r in shown)]) for i, n in enumerate(names)]
        lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip()]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in shown]
        more = len(self) - len(shown)
        lines.append(f"({len(self)} rows{f', {more} more not shown' if more else ''})")
        return "\n".join(lines)


_PREVIEW_ROWS = 10


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    text = format_datetime(value) if isinstance(value, datetime) else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= 40 else text[:39] + "…"


def _cell_error(path: str, col: Column, cells: list[Any], exc: Exception) -> str:
    # Find the first bad row to name it; only runs on failure.
    for r, v in enumerate(cells):
        try:
            _EAGER[col.type]([v])
        except SentinelError:
            return f"cannot parse {path}.rows[{r}] column {col.name!r} ({col.type}): {exc}"
    return f"cannot parse {path} column {col.name!r} ({col.type}): {exc}"


@attrs.frozen(kw_only=True)
class QueryResult:
    """A Log Analytics query answer.

    - ``tables``: every table, in order; ``primary`` is ``PrimaryResult`` (or the first table).
    - ``error``: the ``errorInfo`` of a partial answer (HTTP 200 + ``error``), else ``None``.
    - ``status`` / ``is_partial``: ``PARTIAL`` when ``error`` is present (case E5); the tables are still kept.
    - ``statistics`` / ``render``: read-only JSON when requested with ``Prefer: include-statistics=true`` /
      ``include-render=true``.
    """

    tables: tuple[Table, ...]
    error: QueryErrorInfo | None = None
    statistics: Mapping[str, Any] | None = None
    render: Mapping[str, Any] | None = None

    @classmethod
    def from_json(cls, data: bytes | bytearray | str | Mapping[str, Any]) -> QueryResult:
        """Parse the body of a query answer: raw bytes/str (decoded here with ``_json.loads``) or a decoded dict.

        A dict is read, not modified: its cells are taken into per-column lists (references, not copies), so a
        100 MB result costs about the memory of ``json.loads`` alone.

        Raises:
            SerializationError: not JSON, not the documented shape, or a cell that does not fit its column type
                (the message names table, row, column and value).
        """
        if isinstance(data, (bytes, bytearray, str)):
            try:
                with _collector_paused():
                    doc = decode_json(data)
            except ValueError as exc:
                raise SerializationError(f"cannot parse QueryResult: body is not JSON ({exc})") from exc
        else:
            doc = data
        if not isinstance(doc, Mapping):
            raise SerializationError(f"cannot parse QueryResult: expected a JSON object, got {type(doc).__name__}")
        raw_tables = doc.get("tables", doc.get("Tables"))
        if raw_tables is None and "error" in doc:
            raw_tables = []  # an error answer without data still yields a typed (partial) result
        if not isinstance(raw_tables, list):
            raise SerializationError("cannot parse QueryResult: 'tables' must be an array")
        tables = tuple(Table.from_json(t, path=f"tables[{n}]") for n, t in enumerate(raw_tables))
        error = doc.get("error")
        stats = doc.get("statistics")
        render = doc.get("render")
        return cls(
            tables=tables,
            error=QueryErrorInfo.from_json(error) if error is not None else None,
            statistics=freeze(stats) if isinstance(stats, dict) else None,
            render=freeze(render) if isinstance(render, dict) else None,
        )

    @property
    def status(self) -> QueryStatus:
        return QueryStatus.PARTIAL if self.error is not None else QueryStatus.COMPLETE

    @property
    def is_partial(self) -> bool:
        return self.error is not None

    def __str__(self) -> str:
        """Each table's preview (``str(table)``), and the error of a partial answer."""
        parts = [f"{t.name}:\n{t}" for t in self.tables] or ["(no tables)"]
        if self.error is not None:
            parts.append(f"PARTIAL: {self.error.code}: {self.error.message}")
        return "\n\n".join(parts)

    @property
    def primary(self) -> Table:
        """The ``PrimaryResult`` table (or the first table).

        Raises:
            QueryError: the service answered an error and no tables (``code``: its innermost code).
            InvalidInputError: the result has no tables.
        """
        for t in self.tables:
            if t.name == "PrimaryResult":
                return t
        if not self.tables and self.error is not None:
            raise QueryError(
                f"the service answered {self.error.code}: {self.error.message}, and no tables "
                f"({self.error.inner_code}: {self.error.inner_message})",
                code=self.error.inner_code,
                status_code=200,
            )
        if not self.tables:
            raise InvalidInputError("the query result has no tables")
        return self.tables[0]

    # --- export: the primary table, refused when partial (a partial result written out would pass for whole) ---

    def _complete_primary(self, what: str, allow_partial: bool) -> Table:
        if not isinstance(allow_partial, bool):
            raise InvalidInputError(f"{what[:-2]}(allow_partial={allow_partial!r}): expected True or False")
        if self.error is not None and not allow_partial:
            raise QueryError(
                f"{what} of a partial result (the service said {self.error.code}: {self.error.message}); "
                "pass allow_partial=True to export the rows it returned",
                code=self.error.inner_code,
            )
        return self.primary

    def to_pandas(self, *, allow_partial: bool = False) -> pandas.DataFrame:
        """The primary table as a pandas DataFrame (see ``Table.to_pandas``).

        Raises:
            QueryError: the result is partial (``is_partial``) and ``allow_partial`` is false.
            MissingExtraError: pandas is not installed (``pip install 'm365sentinel[pandas]'``).
        """
        return self._complete_primary("to_pandas()", allow_partial).to_pandas()

    def to_polars(self, *, allow_partial: bool = False) -> polars.DataFrame:
        """The primary table as a polars DataFrame (see ``Table.to_polars``).

        Raises:
            QueryError: the result is partial and ``allow_partial`` is false.
            MissingExtraError: polars is not installed (``pip install 'm365sentinel[polars]'``).
        """
        return self._complete_primary("to_polars()", allow_partial).to_polars()

    def to_csv(self, path: str | os.PathLike[str], *, allow_partial: bool = False) -> int:
        """Write the primary table to ``path`` as CSV (see ``Table.to_csv``); returns the number of rows written.

        Raises:
            QueryError: the result is partial and ``allow_partial`` is false (nothing is written).
            InvalidInputError: the path's folder does not exist or the file cannot be written.
        """
        return self._complete_primary("to_csv()", allow_partial).to_csv(path)

    def to_jsonl(self, path: str | os.PathLike[str], *, allow_partial: bool = False) -> int:
        """Write the primary table to ``path`` as JSON Lines (see ``Table.to_jsonl``); returns the row count.

        Raises:
            QueryError: the result is partial and ``allow_partial`` is false (nothing is written).
            InvalidInputError: the path's folder does not exist or the file cannot be written.
        """
        return self._complete_primary("to_jsonl()", allow_partial).to_jsonl(path)


Number = int | float


@attrs.frozen(kw_only=True)
class TimeSeries:
    """One line of a time chart: ``legend`` and ``points`` as ``(UTC datetime, value)`` pairs sorted by time."""

    legend: str | None
    points: tuple[tuple[datetime, Number], ...]

    @property
    def total(self) -> Number:
        return sum(v for _, v in self.points)

    @classmethod
    def from_table(
        cls, table: Table, *, time: str = "Time", value: str = "Value", legend: str | None = "Legend"
    ) -> TimeSeries:
        """The single series of ``table`` (the source document's ``Value, Time, Legend`` projection).

        Raises:
            InvalidInputError: a column is missing, or the table holds several legends (use ``all_from_table``).
        """
        series = cls.all_from_table(table, time=time, value=value, legend=legend)
        if len(series) > 1:
            names = [s.legend for s in series]
            raise InvalidInputError(f"table {table.name!r} holds {len(series)} series {names}; use all_from_table")
        return series[0] if series else cls(legend=None, points=())

    @classmethod
    def all_from_table(
        cls, table: Table, *, time: str = "Time", value: str = "Value", legend: str | None = "Legend"
    ) -> tuple[TimeSeries, ...]:
        """One series per legend value, in order of first appearance.

        Accepts one row per point (``summarize ... by bin()``) and ``make-series`` rows, where the time and
        value cells are arrays. Null values count as 0 (an empty bin); rows with a null time are skipped.
        """
        ti, vi = table.index(time), table.index(value)
        li = table.index(legend) if legend is not None and legend in table.column_names else None
        groups: dict[str | None, list[tuple[datetime, Number]]] = {}
        for row in table:
            key = None if li is None else (None if row[li] is None else str(row[li]))
            points = groups.setdefault(key, [])
            t, v = row[ti], row[vi]
            if isinstance(t, (list, tuple)) and isinstance(v, (list, tuple)):
                for ts, val in zip(t, v, strict=False):
                    if ts is not None:
                        points.append((parse_datetime(ts) if isinstance(ts, str) else ts, _num(val)))
            elif t is not None:
                points.append((parse_datetime(t) if isinstance(t, str) else t, _num(v)))
        return tuple(cls(legend=k, points=tuple(sorted(p, key=lambda x: x[0]))) for k, p in groups.items())


def _num(v: Any) -> Number:
    if v is None:
        return 0
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    if isinstance(v, Decimal):
        return float(v)
    raise InvalidInputError(f"time-series value must be a number, got {v!r:.100}")
