"""Runs KQL over the emulator's tables with duckdb-kql, the way the Log Analytics query API answers.

Tables are loaded into an attached in-memory database ``store``; each query sees them through views in the
main database that apply the request's ``timespan`` to ``TimeGenerated`` (the service applies it to every
table). Results come back as Log Analytics JSON values: ISO datetimes with ``Z``, dynamic as JSON text,
timespans as ``[d.]hh:mm:ss[.fffffff]``, numbers as numbers.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import tempfile
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import UUID

import duckdb
import duckdb_kql
from duckdb_kql.types import kusto_type

from m365sentinel.emulator._kql_adapt import adapt
from m365sentinel.emulator._tables import TableStore

__all__ = ["Engine", "QueryFailed", "format_datetime", "format_timespan"]

V = TypeVar("V")

_SQL_TYPES = {
    "string": "VARCHAR",
    "datetime": "TIMESTAMP",
    "long": "BIGINT",
    "int": "INTEGER",
    "bool": "BOOLEAN",
    "real": "DOUBLE",
    "dynamic": "JSON",
    "guid": "UUID",
    "timespan": "INTERVAL",
    "decimal": "DECIMAL(38,10)",
}


# Queries that may read tables not named literally (wildcard unions, search/find) get every table filled.
_WILDCARD = re.compile(r"[A-Za-z0-9_]\*|\*[A-Za-z0-9_]|\bunion\b[^|]*\*|\b(?:search|find)\b")


# Answers that may differ between two runs on the same data are never served from the result cache.
_RANDOM = re.compile(r"\b(?:rand|new_guid)\s*\(|\bsample(?:-distinct)?\b")


class QueryFailed(Exception):
    """The engine could not run the query: *kind* is "SyntaxError" or "SemanticError"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def format_datetime(value: datetime) -> str:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{value.microsecond:06d}0Z" if value.microsecond else f"{base}Z"


def format_timespan(value: timedelta) -> str:
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rem = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rem, 60)
    days = f"{value.days}." if value.days else ""
    frac = f".{value.microseconds:06d}0" if value.microseconds else ""
    return f"{sign}{days}{hours:02d}:{minutes:02d}:{seconds:02d}{frac}"


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_datetime(datetime(value.year, value.month, value.day, tzinfo=UTC))
    if isinstance(value, timedelta):
        return format_timespan(value)
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        value = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return value.isoformat(timespec="microseconds")
    if isinstance(value, timedelta):
        return f"{value.total_seconds()} seconds"
    return str(value)


def _json_row(row: dict[str, Any], dynamic: set[str]) -> dict[str, Any]:
    """Dynamic values given as JSON text are decoded so the JSON column holds the value, not a string."""
    out = row
    for column in dynamic.intersection(row):
        value = row[column]
        if isinstance(value, str):
            try:
                decoded = json.loads(value)
            except ValueError:
                continue
            if out is row:
                out = dict(row)
            out[column] = decoded
    return out


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class _Content:
    """A table's content as the engine knows it: its token (never reused), its rows kept alive, their JSON."""

    token: int
    rows: list[dict[str, Any]]
    payload: str | None = None


