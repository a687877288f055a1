"""KQL literals: the only place Python values become KQL text.

Every value renders as ONE lexical token of Microsoft's KQL lexer (checked by the parser tests), so no input
can change a query's structure. Rules (learn.microsoft.com/kusto/query/scalar-data-types/):

- string: double-quoted; ``\\``, ``"``, newline, carriage return and tab are backslash-escaped; other control
  characters, line/paragraph separators and lone surrogates become ``\\uXXXX``; all other Unicode is kept as is.
- identifier: plain when it is ``[A-Za-z_][A-Za-z0-9_]*`` and not a KQL keyword, else ``['...']`` (escaped).
- datetime: aware only, rendered in UTC with 7 fractional digits: ``datetime(2024-01-02T03:04:05.1234560Z)``.
- timespan: tick-exact (1 tick = 100 ns), in the largest unit that divides it: ``1d``, ``90m``, ``1500ms``,
  ``50tick`` (5 µs);
  negative values as ``timespan(-1d)``.
- long: digits; negative as ``long(-5)``; outside int64 → error.
- real: shortest round-trip repr (``0.1``, ``1e+300``), ``real(nan)``, ``real(+inf)``, ``real(-inf)``;
  negatives as ``real(-1.5)``.
- decimal, guid, bool, dynamic (JSON arrays/objects), typed nulls (``long(null)``, ...).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import functools
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from m365sentinel._errors import InvalidInputError

__all__ = [
    "FAST_LITERALS",
    "KEYWORDS",
    "TICKS_PER_MICROSECOND",
    "is_plain_identifier",
    "kind_and_text",
    "literal_kind",
    "parse_timespan",
    "quote_identifier",
    "quote_name",
    "render_bool",
    "render_datetime",
    "render_decimal",
    "render_dynamic",
    "render_guid",
    "render_int",
    "render_literal",
    "render_null",
    "render_real",
    "render_string",
    "render_timespan",
    "timedelta_ticks",
]

# Words Microsoft's lexer treats as keywords (SyntaxFacts.IsKeyword over GetKindsWithFixedText(),
# Kusto.Language 12.4.1), restricted to those that look like plain identifiers. Quoting them is always safe.
KEYWORDS: Final[frozenset[str]] = frozenset(
    {
        "__contextual_datatable",
        "__crossCluster",
        "__crossDB",
        "__executeAndCache",
        "__id",
        "__isFuzzy",
        "__noWithSource",
        "__packedColumn",
        "__partitionby",
        "__projectAway",
        "__sourceColumnIndex",
        "access",
        "accumulate",
        "alias",
        "and",
        "anomalychart",
        "areachart",
        "as",
        "asc",
        "bagexpansion",
        "barchart",
        "best_effort",
        "between",
        "bin",
        "bin_legacy",
        "bool",
        "boolean",
        "by",
        "byte",
        "cachingpolicy",
        "callout",
        "cancel",
        "card",
        "char",
        "columnchart",
        "consume",
        "contains",
        "contains_cs",
        "containscs",
        "count",
        "cycles",
        "database",
        "dataexport",
        "dataformat",
        "datascope",
        "datatable",
        "date",
        "datetime",
        "datetime_pattern",
        "decimal",
        "declare",
        "decodeblocks",
        "default",
        "desc",
        "distinct",
        "double",
        "dynamic",
        "earliest",
        "edges",
        "encodingpolicy",
        "endswith",
        "endswith_cs",
        "entity_group",
        "evaluate",
        "expandoutput",
        "extend",
        "extent_tags_retention",
        "external_data",
        "externaldata",
        "facet",
        "filter",
        "find",
        "first",
        "flags",
        "float",
        "force_remote",
        "fork",
        "from",
        "getschema",
        "graph",
        "guid",
        "harddelete",
        "hardretention",
        "has",
        "has_all",
        "has_any",
        "has_cs",
        "hasprefix",
        "hasprefix_cs",
        "hassuffix",
        "hassuffix_cs",
        "hotcache",
        "id",
        "in",
        "inline_external_table",
        "int",
        "int16",
        "int32",
        "int64",
        "int8",
        "invoke",
        "isfuzzy",
        "join",
        "journal",
        "kind",
        "ladderchart",
        "last",
        "latest",
        "let",
        "like",
        "likecs",
        "limit",
        "linechart",
        "long",
        "lookup",
        "macro",
        "materialize",
        "mdm",
        "missing",
        "mvapply",
        "mvexpand",
        "nodes",
        "nooptimization",
        "notcontains",
        "notcontainscs",
        "notlike",
        "notlikecs",
        "null",
        "nulls",
        "of",
        "on",
        "optional",
        "or",
        "order",
        "others",
        "output",
        "pack",
        "parse",
        "partition",
        "pathformat",
        "pattern",
        "piechart",
        "pivotchart",
        "plotly",
        "print",
        "project",
        "queries",
        "query_parameters",
        "query_results",
        "range",
        "real",
        "reduce",
        "regex",
        "relaxed",
        "render",
        "restrict",
        "restricted_view_access",
        "row_level_security",
        "rowstore",
        "rowstore_references",
        "rowstore_sealinfo",
        "rowstorepolicy",
        "rowstores",
        "sample",
        "scan",
        "scatterchart",
        "seal",
        "seals",
        "search",
        "serialize",
        "set",
        "shards",
        "simple",
        "softdelete",
        "softretention",
        "sort",
        "sql",
        "stackedareachart",
        "startswith",
        "startswith_cs",
        "statistics",
        "step",
        "storedqueryresultcontainers",
        "string",
        "summarize",
        "tablepurge",
        "take",
        "time",
        "timechart",
        "timeline",
        "timepivot",
        "timespan",
        "title",
        "to",
        "top",
        "toscalar",
        "totable",
        "treemap",
        "typeof",
        "uint",
        "uint16",
        "uint32",
        "uint64",
        "uint8",
        "ulong",
        "union",
        "uniqueid",
        "unrestrictedviewers",
        "uuid",
        "verbose",
        "view",
        "viewers",
        "views",
        "where",
        "with",
        "with_itemindex",
        "with_match_id",
        "with_node_id",
        "with_source",
        "with_step_name",
        "withsource",
        "writeaheadlog",
        "true",
        "false",
    }
)

_PLAIN_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
TICKS_PER_MICROSECOND: Final = 10
_TIMESPAN_UNITS: Final = (
    ("d", 864_000_000_000),
    ("h", 36_000_000_000),
    ("m", 600_000_000),
    ("s", 10_000_000),
    ("ms", 10_000),
    # No "microsecond" unit: Microsoft's JS parser scales it through floating point and loses a tick on
    # large values; whole ticks are exact everywhere (5 µs renders as 50tick).
    ("tick", 1),
)
_MAX_WHOLE_DAYS: Final = _INT64_MAX // 864_000_000_000
_SIMPLE_ESCAPES: Final = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _needs_u_escape(ch: str) -> bool:
    cp = ord(ch)
    # C0/C1 controls, DEL, line/paragraph separators, lone surrogates: invisible or line-breaking.
    return cp < 0x20 or 0x7F <= cp <= 0x9F or cp in (0x2028, 0x2029, 0xFEFF) or 0xD800 <= cp <= 0xDFFF


def render_string(value: str) -> str:
    """``value`` as a double-quoted KQL string literal that evaluates to exactly ``value``."""
    if not isinstance(value, str):
        raise InvalidInputError(f"expected a str for a KQL string literal, got {type(value).__name__}: {value!r}")
    if value.isprintable() and '"' not in value and "\\" not in value:
        # Fast path: printable text needs no escape (controls, separators, BOM and surrogates are not printable).
        return '"' + value + '"'
    out = ['"']
    for ch in value:
        esc = _SIMPLE_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif _needs_u_escape(ch):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def is_plain_identifier(name: str) -> bool:
    """True when ``name`` can appear unquoted (letters, digits, ``_``; not a keyword)."""
    # true/false are literals in any letter case (TRUE, False), so those spellings are quoted too.
    return (
        _PLAIN_IDENTIFIER.fullmatch(name) is not None and name not in KEYWORDS and name.lower() not in ("true", "false")
    )


def quote_identifier(name: str) -> str:
    """``name`` as a KQL identifier: plain, or bracket-quoted ``['Device Name']`` when needed."""
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"expected a non-empty str as a KQL name, got {name!r}")
    return quote_name(name)


@functools.lru_cache(maxsize=4096)  # names repeat across queries; quoting is pure
def quote_name(name: str) -> str:
    """``quote_identifier`` for a name already checked to be a non-empty str (the renderer's hot path)."""
    if is_plain_identifier(name):
        return name
    if any(_needs_u_escape(ch) or ch in "\n\r\t" for ch in name):
        raise InvalidInputError(f"a KQL name cannot contain control characters: {name!r}")
    return "['" + name.replace("\\", "\\\\").replace("'", "\\'") + "']"


def render_bool(value: bool) -> str:
    return "true" if value else "false"


def render_int(value: int) -> str:
    """A long literal; raises InvalidInputError outside the int64 range (use ``decimal`` for those)."""
    if not (_INT64_MIN <= value <= _INT64_MAX):
        raise InvalidInputError(f"integer {value} is outside KQL long's range [-2**63, 2**63-1]; pass a Decimal")
    return str(value) if value >= 0 else f"long({value})"


def render_real(value: float) -> str:
    """A real literal with no precision loss (shortest round-trip repr)."""
    if math.isnan(value):
        return "real(nan)"
    if math.isinf(value):
        return "real(+inf)" if value > 0 else "real(-inf)"
    text = repr(float(value))
    if "." not in text and "e" not in text:  # pragma: no cover - repr of a float always has one
        text += ".0"
    return f"real({text})" if text.startswith("-") else text


def render_decimal(value: decimal.Decimal) -> str:
    if not value.is_finite():
        raise InvalidInputError(f"KQL decimal cannot hold {value}; pass a float for NaN/infinity")
    return f"decimal({format(value, 'f')})"


def render_guid(value: uuid.UUID) -> str:
    return f"guid({value})"


def _require_aware(value: _dt.datetime) -> _dt.datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidInputError(
            f"naive datetime {value.isoformat()} is ambiguous; pass a timezone-aware datetime "
            "(e.g. datetime(..., tzinfo=timezone.utc))"
        )
    try:
        return value.astimezone(_dt.UTC)
    except OverflowError as exc:  # e.g. year 1 at +01:00 is year 0 in UTC
        raise InvalidInputError(
            f"{value.isoformat()} is outside KQL's datetime range in UTC (0001-01-01 to 9999-12-31)"
        ) from exc


def render_datetime(value: _dt.datetime) -> str:
    """``datetime(YYYY-MM-DDTHH:MM:SS.fffffffZ)``, the same instant in UTC, 7 fractional digits."""
    utc = _require_aware(value)
    # Explicit widths: strftime's %Y does not zero-pad years before 1000 on every platform.
    return (
        f"datetime({utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond:06d}0Z)"
    )


def timedelta_ticks(value: _dt.timedelta) -> int:
    """Exact number of 100 ns ticks in ``value`` (integer arithmetic, no float rounding)."""
    return ((value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds) * TICKS_PER_MICROSECOND


def _render_ticks(ticks: int) -> str:
    if not (_INT64_MIN < ticks <= _INT64_MAX):
        raise InvalidInputError(f"timespan of {ticks} ticks is outside KQL's timespan range")
    magnitude = abs(ticks)
    if magnitude == 0:
        return "0s"
    for unit, size in _TIMESPAN_UNITS:
        if magnitude % size == 0:
            text = f"{magnitude // size}{unit}"
            return text if ticks > 0 else f"timespan(-{text})"
    raise AssertionError("unreachable: 1 tick divides everything")  # pragma: no cover


def render_timespan(value: _dt.timedelta) -> str:
    """A tick-exact timespan literal: ``1d``, ``36h``, ``50tick`` (5 µs), ``timespan(-2h)``."""
    days, seconds, micros = value.days, value.seconds, value.microseconds
    if not (seconds or micros) and 0 < days <= _MAX_WHOLE_DAYS:  # whole days, the common case: no tick search
        return f"{days}d"
    return _render_ticks(((days * 86_400 + seconds) * 1_000_000 + micros) * TICKS_PER_MICROSECOND)


_TIMESPAN_TEXT = re.compile(r"(\d+)(d|h|m|s|ms|microsecond|tick)")
_UNIT_TICKS: Final = {**dict(_TIMESPAN_UNITS), "microsecond": 10}


def parse_timespan(value: _dt.timedelta | str) -> _dt.timedelta:
    """Accept a ``timedelta`` or a simple KQL timespan such as ``"1d"``, ``"6h"``, ``"30m"``.

    Raises:
        InvalidInputError: anything else, or text beyond KQL's timespan range (int64 ticks, about 29,227 years).
    """
    if isinstance(value, _dt.timedelta):
        return value
    if isinstance(value, str):
        parsed = _parse_timespan_text(value)
        if parsed is not None:
            return parsed
    raise InvalidInputError(f"expected a timedelta or a timespan like '1d', '6h', '30m', got {value!r}")


@functools.lru_cache(maxsize=256)  # the same few spellings ("1d", "14d") recur; parsing is pure
def _parse_timespan_text(value: str) -> _dt.timedelta | None:
    match = _TIMESPAN_TEXT.fullmatch(value.strip())
    if match is None:
        return None
    digits = match.group(1)
    # Checked before int(): 5,000 digits would hit int()'s ValueError, 20 timedelta's OverflowError.
    ticks = int(digits) * _UNIT_TICKS[match.group(2)] if len(digits.lstrip("0")) <= 20 else _INT64_MAX + 1
    if ticks > _INT64_MAX:
        raise InvalidInputError(f"timespan {value!r:.60} is outside KQL's timespan range")
    return _dt.timedelta(microseconds=ticks // TICKS_PER_MICROSECOND)


def _dynamic_value(value: Any, path: str) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return render_bool(value)
    if isinstance(value, int):
        if not (_INT64_MIN <= value <= _INT64_MAX):
            raise InvalidInputError(f"integer {value} at {path} is outside int64")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"dynamic values cannot hold {value} (at {path}); JSON has no NaN/infinity")
        return repr(value)
    if isinstance(value, str):
        return render_string(value)
    if isinstance(value, Mapping):
        parts = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"dynamic object keys must be str, got {key!r} at {path}")
            parts.append(f"{render_string(key)}: {_dynamic_value(item, f'{path}.{key}')}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return "[" + ", ".join(_dynamic_value(item, f"{path}[{i}]") for i, item in enumerate(value)) + "]"
    raise InvalidInputError(f"cannot put {type(value).__name__} {value!r} in a dynamic value (at {path})")


def render_dynamic(value: Any) -> str:
    """``dynamic(<JSON>)`` from dicts (str keys), lists/tuples, str, int, float, bool and None."""
    return f"dynamic({_dynamic_value(value, '$')})"


_NULL_KINDS: Final = frozenset({"bool", "int", "long", "real", "decimal", "datetime", "timespan", "guid", "dynamic"})


def render_null(kind: str) -> str:
    """The null of a KQL type, e.g. ``long(null)``. KQL strings have no null: ``string`` gives ``""``."""
    if kind == "string":
        return '""'
    if kind not in _NULL_KINDS:
        raise InvalidInputError(f"unknown KQL type {kind!r}; expected one of {sorted(_NULL_KINDS | {'string'})}")
    return f"{kind}(null)"


def literal_kind(value: Any) -> str:
    """The KQL type a Python value renders as (``string``, ``long``, ``datetime``, ...)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "real"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, str):
        return "string"
    if isinstance(value, _dt.datetime):
        return "datetime"
    if isinstance(value, _dt.timedelta):
        return "timespan"
    if isinstance(value, uuid.UUID):
        return "guid"
    if value is None or isinstance(value, (Mapping, list, tuple)):
        return "dynamic"
    raise InvalidInputError(
        f"cannot use {type(value).__name__} {value!r} as a KQL literal; expected str, int, float, bool, Decimal, "
        "aware datetime, timedelta, UUID, dict/list (dynamic) or None"
    )


def kind_and_text(value: Any) -> tuple[str, str]:
    """``(literal_kind(value), render_literal(value))`` in one step (exact common types take a direct path)."""
    fast = FAST_LITERALS.get(type(value))
    if fast is not None:
        return fast[0], fast[1](value)
    return literal_kind(value), render_literal(value)


def render_literal(value: Any) -> str:
    """Render any supported Python value as one KQL literal token (see the module docstring)."""
    kind = literal_kind(value)
    if kind == "bool":
        return render_bool(value)
    if kind == "long":
        return render_int(value)
    if kind == "real":
        return render_real(value)
    if kind == "decimal":
        return render_decimal(value)
    if kind == "string":
        return render_string(value)
    if kind == "datetime":
        return render_datetime(value)
    if kind == "timespan":
        return render_timespan(value)
    if kind == "guid":
        return render_guid(value)
    if value is None:
        return "dynamic(null)"
    return render_dynamic(value)


# Exact types (not subclasses: an IntEnum or a str subclass takes the general path) to (kind, renderer).
FAST_LITERALS: Final[dict[type, tuple[str, Any]]] = {
    str: ("string", render_string),
    bool: ("bool", render_bool),
    int: ("long", render_int),
    float: ("real", render_real),
    _dt.timedelta: ("timespan", render_timespan),
    _dt.datetime: ("datetime", render_datetime),
}
