"""The workspace tables API (Microsoft.OperationalInsights/workspaces/tables): per-table retention and plan.

``GET {workspace}/tables`` lists every table the workspace has a schema for; ``GET/PATCH/PUT
{workspace}/tables/{name}`` read or change ``retentionInDays`` (4..730, -1 = workspace default),
``totalRetentionInDays`` (4..4383, -1 = the table's retention) and ``plan`` (Analytics | Basic), with the
read-only ``archiveRetentionInDays`` and ``*AsDefault`` flags computed as the service does (2023-09-01 shape).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from m365sentinel.emulator._arm_util import ArmError
from m365sentinel.emulator._http import EmuRequest, EmuResponse, json_response

if TYPE_CHECKING:
    from m365sentinel.emulator._workspace import Workspace

__all__ = ["API_VERSIONS", "TablesApi"]

API_VERSIONS = ("2025-07-01", "2025-02-01", "2023-09-01", "2022-10-01", "2021-12-01-preview")
WORKSPACE_RETENTION = 90  # the emulated workspace's retentionInDays (see the workspace resource)
_TYPES = {"datetime": "dateTime", "bool": "boolean"}


class TablesApi:
    """Retention state per table (only what was set; the rest follows the workspace defaults)."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.settings: dict[str, dict[str, Any]] = {}

    def names(self) -> list[str]:
        return sorted(set(self.ws.schemas) | set(self.ws.tables.names()))

    def _canonical(self, name: str) -> str:
        for known in self.names():
            if known.lower() == name.lower():
                return known
        raise ArmError(
            404, "ResourceNotFound", f"The table '{name}' was not found in workspace '{self.ws.workspace_name}'."
        )

    def resource(self, name: str) -> dict[str, Any]:
        state = self.settings.get(name, {})
        retention = state.get("retentionInDays", -1)
        total = state.get("totalRetentionInDays", -1)
        eff_retention = WORKSPACE_RETENTION if retention == -1 else retention
        eff_total = eff_retention if total == -1 else total
        columns = self.ws.schemas.get(name) or self.ws.tables.schemas.get(name) or []
        return {
            "properties": {
                "totalRetentionInDays": eff_total,
                "archiveRetentionInDays": eff_total - eff_retention,
                "plan": state.get("plan", "Analytics"),
                "lastPlanModifiedDate": state.get("lastPlanModifiedDate", "2024-01-01T00:00:00.0000000Z"),
                "schema": {
                    "name": name,
                    "tableType": "Microsoft",
                    "tableSubType": "Any",
                    "columns": [],
                    "standardColumns": [
                        {"name": c, "type": _TYPES.get(t, t), "isHidden": c.startswith("_"), "isDefaultDisplay": False}
                        for c, t in columns
                    ],
                    "solutions": ["SecurityInsights"],
                    "source": "microsoft",
                },
                "provisioningState": "Succeeded",
                "retentionInDaysAsDefault": retention == -1,
                "totalRetentionInDaysAsDefault": total == -1,
                "retentionInDays": eff_retention,
            },
            "id": f"{self.ws.resource_id}/tables/{name}",
            "name": name,
        }

    def handle(self, req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
        name = p.get("name")
        if name is None:
            if req.method != "GET":
                raise ArmError(
                    405, "MethodNotAllowed", f"The requested resource does not support http method '{req.method}'."
                )
            return json_response(200, {"value": [self.resource(n) for n in self.names()]})
        canonical = self._canonical(name)
        if req.method == "GET":
            return json_response(200, self.resource(canonical))
        if req.method not in ("PATCH", "PUT"):
            raise ArmError(
                405, "MethodNotAllowed", f"The requested resource does not support http method '{req.method}'."
            )
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid: 'properties' is required.")
        props = body["properties"]
        # PUT replaces the table's settable properties; PATCH changes only those given.
        new = {} if req.method == "PUT" else dict(self.settings.get(canonical, {}))
        for key, lo, hi in (("retentionInDays", 4, 730), ("totalRetentionInDays", 4, 4383)):
            if key in props:
                value = props[key]
                if isinstance(value, bool) or not isinstance(value, int) or not (value == -1 or lo <= value <= hi):
                    raise ArmError(
                        400, "InvalidParameter", f"'{key}' must be between {lo} and {hi} (or -1), got {value!r}."
                    )
                new[key] = value
        if "plan" in props:
            if props["plan"] not in ("Analytics", "Basic"):
                raise ArmError(400, "InvalidParameter", f"'plan' must be Analytics or Basic, got {props['plan']!r}.")
            if props["plan"] != new.get("plan", "Analytics"):
                new["lastPlanModifiedDate"] = self.ws.now_text()
            new["plan"] = props["plan"]
        retention = new.get("retentionInDays", -1)
        eff_retention = WORKSPACE_RETENTION if retention == -1 else retention
        total = new.get("totalRetentionInDays", -1)
        if total != -1 and total < eff_retention:
            raise ArmError(
                400,
                "InvalidParameter",
                f"'totalRetentionInDays' ({total}) must not be lower than 'retentionInDays' ({eff_retention}).",
            )
        self.settings[canonical] = new
        return json_response(200, self.resource(canonical))
