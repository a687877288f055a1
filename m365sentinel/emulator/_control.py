"""Test-side control of the emulated incidents: create and modify them while a client streams, and make the
Defender side drift (``IncidentControl(emu)``). Every change goes through the workspace's own write path, so
ARM, Log Analytics rows and the Graph view stay consistent; each runs under the handler lock."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from m365sentinel.emulator._dataset import IncidentSeed, Snapshot
from m365sentinel.emulator._engine import format_datetime

if TYPE_CHECKING:
    from m365sentinel.emulator._emulator import Emulator

__all__ = ["IncidentControl"]


class IncidentControl:
    def __init__(self, emu: Emulator) -> None:
        self._emu = emu
        self._core = emu._core
        self._n = 0

    @property
    def graph(self) -> Any:
        """The Defender tenant (``sync`` flag, ``rate_limit``)."""
        return self._core.graph

    def create_incident(
        self,
        *,
        title: str = "Emulated Defender incident",
        severity: str = "Medium",
        provider_name: str = "Microsoft 365 Defender",
        provider_incident_id: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """A new Defender incident created now (emulator clock); returns its ARM resource (a copy)."""
        ws = self._core.ws
        with self._core.lock:
            self._n += 1
            number = 1 + max((r["properties"].get("incidentNumber", 0) for r in ws.incidents.values()), default=1000)
            incident_name = name or f"{self._n:08x}-0000-4000-8000-{number:012x}"
            now = self._core.clock.now()
            seed = IncidentSeed(
                name=incident_name,
                number=number,
                provider_name=provider_name,
                provider_incident_id=provider_incident_id or str(900000 + number),
                title=title,
                severity=severity,
                created=now,
                alerts=[],
                snapshots=[Snapshot(time=now, status="New", owner={})],
            )
            if "SecurityIncident" not in ws.tables.schemas:
                ws.tables.create("SecurityIncident", ws.schemas["SecurityIncident"])
            ws._load_incident(seed)
            return copy.deepcopy(ws.incidents[incident_name.lower()])

    def create_incidents(self, count: int, *, spacing: timedelta = timedelta(seconds=1)) -> None:
        """Bulk-create ``count`` Defender incidents (ARM resources only, no table rows), the newest now and each
        ``spacing`` older than the next: a large backlog for benchmarks, in linear time."""
        ws = self._core.ws
        with self._core.lock:
            number = 1 + max((r["properties"].get("incidentNumber", 0) for r in ws.incidents.values()), default=1000)
            now = self._core.clock.now()
            base = ws.si_id("incidents", "")
            for k in range(count):
                when = format_datetime(now - spacing * (count - 1 - k))
                name = f"{number + k:08x}-0000-4000-8000-{k:012x}"
                ws._store(
                    ws.incidents,
                    "incidents",
                    name,
                    {
                        "properties": {
                            "title": f"Multi-stage incident {number + k} on one endpoint",
                            "description": "Bulk-created by IncidentControl.create_incidents.",
                            "severity": ("High", "Medium", "Low", "Informational")[k % 4],
                            "status": "New",
                            "owner": {"objectId": None, "email": None, "assignedTo": None, "userPrincipalName": None},
                            "labels": [{"labelName": "bulk", "labelType": "User"}],
                            "firstActivityTimeUtc": when,
                            "lastActivityTimeUtc": when,
                            "createdTimeUtc": when,
                            "lastModifiedTimeUtc": when,
                            "incidentNumber": number + k,
                            "incidentUrl": "https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident"
                            + base
                            + name,
                            "providerName": "Microsoft 365 Defender",
                            "providerIncidentId": str(500000 + number + k),
                            "relatedAnalyticRuleIds": [],
                            "additionalData": {
                                "alertsCount": 1,
                                "bookmarksCount": 0,
                                "commentsCount": 0,
                                "alertProductNames": ["Microsoft Defender for Endpoint"],
                                "tactics": ["Execution"],
                            },
                        }
                    },
                )
                ws.incident_alerts[name.lower()] = []

    def modify_incident(self, name: str, **properties: Any) -> dict[str, Any]:
        """Change properties (``status``, ``severity``, ``owner``, ``labels``, ``classification``...) now, as another
        user would; returns the new resource (a copy)."""
        ws = self._core.ws
        with self._core.lock:
            current = ws.get(ws.incidents, name, "Incident")
            props = copy.deepcopy(current["properties"])
            props.update(copy.deepcopy(properties))
            if props.get("status") == "Closed" and not props.get("classification"):
                props["classification"] = "Undetermined"
            _, stored = ws.put_incident(name, {"properties": props})
            return copy.deepcopy(stored)

    def set_defender(self, incident_id: str, *, sync: bool = False, **fields: Any) -> None:
        """Change the Defender side (Graph fields) without (default) or with the connector's sync."""
        with self._core.lock:
            self._core.graph.patch(incident_id, fields, sync=sync)

    def incident(self, name: str) -> dict[str, Any]:
        ws = self._core.ws
        with self._core.lock:
            return copy.deepcopy(ws.get(ws.incidents, name, "Incident"))

    def names(self) -> list[str]:
        with self._core.lock:
            return [r["name"] for r in self._core.ws.incidents.values()]

    def tick(self, seconds: float = 1.0) -> None:
        """Advance the emulator clock (each change then gets a distinct lastModifiedTimeUtc)."""
        self._emu.advance(timedelta(seconds=seconds))
