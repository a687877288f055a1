"""Table schemas the builder knows: ``m365sentinel/_data/tables.json`` plus ``kql/_schema_data/extra_tables.json``.

Loaded lazily, once. A schema gives typed columns, so a misspelled column or a literal of the wrong kind
fails when the query is built (deeper type inference is left to Microsoft's parser in the tests).
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

import attrs

from m365sentinel._errors import InvalidInputError

__all__ = ["TableSchema", "schema_for", "schema_registry"]


@attrs.frozen
class TableSchema:
    """Columns of one table, in order: ``((name, kql_type), ...)``."""

    name: str
    columns: tuple[tuple[str, str], ...]
    kinds: Mapping[str, str] = attrs.field(init=False, repr=False, eq=False)  # {column: kind}, built once

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "kinds", MappingProxyType(dict(self.columns)))

    def kind_of(self, column: str) -> str:
        """The KQL type of ``column``; raises InvalidInputError naming close matches when unknown."""
        for name, kind in self.columns:
            if name == column:
                return kind
        raise unknown_column(column, [n for n, _ in self.columns], self.name)

    def shape(self) -> str:
        """``(col:type, ...)`` as Kusto declares a table."""
        return "(" + ", ".join(f"['{n}']:{t}" for n, t in self.columns) + ")"


def unknown_column(column: str, known: list[str], where: str) -> InvalidInputError:
    close = difflib.get_close_matches(column, known, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return InvalidInputError(f"unknown column {column!r} in {where}{hint}")


def _read(package: str, name: str) -> object:
    return json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))


@functools.cache
def schema_registry() -> Mapping[str, TableSchema]:
    """Every known table schema by table name (read once from package data)."""
    out: dict[str, TableSchema] = {}
    data = _read("m365sentinel._data", "tables.json")
    assert isinstance(data, dict)
    for table, cols in data.items():
        if table.startswith("_"):
            continue
        out[table] = TableSchema(table, tuple((str(c[0]), str(c[1])) for c in cols))
    extra = _read("m365sentinel.kql._schema_data", "extra_tables.json")
    assert isinstance(extra, dict)
    for table, cols in extra["tables"].items():
        out.setdefault(table, TableSchema(table, tuple((str(c[0]), str(c[1])) for c in cols)))
    return out


def schema_for(table: str) -> TableSchema | None:
    """The schema of ``table``, or None for a table the project has no schema for (custom tables)."""
    if not isinstance(table, str):
        raise InvalidInputError(f"expected a table name (str), got {table!r}")
    return schema_registry().get(table)
