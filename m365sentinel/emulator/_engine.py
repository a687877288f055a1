"""Runs KQL over the emulator's tables with duckdb-kql, the way the Log Analytics query API answers.

Tables are loaded into an attached in-memory database ``store``; each query sees them through views in the
main database that apply the request's ``timespan`` to ``TimeGenerated`` (the service applies it to every
table). Results come back as Log Analytics JSON values: ISO datetimes with ``Z``, dynamic as JSON text,
timespans as ``[d.]hh:mm:ss[.fffffff]``, numbers as numbers.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import duckdb
import duckdb_kql
from duckdb_kql.engine import schema as kql_schema
from duckdb_kql.types import kusto_type

from m365sentinel.emulator._kql_adapt import adapt
from m365sentinel.emulator._tables import TableStore

__all__ = ["Engine", "QueryFailed", "format_datetime", "format_timespan"]

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
_WILDCARD = re.compile(r"[A-Za-z0-9_]\*|\*[A-Za-z0-9_]|\b(?:search|find)\b")


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


class Engine:
    """One DuckDB connection holding the store; not thread-safe (the emulator serializes access)."""

    def __init__(self) -> None:
        self.con: duckdb.DuckDBPyConnection = duckdb_kql.connect()
        self.con.execute("ATTACH ':memory:' AS store")
        self._views: tuple[str, ...] = ()
        self._bounds: tuple[datetime | None, datetime | None] | None = None
        self._filled: set[str] = set()
        self._created: set[str] = set()
        self._owner: TableStore | None = None
        self._translations: dict[tuple[str, datetime, tuple[Any, ...]], tuple[str, Any]] = {}
        self._payloads: dict[tuple[tuple[int, ...], tuple[tuple[str, str], ...]], tuple[str, list[Any]]] = {}

    def _adopt(self, tables: TableStore) -> None:
        """Serve another workspace's tables (a fleet shares one engine): drop this store, mark all theirs to load."""
        for name in self._created:
            self.con.execute(f"DROP VIEW IF EXISTS main.{_q(name)}")
            self.con.execute(f"DROP TABLE IF EXISTS store.main.{_q(name)}")
        self._created.clear()
        self._filled.clear()
        self._bounds = None
        tables.removed.clear()
        tables.dirty.update(tables.names())
        self._owner = tables

    def sync(self, tables: TableStore, query: str | None = None) -> None:
        """Mirror the table store: (re)create changed tables empty, then fill the ones *query* may read.

        Filling is lazy because loading every table costs seconds and most queries read one or two.
        """
        if tables is not self._owner:
            self._adopt(tables)
        changed = bool(tables.dirty or tables.removed)
        for name in tables.removed:
            self.con.execute(f"DROP VIEW IF EXISTS main.{_q(name)}")
            self.con.execute(f"DROP TABLE IF EXISTS store.main.{_q(name)}")
            self._filled.discard(name)
            self._created.discard(name)
        tables.removed.clear()
        for name in sorted(tables.dirty):
            self._create(name, tables.schemas[name])
            self._filled.discard(name)
        tables.dirty.clear()
        if changed:
            self._bounds = None  # views must be rebuilt to see new/removed tables
        wanted = (
            tables.names() if query is None or _WILDCARD.search(query) else [n for n in tables.names() if n in query]
        )
        for name in wanted:
            if name not in self._filled:
                self._load(name, tables.schemas[name], tables.rows[name])
                self._filled.add(name)

    def _create(self, name: str, schema: list[tuple[str, str]]) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS store.main.{_q(name)}")
        cols = ", ".join(f"{_q(c)} {_SQL_TYPES.get(t, 'VARCHAR')}" for c, t in schema)
        self.con.execute(f"CREATE TABLE store.main.{_q(name)} ({cols})")
        self._created.add(name)

    def _payload(self, schema: list[tuple[str, str]], rows: list[dict[str, Any]]) -> str:
        """The rows as JSON text, encoded once for the same row objects: a fleet's workspaces share their sample
        rows (never changed in place), and encoding is most of a load. The cache keeps the rows alive (ids stay
        unique) and holds the latest few payloads."""
        key = (tuple(map(id, rows)), tuple(schema))
        hit = self._payloads.get(key)
        if hit is not None:
            return hit[0]
        dynamic = {c for c, t in schema if t == "dynamic"}
        payload = json.dumps([_json_row(r, dynamic) for r in rows], separators=(",", ":"), default=_json_default)
        if len(self._payloads) >= 16:
            self._payloads.pop(next(iter(self._payloads)))
        self._payloads[key] = (payload, rows[:])
        return payload

    def _load(self, name: str, schema: list[tuple[str, str]], rows: list[dict[str, Any]]) -> None:
        con = self.con
        if not rows:
            return
        # Bulk load through DuckDB's JSON reader: one C-speed dump instead of per-value parameter conversion.
        payload = self._payload(schema, rows)
        spec = ", ".join(f"{_sql_string(c)}: {_sql_string(_SQL_TYPES.get(t, 'VARCHAR'))}" for c, t in schema)
        with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as handle:
            handle.write(payload)
            path = handle.name
        try:
            con.execute(
                f"INSERT INTO store.main.{_q(name)} SELECT * FROM read_json({_sql_string(path)}, "
                f"format='array', columns={{{spec}}}, timestampformat='%Y-%m-%dT%H:%M:%S.%f')"
            )
        finally:
            os.unlink(path)

    def _views_for(self, tables: TableStore, start: datetime | None, end: datetime | None) -> None:
        if self._bounds == (start, end):
            return
        for name in tables.names():
            where = ""
            if any(c == "TimeGenerated" for c, _ in tables.schemas[name]) and start is not None and end is not None:
                lo = format_datetime(start)[:-1]
                hi = format_datetime(end)[:-1]
                where = f" WHERE \"TimeGenerated\" >= TIMESTAMP '{lo}' AND \"TimeGenerated\" <= TIMESTAMP '{hi}'"
            self.con.execute(f"CREATE OR REPLACE VIEW main.{_q(name)} AS SELECT * FROM store.main.{_q(name)}{where}")
        self._bounds = (start, end)

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

        Raises QueryFailed for anything the engine cannot parse or run.
        """
        self.sync(tables, query)
        self._views_for(tables, start, end)
        try:
            relation = self._kql(tables, query, now)
            if relation is None:
                raise QueryFailed("SemanticError", "The query did not produce a tabular result.")
            names = list(relation.columns)
            types = [kusto_type(t) for t in relation.types]
            rows = relation.fetchall()
        except duckdb_kql.KqlSyntaxError as exc:
            raise QueryFailed("SyntaxError", f"A recognition error occurred in the query: {exc}") from exc
        except (duckdb_kql.KqlError, duckdb.Error) as exc:
            raise QueryFailed("SemanticError", f"The local engine could not run the query: {exc}") from exc
        return {
            "name": "PrimaryResult",
            "columns": [{"name": n, "type": t} for n, t in zip(names, types, strict=True)],
            "rows": [[_cell(v) for v in row] for row in rows],
        }

    def _kql(self, tables: TableStore, query: str, now: datetime) -> Any:
        """``duckdb_kql.kql`` with its translation memoised by query, clock and table shapes: a fleet's workspaces
        send the same queries over the same schemas, and translating (parse, lower) costs ~0.1 s, far more than
        running on the emulator's rows. The translation's bound literals are kept with its SQL."""
        shape = tuple((n, tuple(tables.schemas[n])) for n in tables.names())
        key = (query, now, shape)
        hit = self._translations.get(key)
        if hit is None:
            text = adapt(query).text
            translated = duckdb_kql.to_sql(text, schema=kql_schema(self.con), allow_write=False, query_now=now)
            if translated.unbound:  # kql() names the missing parameter
                return duckdb_kql.kql(self.con, text, allow_write=False, query_now=now)
            hit = (str(translated), translated.parameters)
            if len(self._translations) >= 256:
                self._translations.pop(next(iter(self._translations)))
            self._translations[key] = hit
        self.con.execute("SET TimeZone='UTC'")
        sql, bound = hit
        return self.con.sql(sql, params=bound) if bound else self.con.sql(sql)

    def close(self) -> None:
        self.con.close()
