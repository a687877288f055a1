"""Plans: the typed diff between what a workspace has and what the caller asked for (I/O-free).

``compute_plan(desired, observed)`` is a pure function: the Connector reads the workspace (``Observed``), this module
decides what would change, and ``Plan.apply()`` hands the changes back to the Connector to send, in order. Bodies are
the JSON that was read with only the intended fields changed (PUT replaces the whole resource, so fields this SDK does
not model survive), carrying the etag that was read (a changed resource at apply time is a stale plan).
"""

from __future__ import annotations

import enum
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._providers import ProviderNames
from ._transport import CONSENT_REMEDIATION

if TYPE_CHECKING:
    from ._hunting import TableIngestion
    from .models import (
        AlertRule,
        DataConnector,
        MicrosoftSecurityIncidentCreationRule,
        MicrosoftThreatProtectionConnector,
        Setting,
    )

__all__ = [
    "Action",
    "ApplyResult",
    "Change",
    "FieldChange",
    "IncidentsAndAlerts",
    "ManualStep",
    "Observed",
    "Plan",
    "compute_changes",
    "deterministic_connector_id",
]

MTP_KIND = "MicrosoftThreatProtection"
CREATION_RULE_KIND = "MicrosoftSecurityIncidentCreation"
# Envelope fields the service owns; left out of PUT bodies (everything else that was read is sent back).
_READ_ONLY = ("id", "name", "type", "systemData")
# Namespace for the deterministic connector id (case A4): same workspace -> same id, on every machine.
_ID_NAMESPACE = uuid.UUID("6f1c9a52-3f57-4a8e-9a51-6d7f4cf2d6a1")


class Action(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@attrs.frozen
class IncidentsAndAlerts:
    """Desired state of "Connect incidents and alerts" (the source document's first configuration part).

    ``alerts``: also stream the Defender alerts (``dataTypes.alerts``). ``turn_off_microsoft_incident_creation_rules``:
    disable the enabled MicrosoftSecurityIncidentCreation rules of the products Defender XDR covers (no duplicates).
    """

    turn_off_microsoft_incident_creation_rules: bool = False
    alerts: bool = True


@attrs.frozen
class Observed:
    """What ``plan()`` read from the workspace (typed models; each keeps the JSON it was read from in ``raw``)."""

    home_tenant_id: str
    onboarded: bool
    authorization_state: str | None
    license_state: str | None
    data_connectors: tuple[DataConnector, ...]
    alert_rules: tuple[AlertRule, ...]
    unified_portal_evidence: tuple[str, ...] = ()
    settings: tuple[Setting, ...] = ()
    ingestion: Mapping[str, TableIngestion] = attrs.field(factory=dict)  # Usage per table (empty: not read)
    tables: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)  # the workspace tables API (empty: not read)

    @property
    def mtp_connectors(self) -> tuple[MicrosoftThreatProtectionConnector, ...]:
        """The MicrosoftThreatProtection connectors, by name (a workspace should have at most one)."""
        from .models import MicrosoftThreatProtectionConnector

        found = (c for c in self.data_connectors if isinstance(c, MicrosoftThreatProtectionConnector))
        return tuple(sorted(found, key=lambda c: str(c.name)))

    @property
    def creation_rules(self) -> tuple[MicrosoftSecurityIncidentCreationRule, ...]:
        """The Microsoft incident creation rules, by name."""
        from .models import MicrosoftSecurityIncidentCreationRule

        found = (r for r in self.alert_rules if isinstance(r, MicrosoftSecurityIncidentCreationRule))
        return tuple(sorted(found, key=lambda r: str(r.name)))


@attrs.frozen
class FieldChange:
    """One field: its JSON path in the resource, value before (``None`` when absent) and after."""

    path: str
    before: Any
    after: Any

    def __str__(self) -> str:
        return f"{self.path}: {json.dumps(self.before)} -> {json.dumps(self.after)}"


@attrs.frozen
class Change:
    """One write. ``body`` is the full PUT body (``None`` for DELETE); ``etag`` is the etag that was read."""

    action: Action
    resource_type: str  # "dataConnectors" | "alertRules"
    name: str  # the resource name (last path segment)
    kind: str
    title: str
    reason: str
    etag: str | None
    fields: tuple[FieldChange, ...]
    body: Mapping[str, Any] | None = attrs.field(default=None, repr=False)

    def __str__(self) -> str:
        head = f"{self.action.value:>6} {self.resource_type}/{self.name} ({self.title})"
        return "\n".join([head, f"         why: {self.reason}", *(f"         {f}" for f in self.fields)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "resourceType": self.resource_type,
            "name": self.name,
            "kind": self.kind,
            "title": self.title,
            "reason": self.reason,
            "etag": self.etag,
            "fields": [{"path": f.path, "before": f.before, "after": f.after} for f in self.fields],
            "body": self.body,
        }


@attrs.frozen
class ManualStep:
    """A step no published API can perform (for example selecting the advanced hunting tables of "Connect
    events"): ``title``, the exact ``instructions`` to follow in a portal, and ``reason`` (the evidence that it is
    still due). ``apply()`` never claims it; a later plan drops it once its effect is observed."""

    title: str
    instructions: tuple[str, ...]
    reason: str

    def __str__(self) -> str:
        steps = [f"         {i}. {text}" for i, text in enumerate(self.instructions, 1)]
        return "\n".join([f"  manual {self.title}", f"         why: {self.reason}", *steps])

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "instructions": list(self.instructions), "reason": self.reason}


