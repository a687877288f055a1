"""``reconcile``: where Sentinel and Defender XDR disagree on status, classification, owner or labels.

Incidents are matched by the Sentinel incident's ``providerIncidentId`` and the Graph incident ``id``. A
difference counts as drift only when both sides were last changed more than ``grace`` ago (the connector syncs
within minutes; a fresh edit on one side is sync in flight, not drift). Read-only unless ``repair=True``, which
PATCHes Defender to match Sentinel for the drifted fields and reports what still differs after a re-read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

from .._errors import InvalidInputError
from .._transport._flow import Flow, collect
from ..models._time import shift
from ._checkpoint import Checkpoint
from ._mapping import defender_fields_of, defender_patch_for, differences, sentinel_fields_of

if TYPE_CHECKING:
    from ._stream import IncidentStream

__all__ = ["Drift", "ReconcileReport", "reconcile"]


@attrs.frozen
class Drift:
    """One incident on which the portals disagree: ``fields`` is ((field, sentinel value, defender value), ...)."""

    incident_id: str
    provider_incident_id: str
    fields: tuple[tuple[str, Any, Any], ...]
    repaired: bool = False


@attrs.frozen
class ReconcileReport:
    """``checked``: matched pairs compared; ``drift``: pairs that disagree beyond the grace period; ``in_grace``:
    pairs that disagree but changed recently; ``missing_in_defender``: Sentinel incidents (ids) with a provider id
    Graph did not list; ``repaired``: whether repair was asked."""

    checked: int
    drift: tuple[Drift, ...]
    in_grace: tuple[str, ...]
    missing_in_defender: tuple[str, ...]
    repaired: bool = False

    @property
    def in_sync(self) -> bool:
        return not self.drift and not self.missing_in_defender

    def __str__(self) -> str:
        lines = [f"Reconciled {self.checked} incidents: {len(self.drift)} drifted, {len(self.in_grace)} within grace"]
        for d in self.drift:
            parts = "; ".join(f"{f}: Sentinel {s!r} vs Defender {g!r}" for f, s, g in d.fields)
            lines.append(f"  {d.incident_id} (Defender {d.provider_incident_id}): {parts}")
        lines += [f"  {i}: not found in Defender" for i in self.missing_in_defender]
        return "\n".join(lines)


def reconcile(stream: IncidentStream, *, grace: timedelta, repair: bool = False) -> ReconcileReport:
    """Compare every incident of ``stream`` (its filters; one full pass, no checkpoint) with Graph's listing."""
    return stream.session.run(reconcile_flow(stream, grace=grace, repair=repair))  # type: ignore[no-any-return]


def reconcile_flow(stream: IncidentStream, *, grace: timedelta, repair: bool = False) -> Flow[ReconcileReport]:
    """``reconcile`` as a flow (either face drives it)."""
    from ..models import GraphIncident
    from ._stream import RunState, _Committer

    if not isinstance(grace, timedelta) or grace < timedelta(0):
        raise InvalidInputError(f"grace={grace!r}: expected a non-negative timedelta")
    now = stream.clock_()
    cutoff = shift(now, -grace)
    full = attrs.evolve(stream.since(Checkpoint()), limit=None)
    committer = _Committer(None)
    start = full._start_checkpoint(committer)
    sentinel = [item.incident for item in (yield from collect(full._pass(start, committer, RunState(start))))]
    graph = stream.defender()
    listed = yield from collect(graph._iterate("incidents", None, False, GraphIncident.from_json))
    by_id = {g.id: g for g in listed if g.id}
    drift: list[Drift] = []
    in_grace: list[str] = []
    missing: list[str] = []
    checked = 0
    for inc in sentinel:
        pid = inc.provider_incident_id
        if not pid:
            continue
        g = by_id.get(pid)
        if g is None:
            missing.append(inc.name or "")
            continue
        checked += 1
        s_fields = sentinel_fields_of(inc)
        diff = differences(s_fields, defender_fields_of(g))
        if not diff:
            continue
        recent = [t for t in (inc.last_modified_time_utc, g.last_update_date_time) if t is not None and t > cutoff]
        if recent:
            in_grace.append(inc.name or "")
            continue
        repaired = False
        if repair:
            body = defender_patch_for(s_fields, {f for f, _, _ in diff}, current=defender_fields_of(g))
            if body:
                after = yield from graph._patch(pid, body)
                diff = differences(s_fields, defender_fields_of(after))
                repaired = not diff
        drift.append(Drift(inc.name or "", pid, diff, repaired))
    return ReconcileReport(checked, tuple(drift), tuple(in_grace), tuple(missing), repair)
