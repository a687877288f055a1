"""Graph ``POST /v1.0/security/runHuntingQuery`` over the emulator's tables (the same KQL engine as Log Analytics).

Answers as the service does: ``{"@odata.context", "schema": [{"name", "type"}], "results": [{column: value}]}``,
column types as .NET names (``Int64``, ``DateTime``, ``Object``...), dynamic cells as JSON values (not text). The
body's ``Timespan`` (default ``P30D``) bounds the rows like the query API's ``timespan``. ``MAX_ROWS`` models the
service's 100,000-row cap (an answer is cut there, silently, as the service does); tests lower it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from m365sentinel.emulator._arm_util import ArmError
from m365sentinel.emulator._engine import QueryFailed
from m365sentinel.emulator._http import EmuRequest, EmuResponse, json_response
from m365sentinel.emulator._parse import parse_timespan

if TYPE_CHECKING:
    from m365sentinel.emulator._core import Core

__all__ = ["DOTNET_TYPES", "HuntingApi"]

# Kusto column type -> the .NET name advanced hunting reports.
DOTNET_TYPES = {
    "bool": "Boolean",
    "datetime": "DateTime",
    "decimal": "Decimal",
    "dynamic": "Object",
    "guid": "Guid",
    "int": "Int32",
    "long": "Int64",
    "real": "Double",
    "string": "String",
    "timespan": "TimeSpan",
}
_CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults"


class HuntingApi:
    """The runHuntingQuery handler of one emulator (``max_rows``: the row cap, 100,000 like the service)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.max_rows = 100_000

    def run(self, req: EmuRequest, params: dict[str, str], body: Any) -> EmuResponse:
        if req.method != "POST":
            raise ArmError(405, "MethodNotAllowed", f"The requested resource does not support '{req.method}'.")
        args = body if isinstance(body, dict) else {}
        query = args.get("Query")
        if not isinstance(query, str) or not query.strip():
            raise ArmError(400, "BadRequest", "The 'Query' property is required.")
        now = self.core.clock.now()
        try:
            start, end = parse_timespan(str(args.get("Timespan") or "P30D"), now)
        except ValueError as exc:
            raise ArmError(400, "BadRequest", f"Invalid Timespan: {exc}") from exc
        try:
            table = self.core.engine.run(self.core.ws.tables, query, now=now, start=start, end=end)
        except QueryFailed as exc:
            raise ArmError(400, "BadRequest", f"{exc.kind}: {exc.message}") from exc
        columns = table["columns"]
        dynamic = {c["name"] for c in columns if c["type"] == "dynamic"}
        results = []
        for row in table["rows"][: self.max_rows]:
            item = {}
            for col, cell in zip(columns, row, strict=True):
                item[col["name"]] = _json_value(cell) if col["name"] in dynamic else cell
            results.append(item)
        schema = [{"name": c["name"], "type": DOTNET_TYPES.get(c["type"], c["type"])} for c in columns]
        return json_response(200, {"@odata.context": _CONTEXT, "schema": schema, "results": results})


def _json_value(cell: Any) -> Any:
    """Dynamic cells travel as JSON values in advanced hunting (text in the query API)."""
    if isinstance(cell, str):
        try:
            return json.loads(cell)
        except ValueError:
            return cell
    return cell
