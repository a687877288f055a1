"""Scripted incident activity on an emulator (``emu.incident_control()``): create and modify incidents while a
client streams, and make the Defender side drift. Every change goes through the workspace's own write path, so
ARM, Log Analytics rows and the Graph view stay consistent; each runs under the handler lock."""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from m365sentinel._errors import InvalidInputError
from m365sentinel._inputs import check_text
from m365sentinel.emulator._arm_util import ArmError
from m365sentinel.emulator._dataset import AlertSeed, IncidentSeed, Snapshot
from m365sentinel.emulator._engine import format_datetime

if TYPE_CHECKING:
    from m365sentinel.emulator._core import Core
    from m365sentinel.emulator._emulator import Emulator

__all__ = ["IncidentControl"]


@contextlib.contextmanager
def _as_input_error() -> Iterator[None]:
    """What the service would answer with an error status is, called directly, a caller mistake."""
    try:
        yield
    except ArmError as exc:
        raise InvalidInputError(f"{exc.code}: {exc.message}") from exc


class IncidentControl:
    """Changes made "by someone else" to an emulator's incidents: by an analyst in the portal (``modify_incident``),
    by Defender XDR (``create_incident``, ``create_incidents``, ``set_defender``). Get it with
    ``emu.incident_control()``. Times come from the emulator clock; ``tick`` advances it."""

    def __init__(self, emu: Emulator, core: Core | None = None) -> None:
        self._emu = emu
        self._core = emu._core if core is None else core  # a fleet member's core: that workspace's incidents
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

    def create_incidents(self, count: int, *, spacing: timedelta = timedelta(seconds=1), alerts: int = 0) -> list[str]:
        """Bulk-create ``count`` Defender incidents (ARM resources and their Graph view, no table rows), the newest
        now and each ``spacing`` older than the next (``timedelta(0)``: all share one lastModifiedTimeUtc, i.e. one
        Graph lastUpdateDateTime); each gets ``alerts`` alerts without entities (``alerts_v2``, ``$expand=alerts``,
        ``POST .../alerts``). A large backlog for tests and benchmarks, in linear time. Returns the incident names
        (ARM ``name``), oldest first; the Graph incident id is ``properties.providerIncidentId``.
        Raises InvalidInputError for a negative ``count``/``alerts`` or ``spacing``."""
        if not isinstance(count, int) or count < 0:
            raise InvalidInputError(f"count={count!r}: expected a non-negative integer")
        if not isinstance(alerts, int) or alerts < 0:
            raise InvalidInputError(f"alerts={alerts!r}: expected a non-negative integer")
        if spacing < timedelta(0):
            raise InvalidInputError(f"spacing={spacing!r}: expected a non-negative timedelta")
        ws = self._core.ws
        names: list[str] = []
        with self._core.lock:
            number = 1 + max((r["properties"].get("incidentNumber", 0) for r in ws.incidents.values()), default=1000)
            now = self._core.clock.now()
            base = ws.si_id("incidents", "")
            for k in range(count):
                at = now - spacing * (count - 1 - k)
                when = format_datetime(at)
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
                                "alertsCount": alerts or 1,  # without seeds, still claims one (as before)
                                "bookmarksCount": 0,
                                "commentsCount": 0,
                                "alertProductNames": ["Microsoft Defender for Endpoint"],
                                "tactics": ["Execution"],
                            },
                        }
                    },
                )
                ws.incident_alerts[name.lower()] = [self._bulk_alert(name, number + k, j, at) for j in range(alerts)]
                names.append(name)
        return names

    @staticmethod
    def _bulk_alert(incident: str, number: int, j: int, at: datetime) -> AlertSeed:
        return AlertSeed(
            system_alert_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"bulk/{incident}/{j}")),
            product="MDE",
            title="Suspicious process execution",
            tactic="Execution",
            technique="T1059",
            severity="Medium",
            start=at - timedelta(minutes=5),
            end=at - timedelta(minutes=1),
            generated=at,
            entities=[],
            xdr_names=False,
            vendor_original_id=f"da{number:018d}_{j}",
        )

    def modify_incident(self, name: str, **properties: Any) -> dict[str, Any]:
        """Change properties (``status``, ``severity``, ``owner``, ``labels``, ``classification``...) now, as another
        user would; returns the new resource (a copy). Raises InvalidInputError for an unknown name or a change the
        service would refuse (the service's message)."""
        ws = self._core.ws
        check_text(name, "name", expected="an incident name")
        with self._core.lock, _as_input_error():
            current = ws.get(ws.incidents, name, "Incident")
            props = copy.deepcopy(current["properties"])
            props.update(copy.deepcopy(properties))
            if props.get("status") == "Closed" and not props.get("classification"):
                props["classification"] = "Undetermined"
            _, stored = ws.put_incident(name, {"properties": props})
            return copy.deepcopy(stored)

    def set_defender(self, incident_id: str, *, sync: bool = False, **fields: Any) -> None:
        """Change the Defender side of Graph incident ``incident_id`` now, as a Defender portal user would: ``fields``
        are Graph names (``status="resolved"``, ``assignedTo``, ``classification``, ``determination``,
        ``customTags``). With ``sync=False`` (default) only the Graph view changes (the portals drift, what
        ``reconcile`` reports); with ``sync=True`` the workspace incident follows, as the Defender XDR connector does.
        Raises InvalidInputError for an unknown id or a field the service would refuse."""
        check_text(incident_id, "incident_id", expected="a Graph incident id")
        with self._core.lock, _as_input_error():
            self._core.graph.patch(incident_id, fields, sync=sync)

    def incident(self, name: str) -> dict[str, Any]:
        """The ARM incident resource ``name`` (a copy); raises InvalidInputError when absent."""
        ws = self._core.ws
        check_text(name, "name", expected="an incident name")
        with self._core.lock, _as_input_error():
            return copy.deepcopy(ws.get(ws.incidents, name, "Incident"))

    def names(self) -> list[str]:
        """The ARM names of all incidents (Defender and the workspace's own), in creation order."""
        with self._core.lock:
            return [r["name"] for r in self._core.ws.incidents.values()]

    def tick(self, seconds: float = 1.0) -> None:
        """Advance the emulator clock (each change then gets a distinct lastModifiedTimeUtc)."""
        self._emu.advance(timedelta(seconds=seconds))
