"""Defender advanced hunting through Microsoft Graph ``runHuntingQuery`` (I/O-free: request and answer rules).

``POST {graph}/v1.0/security/runHuntingQuery`` with ``{"Query": kql, "Timespan": iso8601}`` (permission
``ThreatHunting.Read.All``) answers ``{"schema": [{"name"|"Name", "type"|"Type"}], "results": [{column: value}]}``
with .NET type names (``DateTime``, ``String``, ``Int64``, ``Int32``, ``Double``, ``Boolean``, ``Object``, ``Guid``,
``TimeSpan``). ``hunting_result`` turns that into the same ``QueryResult`` the Log Analytics path returns.

Service limits (Microsoft Graph runHuntingQuery documentation) and what the SDK does about each:

- 100,000 rows per answer: an answer that reaches it may have been cut, so ``QueryLimitError(limit="rows")`` is
  raised instead of returning it (summarize, or narrow the timespan).
- 30 days of data: a longer timespan would silently cover only the last 30 days: refused with InvalidInputError.
- about 45 calls a minute per tenant, CPU quota per 15 minutes: the service answers 429; the request is a read, so
  the client's retry honours ``Retry-After`` and ``RateLimitedError`` is raised once retries are spent.
- 3 minutes per query: the service answers 400 (or 408/504); a 400 whose message names a limit, timeout or quota
  is raised as ``QueryLimitError``, any other 400 as ``QueryError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._errors import BadRequestError, InvalidInputError, QueryError, QueryLimitError, SerializationError
from ._timespan import to_timespan
from ._transport import Cloud, RequestSpec, graph_request
from .models._time import parse_datetime, parse_timespan

if TYPE_CHECKING:
    from .models import QueryResult

__all__ = [
    "DEFAULT_TIMESPAN",
    "MAX_ROWS",
    "RETENTION",
    "hunting_error",
    "hunting_request",
    "hunting_result",
    "hunting_timespan",
]

MAX_ROWS = 100_000  # rows per runHuntingQuery answer
RETENTION = timedelta(days=30)  # advanced hunting keeps 30 days of data
DEFAULT_TIMESPAN = "P30D"  # the service's own default
_LIMIT_WORDS = ("limit", "exceed", "timeout", "timed out", "quota", "too large")


def hunting_timespan(timespan: timedelta | tuple[datetime, datetime] | str | None) -> str:
    """The ``Timespan`` to send: ``P30D`` when None, else ``to_timespan`` (ISO 8601 duration or interval).

    Raises InvalidInputError for a malformed timespan or one longer than the 30 days advanced hunting keeps (the
    answer would silently cover less than asked)."""
    text = DEFAULT_TIMESPAN if timespan is None else to_timespan(timespan)
    parts = text.split("/")
    durations = [parse_timespan(p) for p in parts if p.upper().startswith("P")]
    # "start/end" (checked by to_timespan: both aware) spans end - start; any other form carries a duration
    length = durations[0] if durations else parse_datetime(parts[1]) - parse_datetime(parts[0])
    if length > RETENTION:
        raise InvalidInputError(
            f"timespan {text!r} is longer than the 30 days Defender advanced hunting keeps: the answer would cover "
            "only the last 30 days; pass timespan=timedelta(days=30) or less, or query Log Analytics "
            "(Connector.query) for older data"
        )
    return text


def hunting_request(cloud: Cloud, kql: str, timespan: str) -> RequestSpec:
    """``POST /v1.0/security/runHuntingQuery`` ``{"Query", "Timespan"}``: a read, so a 429/5xx is retried."""
    spec = graph_request(cloud, "POST", "/security/runHuntingQuery", json={"Query": kql, "Timespan": timespan})
    return RequestSpec(spec.method, spec.audience, spec.url, json=spec.json, headers=spec.headers, retry_post=True)


def hunting_error(exc: BadRequestError, kql: str) -> QueryError:
    """A 400 from runHuntingQuery: QueryLimitError when it names a limit, timeout or quota, else QueryError."""
    text = f"{exc.code or ''} {exc.message or ''}".lower()
    message = f"advanced hunting refused the query: {exc.message} ({exc.code})"
    if any(word in text for word in _LIMIT_WORDS):
        return QueryLimitError(message, limit="service", code=exc.code, inner=exc.body, query=kql)
    return QueryError(message, code=exc.code, inner=exc.body, query=kql)


def _field(item: Mapping[str, Any], name: str) -> Any:
    return item.get(name, item.get(name.capitalize()))


def hunting_result(body: Any, kql: str) -> QueryResult:
    """The ``QueryResult`` of a runHuntingQuery answer: one ``PrimaryResult`` table, columns typed by their Kusto
    names (``Int64`` -> ``long``...), cells converted as on the Log Analytics path. A missing key in a row is null.

    Raises QueryLimitError (the answer reached 100,000 rows: it may be cut) and SerializationError (not the
    documented shape, a row with a column the schema lacks, a cell that does not fit its type)."""
    from .models import QueryResult

    if not isinstance(body, Mapping):
        raise SerializationError(f"cannot parse runHuntingQuery answer: expected an object, got {type(body).__name__}")
    schema, results = _field(body, "schema"), _field(body, "results")
    if not isinstance(schema, list) or not isinstance(results, list):
        raise SerializationError("cannot parse runHuntingQuery answer: 'schema' and 'results' must be arrays")
    columns = []
    for n, item in enumerate(schema):
        name, kind = (_field(item, "name"), _field(item, "type")) if isinstance(item, Mapping) else (None, None)
        if not isinstance(name, str) or not isinstance(kind, str):
            raise SerializationError(f"cannot parse runHuntingQuery schema[{n}]: needs string 'name' and 'type'")
        columns.append({"name": name, "type": kind})
    if len(results) >= MAX_ROWS:
        raise QueryLimitError(
            f"advanced hunting answered {len(results)} rows, its limit per query ({MAX_ROWS}): the result may be cut; "
            "summarize, filter or narrow the timespan so that fewer rows come back",
            limit="rows",
            query=kql,
        )
    names = [c["name"] for c in columns]
    known = set(names)
    rows = []
    for r, row in enumerate(results):
        if not isinstance(row, Mapping):
            raise SerializationError(f"cannot parse runHuntingQuery results[{r}]: expected an object")
        extra = [k for k in row if k not in known]
        if extra:  # a value the schema does not describe would be dropped: refuse rather than lose it
            raise SerializationError(
                f"cannot parse runHuntingQuery results[{r}]: columns {extra} are not in the schema"
            )
        rows.append([row.get(name) for name in names])
    return QueryResult.from_json({"tables": [{"name": "PrimaryResult", "columns": columns, "rows": rows}]})