class _Cursor:
    """One DuckDB connection of the pool, and the temporary views it holds: name -> the SELECT behind it."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.views: dict[str, str] = {}


class Engine:
    """One DuckDB database holding every workspace's tables, each workspace in its own schema of the attached
    ``store`` database, created on its first query and then kept in step with its ``TableStore`` (only the tables
    that changed are reloaded), so a fleet's workspaces share the engine at no cost per switch.

    Thread-safe: schema changes and loads are serialised; queries run in parallel, each on a pooled cursor whose
    temporary views show the querying workspace's tables (DuckDB releases the GIL while it runs one)."""

    def __init__(self) -> None:
        self.con: duckdb.DuckDBPyConnection = duckdb_kql.connect()
        self.con.execute("ATTACH ':memory:' AS store")
        self._lock = threading.Lock()  # the store's catalog, the loads and the caches below
        self._loaded: dict[int, set[str]] = {}  # TableStore.key -> its tables created and filled in its schema
        self._idle: list[_Cursor] = []
        self._cursors: list[_Cursor] = []
        self._translations: _Memo[tuple[str, Any] | None] = _Memo(256)
        self._known: dict[tuple[tuple[int, ...], tuple[tuple[str, str], ...]], _Content] = {}
        self._contents: dict[tuple[int, str], int] = {}  # (TableStore.key, table) -> the token of its content
        self._tokens = itertools.count()
        # Small answers by what they depend on (see _result_key): a fleet's workspaces ask the same questions.
        self._results: _Memo[tuple[list[dict[str, str]], list[tuple[Any, ...]]]] = _Memo(256)

    def sync(self, tables: TableStore, query: str | None = None) -> list[str]:
        """Take in what changed in the table store (dropping its stale copies) and name the content of the tables
        *query* may read (all for None); returns those tables. Nothing is loaded here: ``_materialise`` loads them
        for a query not answered from the result cache, and most queries read one or two tables."""
        wanted = (
            tables.names() if query is None or _WILDCARD.search(query) else [n for n in tables.names() if n in query]
        )
        with self._lock:
            loaded = self._loaded.get(tables.key, set())
            for name in sorted(tables.dirty | tables.removed):
                self._contents.pop((tables.key, name), None)
                if name in loaded:
                    self.con.execute(f"DROP TABLE IF EXISTS store.{_q(_schema_name(tables))}.{_q(name)}")
                    loaded.discard(name)
            tables.dirty.clear()
            tables.removed.clear()
            for name in wanted:
                if (tables.key, name) not in self._contents:
                    self._contents[(tables.key, name)] = self._content(tables.schemas[name], tables.rows[name]).token
        return wanted

    def _content(self, schema: list[tuple[str, str]], rows: list[dict[str, Any]]) -> _Content:
        """The content (columns and row objects) of a table, known by its token: a fleet's workspaces share their
        sample rows (never changed in place), so equal tokens name equal tables for the result cache, and a load
        encodes the rows once. The latest few are kept, holding their rows (so ids stay unique)."""
        key = (tuple(map(id, rows)), tuple(schema))
        hit = self._known.get(key)
        if hit is None:
            if len(self._known) >= 16:
                self._known.pop(next(iter(self._known)))
            hit = self._known[key] = _Content(next(self._tokens), rows[:])
        return hit

    def _materialise(self, tables: TableStore, names: list[str]) -> None:
        """Create and fill, in the workspace's schema of the store, those of ``names`` not there yet."""
        schema = f"store.{_q(_schema_name(tables))}"
        with self._lock:
            loaded = self._loaded.get(tables.key)
            if loaded is None:
                self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                loaded = self._loaded[tables.key] = set()
            for name in names:
                if name not in loaded:
                    columns = ", ".join(f"{_q(c)} {_SQL_TYPES.get(t, 'VARCHAR')}" for c, t in tables.schemas[name])
                    self.con.execute(f"CREATE TABLE {schema}.{_q(name)} ({columns})")
                    self._load(f"{schema}.{_q(name)}", tables.schemas[name], tables.rows[name])
                    loaded.add(name)

    def _load(self, target: str, schema: list[tuple[str, str]], rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        content = self._content(schema, rows)
        if content.payload is None:  # bulk load through DuckDB's JSON reader: one C-speed dump
            dynamic = {c for c, t in schema if t == "dynamic"}
            rows_json = [_json_row(r, dynamic) for r in rows]
            content.payload = json.dumps(rows_json, separators=(",", ":"), default=_json_default)
        spec = ", ".join(f"{_sql_string(c)}: {_sql_string(_SQL_TYPES.get(t, 'VARCHAR'))}" for c, t in schema)
        with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as handle:
            handle.write(content.payload)
            path = handle.name
        try:
            self.con.execute(
                f"INSERT INTO {target} SELECT * FROM read_json({_sql_string(path)}, "
                f"format='array', columns={{{spec}}}, timestampformat='%Y-%m-%dT%H:%M:%S.%f')"
            )
        finally:
            os.unlink(path)

    @staticmethod
    def _views(tables: TableStore, names: list[str], start: datetime | None, end: datetime | None) -> dict[str, str]:
        """View name -> its SELECT: the workspace's table, cut to the request's timespan where it has
        ``TimeGenerated`` (the service applies the timespan to every table)."""
        schema = f"store.{_q(_schema_name(tables))}"
        out: dict[str, str] = {}
        for name in names:
            where = ""
            if any(c == "TimeGenerated" for c, _ in tables.schemas[name]) and start is not None and end is not None:
                lo = format_datetime(start)[:-1]
                hi = format_datetime(end)[:-1]
                where = f" WHERE \"TimeGenerated\" >= TIMESTAMP '{lo}' AND \"TimeGenerated\" <= TIMESTAMP '{hi}'"
            out[name] = f"SELECT * FROM {schema}.{_q(name)}{where}"
        return out

    @contextmanager
    def _cursor(self, views: dict[str, str]) -> Iterator[duckdb.DuckDBPyConnection]:
        """A pooled cursor showing exactly ``views`` as temporary views (only those: a table of another workspace
        must not answer for one this workspace lacks)."""
        with self._lock:
            cursor = self._idle.pop() if self._idle else None
            if cursor is None:
                cursor = _Cursor(self.con.cursor())
                cursor.con.execute("SET TimeZone='UTC'")
                self._cursors.append(cursor)
        try:
            for name in [n for n in cursor.views if n not in views]:
                cursor.con.execute(f"DROP VIEW IF EXISTS temp.main.{_q(name)}")
                del cursor.views[name]
            for name, select in views.items():
                if cursor.views.get(name) != select:
                    cursor.con.execute(f"CREATE OR REPLACE TEMP VIEW {_q(name)} AS {select}")
                    cursor.views[name] = select
            yield cursor.con
        finally:
            with self._lock:
                self._idle.append(cursor)

    def run(
        self,
        tables: TableStore,
        query: str,
        *,
        now: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> dict[str, Any]:
        """Execute *query* (KQL) and return one Log Analytics table ``{name, columns, rows}``.

        Raises QueryFailed for anything the engine cannot parse or run. Safe to call from several threads.
        """
        names = self.sync(tables, query)
        shape = tuple((n, tuple(tables.schemas[n])) for n in tables.names())
        with self._lock:
            contents = [(n, self._contents[(tables.key, n)]) for n in names]

        def execute() -> tuple[list[dict[str, str]], list[tuple[Any, ...]]]:
            return self._execute(tables, shape, names, query, now, start, end)

        key = _result_key(query, now, start, end, shape, contents)
        columns, rows = execute() if key is None else self._results.get(key, execute, lambda r: len(r[1]) <= 1000)
        return {"name": "PrimaryResult", "columns": [dict(c) for c in columns], "rows": [list(r) for r in rows]}

    def _execute(
        self,
        tables: TableStore,
        shape: tuple[tuple[str, tuple[tuple[str, str], ...]], ...],
        names: list[str],
        query: str,
        now: datetime,
        start: datetime | None,
        end: datetime | None,
    ) -> tuple[list[dict[str, str]], list[tuple[Any, ...]]]:
        """Run *query* over the workspace's views of ``names``: its columns and rows as Log Analytics JSON values."""
        self._materialise(tables, names)
        try:
            with self._cursor(self._views(tables, names, start, end)) as con:
                relation = self._kql(con, shape, query, now)
                if relation is None:
                    raise QueryFailed("SemanticError", "The query did not produce a tabular result.")
                columns = list(relation.columns)
                types = [kusto_type(t) for t in relation.types]
                rows = relation.fetchall()
        except duckdb_kql.KqlSyntaxError as exc:
            raise QueryFailed("SyntaxError", f"A recognition error occurred in the query: {exc}") from exc
        except (duckdb_kql.KqlError, duckdb.Error) as exc:
            raise QueryFailed("SemanticError", f"The local engine could not run the query: {exc}") from exc
        return (
            [{"name": n, "type": t} for n, t in zip(columns, types, strict=True)],
            [tuple(_cell(v) for v in row) for row in rows],
        )

    def _kql(
        self,
        con: duckdb.DuckDBPyConnection,
        shape: tuple[tuple[str, tuple[tuple[str, str], ...]], ...],
        query: str,
        now: datetime,
    ) -> Any:
        """``duckdb_kql.kql`` with its translation memoised by query, clock and table shapes (``shape``: every
        table's columns, as the translator is given them): a fleet's workspaces send the same queries over the
        same schemas, and translating (parse, lower) costs ~0.1 s, far more than running on the emulator's rows.
        The translation's bound literals are kept with its SQL."""
        text = adapt(query).text

        def translate() -> tuple[str, Any] | None:
            columns = {name: [c for c, _ in cols] for name, cols in shape}
            translated = duckdb_kql.to_sql(text, schema=columns, allow_write=False, query_now=now)
            return None if translated.unbound else (str(translated), translated.parameters)

        hit = self._translations.get((query, now, shape), translate, lambda t: t is not None)
        if hit is None:  # kql() names the missing parameter
            return duckdb_kql.kql(con, text, allow_write=False, query_now=now)
        sql, bound = hit
        return con.sql(sql, params=bound) if bound else con.sql(sql)

    def forget(self, tables: TableStore) -> None:
        """Drop what was loaded for a table store used once (a cross-workspace query's merged store), so that a
        long-running emulator does not keep a schema per such query."""
        with self._lock:
            if self._loaded.pop(tables.key, None) is not None:
                self.con.execute(f"DROP SCHEMA IF EXISTS store.{_q(_schema_name(tables))} CASCADE")
            for name in tables.names():
                self._contents.pop((tables.key, name), None)

    def close(self) -> None:
        for cursor in self._cursors:
            cursor.con.close()
        self.con.close()


def _schema_name(tables: TableStore) -> str:
    return f"w{tables.key}"


def _result_key(
    query: str,
    now: datetime,
    start: datetime | None,
    end: datetime | None,
    shape: tuple[Any, ...],
    contents: list[tuple[str, int]],
) -> tuple[Any, ...] | None:
    """What a query's answer depends on: its text, the clock, the timespan, the tables' columns (its translation)
    and the content of each table it may read. None for a query whose answer may differ on the same data (random
    functions and operators)."""
    if _RANDOM.search(query):
        return None
    return (query, now, start, end, shape, tuple(contents))


class _Memo(Generic[V]):
    """A bounded cache whose misses are computed once: callers asking for a key being computed wait for it (a
    fleet's workspaces send the same query at once; sixteen threads translating it would cost sixteen times)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: dict[Hashable, V] = {}
        self._flights: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], V], keep: Callable[[V], bool]) -> V:
        """The value for ``key``: cached, or ``compute()`` (kept when ``keep`` says so; errors are not kept)."""
        with self._lock:
            if key in self._values:
                return self._values[key]
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            try:
                value = compute()
            finally:
                with self._lock:
                    self._flights.pop(key, None)
            if keep(value):
                with self._lock:
                    if len(self._values) >= self._size:
                        self._values.pop(next(iter(self._values)))
                    self._values[key] = value
            return value
