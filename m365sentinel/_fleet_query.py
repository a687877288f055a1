"""Cross-workspace queries over a fleet: the KQL that tags rows, the batches, the decisions on each answer (pure).

The Log Analytics query API runs one query over several workspaces (``POST /v1/workspaces/{customerId}/query`` with
the ``workspaces`` body parameter listing the others; at most 10 per query in Microsoft's API page, 100 in its
cross-resource query page). The service does not say which workspace a row came from, so the SDK's query does::

    union
    (workspace("<customerId 1>").SecurityIncident
    | where Severity == "High"
    | extend WorkspaceId = "<customerId 1>"),
    (workspace("<customerId 2>").SecurityIncident
    ...

Each answer is checked before any row is handed over: every row's ``WorkspaceId`` is one the batch asked for; a
refusal or a ``PartialError`` naming a workspace (it could not be resolved or accessed) is that workspace's error,
and the others are asked again without it; one cut at the size limit (``E_QUERY_RESULT_SET_TOO_LARGE``) and a batch
refused as too large (an error naming the resource limit) are asked again in two halves; any other refusal or
partial answer is an error of every workspace of that batch. Both faces drive
``batch_flow``; they only differ in how batches run side by side.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ._connector import _query_error
from ._errors import APIStatusError, BadRequestError, InvalidInputError, QueryError, SentinelError, SerializationError
from ._incidents._alerts import is_size_limit
from ._inputs import check_int
from ._json import loads as decode_json
from ._transport import Cloud, log_analytics_query_request
from ._transport._flow import Flow, send_query
from .kql._literals import render_string
from .models import QueryResult

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "FleetQuery",
    "TAG_COLUMN",
    "QueryBatch",
    "FleetQueryResult",
    "WorkspaceQueryResult",
    "batch_flow",
    "cross_workspace_kql",
]

TAG_COLUMN = "WorkspaceId"
DEFAULT_BATCH_SIZE = 10
MAX_BATCH_SIZE = 100

# A query's head must be one table (a name or a quoted ['name']), then pipes or nothing.
_HEAD = re.compile(r"\s*(?P<table>[A-Za-z_][A-Za-z0-9_]*|\[\s*'[^'\]]+'\s*\]|\[\s*\"[^\"\]]+\"\s*\])\s*(?=\||$)")
_NOT_TABLES = {"union", "search", "find", "print", "range", "datatable", "let", "evaluate", "externaldata"}
_STRINGS_AND_COMMENTS = re.compile(r"//[^\n]*|@?'(?:[^'\\\n]|\\.)*'|@?\"(?:[^\"\\\n]|\\.)*\"")
_OTHER_SOURCE = re.compile(  # operators and functions that read another table (a column may be named "database")
    r"\|\s*(?:join|lookup|union|render|invoke)\b"
    r"|\b(?:materialize|toscalar|table|workspace|app|resource|cluster|database)\s*\("
)
# Where a batch of workspaces is refused as too many: the code or message of the 400's innermost error.
_TOO_MANY = re.compile(r"TooManyResources|TooManyWorkspaces|maximum number of (?:resources|workspaces)", re.I)


def _split_query(text: str) -> tuple[str, str]:
    """``(table, rest)`` of a query that can be tagged safely; InvalidInputError naming the fix otherwise."""
    fix = (
        "a cross-workspace query must start with one table and read no other table (no let, join, lookup, union, "
        "sub-query, workspace() or render): e.g. 'SecurityIncident | where Severity == \"High\"'; run other queries "
        "per workspace with Connector.query"
    )
    head = _HEAD.match(text)
    if head is None or head.group("table").lower() in _NOT_TABLES:
        raise InvalidInputError(f"query {text[:80]!r}…: cannot tag its rows by workspace; {fix}")
    rest = text[head.end() :]
    code = _STRINGS_AND_COMMENTS.sub(lambda m: "" if m.group().startswith("//") else "''", rest)
    depth, nested_pipe = 0, False
    for ch in code:
        depth += (ch == "(") - (ch == ")")
        nested_pipe = nested_pipe or (ch == "|" and depth > 0)
    found = _OTHER_SOURCE.search(code)
    if ";" in code or nested_pipe or found is not None:
        what = "a statement separator ';'" if ";" in code else "a sub-query"
        what = found.group().strip("|( \n\t") if found is not None else what
        raise InvalidInputError(f"query {text[:80]!r}…: cannot tag its rows by workspace (it uses {what}); {fix}")
    return head.group("table").strip(), rest.rstrip()


def cross_workspace_kql(text: str, customer_ids: Sequence[str]) -> str:
    """The query over ``customer_ids`` with each row tagged (``TAG_COLUMN``): one ``workspace("<id>")`` branch per
    workspace in a strict union (not ``isfuzzy``, which may drop a branch it cannot resolve with no more than a
    warning: a workspace that fails fails the request, naming it). InvalidInputError for a query that cannot be
    tagged safely (see ``_split_query``)."""
    table, rest = _split_query(text)
    body = table + (f"\n{rest.strip()}" if rest.strip() else "")
    branches = [
        f"(workspace({render_string(cid)}).{body}\n| extend {TAG_COLUMN} = {render_string(cid)})"
        for cid in customer_ids
    ]
    return "union\n" + ",\n".join(branches)


def check_batch_size(batch_size: int) -> int:
    return check_int(batch_size, "batch_size", 1, MAX_BATCH_SIZE)


@attrs.frozen
class QueryBatch:
    """One request of a cross-workspace query: the workspaces (customer ids, the first one in the URL) and what
    came of it: ``"ok"``, ``"partial"`` (a 200 naming failed workspaces; the others' rows kept), ``"workspace
    failed: asked again without it"`` (a refusal naming workspaces), ``"split: too many workspaces"``, ``"split:
    size limit"`` (asked again in halves) or ``"failed"`` (every workspace of the batch has the error)."""

    customer_ids: tuple[str, ...]
    outcome: str


@attrs.frozen
class WorkspaceQueryResult:
    """One workspace's part of a cross-workspace query: ``result`` (its rows, with the ``WorkspaceId`` column) or
    ``error`` (why it has none: NotFoundError, QueryError, ...)."""

    workspace: str
    customer_id: str | None
    result: QueryResult | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@attrs.frozen
class FleetQueryResult:
    """A cross-workspace query's answer: one ``WorkspaceQueryResult`` per fleet workspace (fleet order), the
    requests made (``batches``), and ``combined``: every workspace's rows in one ``QueryResult`` whose
    ``WorkspaceId`` column says where each row came from."""

    results: tuple[WorkspaceQueryResult, ...]
    batches: tuple[QueryBatch, ...]
    combined: QueryResult

    @property
    def failed(self) -> tuple[WorkspaceQueryResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    def to_dict(self) -> dict[str, Any]:
        """Per workspace its row count or error, and each request's outcome (the rows: ``combined``)."""
        return {
            "workspaces": [
                {
                    "workspace": r.workspace,
                    "customerId": r.customer_id,
                    "ok": r.ok,
                    "rows": len(r.result.primary) if r.result is not None else None,
                    "error": None if r.error is None else {"type": type(r.error).__name__, "message": str(r.error)},
                }
                for r in self.results
            ],
            "batches": [{"customerIds": list(b.customer_ids), "outcome": b.outcome} for b in self.batches],
        }

    def to_json(self) -> str:
        """``to_dict()`` as JSON text."""
        return json.dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        lines = [f"query over {len(self.results)} workspace(s) in {len(self.batches)} request(s)"]
        for r in self.results:
            if r.error is not None:
                lines.append(f"  {r.workspace}: FAILED {type(r.error).__name__}: {r.error}")
            else:
                lines.append(f"  {r.workspace}: {len(r.result.primary) if r.result else 0} row(s)")
        return "\n".join(lines)


def _names(cid: str, detail: Any) -> bool:
    """Whether one ``details[]`` entry names the workspace ``cid`` (in ``resources``, ``target``, ``value`` or the
    message text, case-insensitively)."""
    low = cid.lower()
    fields = [detail.target, detail.value, detail.message, *detail.resources]
    return any(isinstance(f, str) and low in f.lower() for f in fields)


def _error_texts(node: Any) -> list[str]:
    """The ``code``, ``message``, ``target``, ``value`` and ``resources`` strings of an error body, at any depth
    (``innererror``, ``details``): what names a cause, never the query text an error may echo."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("code", "message", "target", "value") and isinstance(value, str):
                out.append(value)
            elif key == "resources" and isinstance(value, list):
                out += [v for v in value if isinstance(v, str)]
            elif isinstance(value, dict | list):
                out += _error_texts(value)
    elif isinstance(node, list):
        for item in node:
            out += _error_texts(item)
    return out


def _named_in(exc: APIStatusError, batch: Sequence[str]) -> list[str]:
    """The batch's workspaces (customer ids) that a refusal names: the ones the service could not resolve or
    access."""
    texts = [t.lower() for t in [exc.code or "", exc.message or "", *_error_texts(exc.body)]]
    return [cid for cid in batch if any(cid.lower() in t for t in texts)]


def _tables(body: bytes) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    try:
        doc = decode_json(body)
    except ValueError as exc:
        raise SerializationError("cannot parse the cross-workspace query answer: not JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("tables", []), list):
        raise SerializationError("cannot parse the cross-workspace query answer: expected {tables: [...]}")
    return doc.get("tables", []), doc.get("error") if isinstance(doc.get("error"), dict) else None


def _by_workspace(tables: list[dict[str, Any]], cids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The primary table's raw rows per customer id (each a ``{name, columns, rows}`` table). SerializationError
    when the tag column is missing or a row carries a workspace the batch did not ask for (never guessed)."""
    table = next((t for t in tables if t.get("name") == "PrimaryResult"), tables[0] if tables else None)
    out: dict[str, dict[str, Any]] = {cid: {"name": "PrimaryResult", "columns": [], "rows": []} for cid in cids}
    if table is None:
        return out
    columns = table.get("columns") or []
    names = [c.get("name") for c in columns]
    if TAG_COLUMN not in names:
        raise SerializationError(f"the cross-workspace answer has no {TAG_COLUMN} column: rows cannot be attributed")
    at = names.index(TAG_COLUMN)
    lower = {cid.lower(): cid for cid in cids}
    for part in out.values():
        part["columns"] = columns
    for row in table.get("rows") or []:
        cid = lower.get(str(row[at]).lower()) if isinstance(row, list) and len(row) > at else None
        if cid is None:
            raise SerializationError(
                f"the cross-workspace answer has a row tagged {row[at] if isinstance(row, list) else row!r:.60} "
                f"that is not one of the {len(cids)} workspaces asked for"
            )
        out[cid]["rows"].append(row)
    return out


def batch_flow(
    cloud: Cloud, text: str, span: str, cids: Sequence[str]
) -> Flow[tuple[dict[str, dict[str, Any] | Exception], list[QueryBatch]]]:
    """Run the tagged query over ``cids`` (in halves while the service refuses too many or cuts at the size
    limit). Returns ``({customer id: raw table | the workspace's error}, requests made)``: every customer id gets
    one or the other; only bad input (already checked) escapes."""
    out: dict[str, dict[str, Any] | Exception] = {}
    records: list[QueryBatch] = []
    todo: list[Sequence[str]] = [cids]
    while todo:
        batch = todo.pop()
        spec = log_analytics_query_request(
            cloud, batch[0], cross_workspace_kql(text, batch), span, workspaces=list(batch[1:])
        )
        try:
            tables, error = _tables((yield from send_query(spec)))
        except APIStatusError as exc:
            too_many = any(_TOO_MANY.search(t) for t in [exc.code or "", *_error_texts(exc.body)])
            if too_many and len(batch) > 1:
                records.append(QueryBatch(tuple(batch), "split: too many workspaces"))
                todo.extend(reversed(_halves(batch)))
                continue
            failure: Exception = exc
            if isinstance(exc, BadRequestError):
                failure = _query_error(exc, spec.json["query"] if spec.json else text)
            named = _named_in(exc, batch) if not too_many else []
            if named and len(named) < len(batch):  # those workspaces failed: the others are asked again without
                records.append(QueryBatch(tuple(batch), "workspace failed: asked again without it"))
                out.update(dict.fromkeys(named, failure))
                todo.append([cid for cid in batch if cid not in named])
                continue
            records.append(QueryBatch(tuple(batch), "failed"))
            out.update(dict.fromkeys(batch, failure))
            continue
        except SentinelError as exc:
            records.append(QueryBatch(tuple(batch), "failed"))
            out.update(dict.fromkeys(batch, exc))
            continue
        outcome = _decide(batch, tables, error, out)
        records.append(QueryBatch(tuple(batch), outcome))
        if outcome == "split: size limit":
            todo.extend(reversed(_halves(batch)))
    return out, records


def _halves(batch: Sequence[str]) -> list[Sequence[str]]:
    half = len(batch) // 2
    return [batch[:half], batch[half:]]


def _decide(
    batch: Sequence[str],
    tables: list[dict[str, Any]],
    raw_error: dict[str, Any] | None,
    out: dict[str, dict[str, Any] | Exception],
) -> str:
    """Record one 200 answer in ``out``; returns the batch's outcome (``QueryBatch.outcome``)."""
    try:
        parts = _by_workspace(tables, batch)
    except SerializationError as exc:
        out.update(dict.fromkeys(batch, exc))
        return "failed"
    if raw_error is None:
        out.update(parts)
        return "ok"
    error = QueryResult.from_json({"tables": [], "error": raw_error}).error
    assert error is not None
    if is_size_limit(error):
        if len(batch) > 1:
            return "split: size limit"
        out[batch[0]] = QueryError(
            f"workspace {batch[0]} alone exceeds the Log Analytics result size limit "
            f"({error.inner_message}); narrow the query or its timespan",
            code=error.inner_code,
            inner=dict(error.raw),
        )
        return "failed"
    details = error.details or ()
    named = {cid: [d for d in details if _names(cid, d)] for cid in batch}
    if not details or any(not any(d in found for found in named.values()) for d in details):
        # A partial answer that names no workspace: which rows are missing is unknown, so none is delivered.
        unnamed: Exception = QueryError(
            f"the cross-workspace query over {len(batch)} workspace(s) answered a partial result "
            f"({error.inner_message or error.message}); nothing of this batch is delivered",
            code=error.inner_code,
            inner=dict(error.raw),
        )
        out.update(dict.fromkeys(batch, unnamed))
        return "failed"
    for cid in batch:
        if named[cid]:
            d = named[cid][0]
            out[cid] = QueryError(
                f"workspace {cid} did not answer the cross-workspace query: {d.code}: {d.message}",
                code=d.code,
                inner=dict(d.raw),
            )
        else:
            out[cid] = parts[cid]
    return "partial"


def combine(parts: Sequence[dict[str, Any]]) -> QueryResult:
    """One ``PrimaryResult`` over raw tables whose columns may differ (a union's outer columns): columns in order
    of first appearance by (name, type), missing cells null."""
    columns: list[dict[str, Any]] = []
    index: dict[tuple[str, str], int] = {}
    for part in parts:
        for c in part["columns"]:
            key = (c.get("name"), c.get("type"))
            if key not in index:
                index[key] = len(columns)
                columns.append(c)
    rows: list[list[Any]] = []
    for part in parts:
        at = [index[(c.get("name"), c.get("type"))] for c in part["columns"]]
        for row in part["rows"]:
            full: list[Any] = [None] * len(columns)
            for i, v in zip(at, row, strict=True):
                full[i] = v
            rows.append(full)
    return QueryResult.from_json({"tables": [{"name": "PrimaryResult", "columns": columns, "rows": rows}]})


Job = tuple[Callable[[Any], Any], Flow[Any]]  # (a client's ``run``, the flow it drives)


class FleetQuery:
    """One cross-workspace query over a fleet, as two rounds of jobs a face runs side by side (``concurrency`` at a
    time): each workspace's customer id (GET workspace), then the batches. Input is checked here, before any
    request: InvalidInputError for a query that cannot be tagged, a bad timespan or ``batch_size``."""

    def __init__(self, fleet: Any, query: Any, timespan: Any, batch_size: int) -> None:
        from ._connector import _query_text_and_span

        self.text, self.span = _query_text_and_span(query, timespan)
        _split_query(self.text)
        self.batch_size = check_batch_size(batch_size)
        self.fleet = fleet
        self.targets = list(fleet.workspaces)

    def resolve_jobs(self) -> list[Job]:
        jobs: list[Job] = []
        for t in self.targets:
            c = self.fleet._connector(t)
            jobs.append((c._session.run, c._session.customer_id()))
        return jobs

    def batch_jobs(self, cids: Sequence[str | Exception]) -> list[Job]:
        """The batches: workspaces of one credential together (one token per request), ``batch_size`` each."""
        groups: dict[int, tuple[Any, list[str]]] = {}
        for t, cid in zip(self.targets, cids, strict=True):
            if isinstance(cid, str):
                client = self.fleet._client_for(t)
                groups.setdefault(id(client), (client, []))[1].append(cid)
        size = self.batch_size
        self._chunks = [(c, m[i : i + size]) for c, m in groups.values() for i in range(0, len(m), size)]
        return [(c.run, batch_flow(c.cloud, self.text, self.span, chunk)) for c, chunk in self._chunks]

    def result(self, cids: Sequence[str | Exception], batches: Sequence[Any]) -> FleetQueryResult:
        """Every workspace's rows or error (a batch job that raised: its error for each of its workspaces)."""
        answered: dict[str, dict[str, Any] | Exception] = {}
        records: list[QueryBatch] = []
        for (_, members), outcome in zip(self._chunks, batches, strict=True):
            if isinstance(outcome, Exception):
                answered.update(dict.fromkeys(members, outcome))
                records.append(QueryBatch(tuple(members), "failed"))
            else:
                answered.update(outcome[0])
                records.extend(outcome[1])
        results: list[WorkspaceQueryResult] = []
        parts: list[dict[str, Any]] = []
        for t, cid in zip(self.targets, cids, strict=True):
            rid = t.workspace.resource_id
            got: Any = cid if isinstance(cid, Exception) else answered.get(cid)
            if isinstance(got, Exception):
                results.append(WorkspaceQueryResult(rid, cid if isinstance(cid, str) else None, error=got))
            elif got is None:  # every asked workspace gets an answer or an error: never silently absent
                missing = QueryError(f"workspace {cid} got no answer from its batch")
                results.append(WorkspaceQueryResult(rid, str(cid), error=missing))
            else:
                parts.append(got)
                results.append(WorkspaceQueryResult(rid, str(cid), QueryResult.from_json({"tables": [got]})))
        return FleetQueryResult(tuple(results), tuple(records), combine(parts))
