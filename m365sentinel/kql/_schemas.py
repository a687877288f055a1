"""Table schemas of both sides, as data, loaded lazily once.

Sentinel (Log Analytics), used by the builder: ``m365sentinel/_data/tables.json`` plus
``kql/_schema_data/extra_tables.json`` (the Azure Monitor table reference), overlaid with
``kql/_schema_data/sentinel_validation.json`` (the schemas Sentinel's own content is validated with: they win where
the two disagree; the file lists every disagreement). Defender XDR advanced hunting:
``kql/_schema_data/defender_tables.json`` (the advanced hunting schema reference). Sources and dates are in the files.
A schema gives typed columns, so a misspelled column or a literal of the wrong kind fails when the query is built
(deeper type inference is left to Microsoft's parser in the tests).
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

__all__ = ["DefenderSide", "TableSchema", "defender_side", "schema_for", "schema_registry"]


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
    validation = _read("m365sentinel.kql._schema_data", "sentinel_validation.json")
    assert isinstance(validation, dict)
    for table, cols in validation["tables"].items():
        out[table] = _overlay(out.get(table), table, [(str(c[0]), str(c[1])) for c in cols])
    return out


def _overlay(base: TableSchema | None, table: str, columns: list[tuple[str, str]]) -> TableSchema:
    """``base`` with the types of ``columns`` where both have a column, and ``columns`` it lacks appended."""
    kinds = dict(columns)
    merged = [(name, kinds.pop(name, kind)) for name, kind in (base.columns if base else ())]
    merged += [(name, kind) for name, kind in columns if name in kinds]
    return TableSchema(table, tuple(merged))


@attrs.frozen
class DefenderSide:
    """Defender XDR advanced hunting: its table schemas, its own functions, its look-back in days, the columns
    Sentinel names differently (``{table: {defender_name: sentinel_name}}``) and the tables never streamed."""

    tables: Mapping[str, TableSchema]
    functions: frozenset[str]
    retention_days: int
    renamed: Mapping[str, Mapping[str, str]]
    only_tables: frozenset[str]
    only_prefixes: tuple[str, ...]

    def is_defender_only(self, table: str) -> bool:
        """True for an advanced hunting table the connector never streams (a custom ``_CL`` table is not one)."""
        if table.endswith("_CL"):
            return False
        return table in self.only_tables or table.startswith(self.only_prefixes)


@functools.cache
def defender_side() -> DefenderSide:
    """The Defender side's schemas (``kql/_schema_data/defender_tables.json``): copied tables, and the Device* tables
    derived from their Sentinel schema as the file's ``derived`` rule states."""
    data = _read("m365sentinel.kql._schema_data", "defender_tables.json")
    assert isinstance(data, dict)
    out = {t: TableSchema(t, tuple((str(c[0]), str(c[1])) for c in cols)) for t, cols in data["tables"].items()}
    rule = data["derived"]
    sentinel = schema_registry()
    for table in rule["tables"]:
        cols = [(n, rule["retype"].get(n, k)) for n, k in sentinel[table].columns if n not in rule["drop"]]
        out[table] = TableSchema(table, tuple(cols))
    renamed = {t: MappingProxyType(dict(m)) for t, m in data["renamed_in_sentinel"].items() if not t.startswith("_")}
    only = data["defender_only_tables"]
    return DefenderSide(
        MappingProxyType(out),
        frozenset(data["functions"]),
        int(data["retention_days"]),
        MappingProxyType(renamed),
        frozenset(only["names"]),
        tuple(only["prefixes"]),
    )


def schema_for(table: str) -> TableSchema | None:
    """The schema of ``table``, or None for a table the project has no schema for (custom tables)."""
    if not isinstance(table, str):
        raise InvalidInputError(f"expected a table name (str), got {table!r}")
    return schema_registry().get(table)
