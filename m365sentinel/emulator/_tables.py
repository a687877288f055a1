"""The workspace's Log Analytics tables: schemas (Kusto types) and rows, kept in Python as the source of truth.

Rows are dicts holding Python values (aware UTC datetimes, ``dict``/``list`` for dynamic columns); absent keys
are nulls. A table that was never created or was dropped does not exist, as in a real workspace.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from m365sentinel._errors import InvalidInputError

__all__ = ["TableStore", "load_schemas"]

_KEYS = itertools.count()


def load_schemas() -> dict[str, list[tuple[str, str]]]:
    """Table -> [(column, kusto type)] from m365sentinel/_data/tables.json plus the emulator's Usage schema; the
    caller's own copy (the files are parsed once: a fleet builds hundreds of workspaces)."""
    return {name: list(columns) for name, columns in _schemas().items()}


@functools.cache
def _schemas() -> dict[str, list[tuple[str, str]]]:
    raw = json.loads(resources.files("m365sentinel._data").joinpath("tables.json").read_text("utf-8"))
    schemas = {name: [(c, t) for c, t in cols] for name, cols in raw.items() if not name.startswith("_")}
    usage = json.loads(resources.files("m365sentinel.emulator._data").joinpath("Usage.json").read_text("utf-8"))
    schemas[usage["Name"]] = [(p["Name"], p["Type"]) for p in usage["Properties"]]
    # Hunting tables beyond tables.json (Email*, Identity*, CloudAppEvents, ...) and the UEBA tables.
    hunting = json.loads(resources.files("m365sentinel._data").joinpath("hunting_tables.json").read_text("utf-8"))
    for name, cols in hunting["schemas"].items():
        schemas.setdefault(name, [(c, t) for c, t in cols])
    return schemas


class TableStore:
    """Named tables with typed columns; tracks which tables changed since the engine last loaded them."""

    def __init__(self) -> None:
        self.key: int = next(_KEYS)  # names this store's schema in the query engine (never reused, unlike id())
        self.schemas: dict[str, list[tuple[str, str]]] = {}
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.dirty: set[str] = set()
        self.removed: set[str] = set()

    def create(self, name: str, columns: Sequence[tuple[str, str]]) -> None:
        self.schemas[name] = list(columns)
        self.rows.setdefault(name, [])
        self.dirty.add(name)
        self.removed.discard(name)

    def append(self, name: str, rows: Iterable[Mapping[str, Any]]) -> None:
        if name not in self.schemas:
            raise InvalidInputError(f"table={name!r}: no such table in the emulator (known: {sorted(self.schemas)})")
        known = {c for c, _ in self.schemas[name]}
        batch = [dict(r) for r in rows]
        for row in batch:
            unknown = set(row) - known
            if unknown:
                raise InvalidInputError(f"columns {sorted(unknown)!r} are not in table {name!r}")
        self.rows[name].extend(batch)
        self.dirty.add(name)

    def drop(self, name: str) -> None:
        if name in self.schemas:
            del self.schemas[name]
            del self.rows[name]
            self.dirty.discard(name)
            self.removed.add(name)

    def clear_rows(self, name: str) -> None:
        if name in self.rows:
            self.rows[name] = []
            self.dirty.add(name)

    def names(self) -> list[str]:
        return sorted(self.schemas)


def time_of(row: Mapping[str, Any], column: str = "TimeGenerated") -> datetime | None:
    value = row.get(column)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None