@attrs.frozen
class ApplyResult:
    """What ``apply()`` wrote: each change with the etag the service returned, in the order sent."""

    applied: tuple[Change, ...]
    etags: tuple[str | None, ...]

    @property
    def writes(self) -> int:
        return len(self.applied)

    def __str__(self) -> str:
        if not self.applied:
            return "Applied: nothing to do."
        return "Applied:\n" + "\n".join(
            f"  {c.action.value} {c.resource_type}/{c.name} ({c.title})" for c in self.applied
        )


@attrs.frozen(eq=False)
class Plan:
    """A typed diff, read-only until ``apply()``.

    ``changes`` run in order on apply (the connector before any rule is turned off, so there is never a window with no
    incident source). ``blockers`` are unmet prerequisites: ``apply()`` raises PreflightError while any exist.
    ``notes`` explain observed state that is not changed (for example a workspace managed from the unified Defender
    portal). ``apply()`` is idempotent: applying an applied plan returns the first result without writing again.
    Threads applying one plan at once take turns: the first writes, the others get its result (or, when it
    failed, try again as a later call would), as tasks do on the async face.
    """

    workspace: str
    tenant_id: str
    changes: tuple[Change, ...]
    notes: tuple[str, ...] = ()
    blockers: tuple[str, ...] = ()
    manual_steps: tuple[ManualStep, ...] = ()
    _applier: Callable[[Plan], ApplyResult] | None = attrs.field(default=None, repr=False, alias="applier")
    _result: list[ApplyResult] = attrs.field(factory=list, repr=False, init=False)
    _turn: threading.Lock = attrs.field(factory=threading.Lock, repr=False, init=False)

    @property
    def is_empty(self) -> bool:
        """True when nothing is due: no write for apply() and no manual step."""
        return not self.changes and not self.manual_steps

    def apply(self) -> ApplyResult:
        """Send the changes in order (see Connector.plan).

        Raises PreflightError (blockers), StalePlanError, PartialApplyError, APIStatusError subclasses.
        """
        if self._applier is None:
            raise RuntimeError("this plan is not bound to a connector")
        with self._turn:  # a second thread must not write the same changes again (a stale-plan error at best)
            if self._result:
                return self._result[0]
            result = self._applier(self)
            self._result.append(result)
            return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``m365sentinel plan --json``)."""
        return {
            "workspace": self.workspace,
            "tenantId": self.tenant_id,
            "changes": [c.to_dict() for c in self.changes],
            "notes": list(self.notes),
            "blockers": list(self.blockers),
            "manualSteps": [m.to_dict() for m in self.manual_steps],
            "empty": self.is_empty,
        }

    def __str__(self) -> str:
        lines = [f"Plan for {self.workspace} (tenant {self.tenant_id})"]
        lines += [f"  BLOCKED: {b}" for b in self.blockers]
        lines += [f"  note: {n}" for n in self.notes]
        if self.is_empty:
            lines.append("  No changes: the workspace already matches.")
        lines += [f"  {c}" for c in self.changes]
        lines += [str(m) for m in self.manual_steps]
        return "\n".join(lines)


def deterministic_connector_id(workspace_resource_id: str, kind: str = MTP_KIND) -> str:
    """The name used when no connector of ``kind`` exists yet: a UUIDv5 of the workspace id and kind (case A4)."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{workspace_resource_id.lower()}|{kind}"))


def _put_body(resource: DataConnector | AlertRule) -> dict[str, Any]:
    body = resource.to_json()  # a mutable deep copy of exactly what was read
    for key in _READ_ONLY:
        body.pop(key, None)
    return body


def _set(body: dict[str, Any], path: tuple[str, ...], value: Any, changes: list[FieldChange]) -> None:
    node = body
    for key in path[:-1]:
        nxt = node.get(key)
        if not isinstance(nxt, dict):
            nxt = {}
            node[key] = nxt
        node = nxt
    before = node.get(path[-1])
    if before != value:
        changes.append(
            FieldChange(
                "properties." + ".".join(path[1:]) if path[0] == "properties" else ".".join(path), before, value
            )
        )
        node[path[-1]] = value


def _mtp_change(
    desired: IncidentsAndAlerts, observed: Observed, tenant_id: str, workspace_id: str, notes: list[str]
) -> Change | None:
    existing = observed.mtp_connectors
    if len(existing) > 1:
        notes.append(
            f"{len(existing)} {MTP_KIND} data connectors exist ({', '.join(str(c.name) for c in existing)}); "
            f"updating {existing[0].name} only. A workspace should have one: remove the others."
        )
    current = existing[0] if existing else None
    body: dict[str, Any] = _put_body(current) if current else {"kind": MTP_KIND, "properties": {}}
    fields: list[FieldChange] = []
    props: dict[str, Any] = body.setdefault("properties", {})
    if current is not None and props.get("tenantId") not in (None, tenant_id):
        notes.append(f"the existing connector points at tenant {props.get('tenantId')}; it will be set to {tenant_id}")
    _set(body, ("properties", "tenantId"), tenant_id, fields)
    # Every required data type explicit, even the disabled ones (case A3).
    _set(body, ("properties", "dataTypes", "incidents", "state"), "Enabled", fields)
    _set(body, ("properties", "dataTypes", "alerts", "state"), "Enabled" if desired.alerts else "Disabled", fields)
    if not fields:
        return None
    if current is None:
        return Change(
            Action.CREATE,
            "dataConnectors",
            deterministic_connector_id(workspace_id),
            MTP_KIND,
            "Microsoft 365 Defender (Defender XDR) data connector",
            "no MicrosoftThreatProtection connector exists on the workspace",
            None,
            tuple(fields),
            body,
        )
    return Change(
        Action.UPDATE,
        "dataConnectors",
        str(current.name),
        MTP_KIND,
        "Microsoft 365 Defender (Defender XDR) data connector",
        "incidents and alerts must stream to Sentinel",
        current.etag,
        tuple(fields),
        body,
    )


def _rule_changes(observed: Observed, providers: ProviderNames) -> list[Change]:
    out = []
    for rule in observed.creation_rules:
        if rule.enabled is not True or not providers.is_covered_product(rule.product_filter):
            continue
        body = _put_body(rule)
        fields: list[FieldChange] = []
        _set(body, ("properties", "enabled"), False, fields)
        out.append(
            Change(
                Action.UPDATE,
                "alertRules",
                str(rule.name),
                CREATION_RULE_KIND,
                f"{rule.display_name} [{rule.product_filter}]",
                f"Defender XDR already creates incidents for {rule.product_filter}: avoid duplicates",
                rule.etag,
                tuple(fields),
                body,
            )
        )
    return out


def compute_changes(
    desired: IncidentsAndAlerts | None,
    observed: Observed,
    *,
    tenant_id: str,
    workspace_id: str,
    providers: ProviderNames,
) -> tuple[tuple[Change, ...], tuple[str, ...], tuple[str, ...]]:
    """Return ``(changes, notes, blockers)`` for the desired state against what was observed. Pure."""
    notes: list[str] = []
    blockers: list[str] = []
    if not observed.onboarded:
        blockers.append(
            "Microsoft Sentinel is not onboarded on this workspace (onboardingStates/default is missing): "
            "add Microsoft Sentinel to the workspace first."
        )
    if tenant_id != observed.home_tenant_id:
        blockers.append(
            f"tenant_id {tenant_id} is not the workspace's home tenant {observed.home_tenant_id}: the "
            "Defender XDR connector must use the tenant the workspace belongs to."
        )
    if observed.license_state not in (None, "Valid"):
        blockers.append(
            f"licence state is {observed.license_state} (dataConnectorsCheckRequirements): the tenant needs a "
            f"Microsoft 365 Defender licence, and consent. {CONSENT_REMEDIATION}"
        )
    if observed.authorization_state not in (None, "Valid"):
        blockers.append(
            f"authorization state is {observed.authorization_state}: the caller needs Security Administrator "
            "(or Global Administrator) on the tenant and write access to the workspace."
        )
    changes: list[Change] = []
    if desired is not None:
        if observed.unified_portal_evidence:
            notes.append(
                "the workspace is managed from the unified Microsoft Defender portal ("
                + "; ".join(observed.unified_portal_evidence)
                + "): Defender data arrives through that onboarding, so nothing is changed here."
            )
        else:
            mtp = _mtp_change(desired, observed, tenant_id, workspace_id, notes)
            if mtp is not None:
                changes.append(mtp)
            if desired.turn_off_microsoft_incident_creation_rules:
                changes.extend(_rule_changes(observed, providers))
    return tuple(changes), tuple(notes), tuple(blockers)


# Loaded on first use, not by ``import m365sentinel``: the public classes report the package as their home here,
# as the eagerly exported ones do there (tracebacks and reprs show m365sentinel.Plan, however it was reached).
for _cls in (Action, ApplyResult, Change, FieldChange, ManualStep, Plan):
    _cls.__module__ = "m365sentinel"
del _cls
