"""Sentinel ↔ Defender XDR field mapping (pure data + functions).

The Defender XDR connector itself keeps status, owner and classification in sync between the portals; the SDK
uses this table to compare the two sides (``reconcile``) and to mirror its own writes when asked, never to
fight the connector.

=========================================  ==================================================================
Sentinel (ARM incident)                    Defender (Graph security incident)
=========================================  ==================================================================
status New                                 active
status Active                              inProgress (also accepts awaitingAction, and active after a sync)
status Closed                              resolved, redirected (merged into another incident)
TruePositive / SuspiciousActivity          truePositive (+ any determination)
BenignPositive / SuspiciousButExpected     informationalExpectedActivity (+ any determination)
FalsePositive / IncorrectAlertLogic        falsePositive / notMalicious
FalsePositive / InaccurateData             falsePositive / notEnoughDataToValidate
Undetermined                               unknown
owner (userPrincipalName / e-mail)         assignedTo (case-insensitive)
labels (labelName)                         customTags (as a set)
=========================================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from .._errors import InvalidInputError

__all__ = [
    "CLOSE_REASONS",
    "DefenderFields",
    "SentinelFields",
    "check_close_rule",
    "defender_fields_of",
    "defender_patch_for",
    "differences",
    "sentinel_fields_of",
]

# Case C2: which reason fits which classification (Undetermined takes none).
CLOSE_REASONS: dict[str, tuple[str, ...]] = {
    "TruePositive": ("SuspiciousActivity",),
    "BenignPositive": ("SuspiciousButExpected",),
    "FalsePositive": ("IncorrectAlertLogic", "InaccurateData"),
    "Undetermined": (),
}

_STATUS_TO_DEFENDER = {"New": "active", "Active": "inProgress", "Closed": "resolved"}
_STATUS_ACCEPTED = {
    "New": {"active"},
    "Active": {"inprogress", "awaitingaction", "active"},
    "Closed": {"resolved", "redirected"},
}
_STATUS_FROM_DEFENDER = {
    "active": "New",
    "inprogress": "Active",
    "awaitingaction": "Active",
    "resolved": "Closed",
    "redirected": "Closed",
}
_CLASS_TO_DEFENDER: dict[tuple[str, str | None], tuple[str, str | None]] = {
    ("TruePositive", "SuspiciousActivity"): ("truePositive", None),
    ("BenignPositive", "SuspiciousButExpected"): ("informationalExpectedActivity", None),
    ("FalsePositive", "IncorrectAlertLogic"): ("falsePositive", "notMalicious"),
    ("FalsePositive", "InaccurateData"): ("falsePositive", "notEnoughDataToValidate"),
    ("Undetermined", None): ("unknown", None),
}
# Determination written with a classification whose Sentinel side carries none.
_DEFAULT_DETERMINATION = {"truePositive": "other", "informationalExpectedActivity": "other", "unknown": "unknown"}


def check_close_rule(classification: str | None, reason: str | None) -> tuple[str, str | None]:
    """Canonical ``(classification, reason)`` for closing, or InvalidInputError naming the rule (case C2)."""
    if classification is None:
        raise InvalidInputError("closing an incident requires a classification: one of " + ", ".join(CLOSE_REASONS))
    canon = next((c for c in CLOSE_REASONS if c.casefold() == str(classification).casefold()), None)
    if canon is None:
        raise InvalidInputError(f"classification {classification!r} is not one of {', '.join(CLOSE_REASONS)}")
    allowed = CLOSE_REASONS[canon]
    if not allowed:
        if reason is not None:
            raise InvalidInputError(f"classification Undetermined takes no reason, got reason={reason!r}")
        return canon, None
    if reason is None:
        if len(allowed) == 1:
            return canon, allowed[0]
        raise InvalidInputError(f"classification {canon} needs a reason: one of {', '.join(allowed)}")
    fit = next((r for r in allowed if r.casefold() == str(reason).casefold()), None)
    if fit is None:
        raise InvalidInputError(
            f"reason {reason!r} does not fit classification {canon}; expected {' or '.join(allowed)}"
        )
    return canon, fit


@attrs.frozen
class SentinelFields:
    """The synchronised fields of a Sentinel incident (canonical text, ``None`` when absent)."""

    status: str | None
    classification: str | None
    reason: str | None
    owner: str | None
    labels: frozenset[str]


@attrs.frozen
class DefenderFields:
    status: str | None
    classification: str | None
    determination: str | None
    assigned_to: str | None
    custom_tags: frozenset[str]


def _owner_text(owner: Any) -> str | None:
    if owner is None:
        return None
    for attr in ("user_principal_name", "email", "assigned_to"):
        value = getattr(owner, attr, None)
        if value:
            return str(value)
    return None


def sentinel_fields_of(incident: Any) -> SentinelFields:
    """From an ``Incident`` model."""
    return SentinelFields(
        status=str(incident.status) if incident.status is not None else None,
        classification=str(incident.classification) if incident.classification is not None else None,
        reason=str(incident.classification_reason) if incident.classification_reason is not None else None,
        owner=_owner_text(incident.owner),
        labels=frozenset(lb.label_name for lb in incident.labels),
    )


def defender_fields_of(incident: Any) -> DefenderFields:
    """From a ``GraphIncident`` model."""
    return DefenderFields(
        status=str(incident.status) if incident.status is not None else None,
        classification=str(incident.classification) if incident.classification is not None else None,
        determination=str(incident.determination) if incident.determination is not None else None,
        assigned_to=incident.assigned_to or None,
        custom_tags=frozenset(incident.custom_tags),
    )


def status_from_defender(status: str | None) -> str | None:
    return _STATUS_FROM_DEFENDER.get((status or "").casefold())


def differences(s: SentinelFields, d: DefenderFields) -> tuple[tuple[str, Any, Any], ...]:
    """``(field, sentinel value, defender value)`` for every synchronised field on which the portals disagree."""
    out: list[tuple[str, Any, Any]] = []
    if s.status is not None and (d.status or "").casefold() not in _STATUS_ACCEPTED.get(s.status, set()):
        out.append(("status", s.status, d.status))
    if s.status == "Closed" and s.classification is not None:
        want = _CLASS_TO_DEFENDER.get((s.classification, s.reason))
        have_c = (d.classification or "unknown").casefold()
        if want is not None and (
            have_c != want[0].casefold()
            or (want[1] is not None and (d.determination or "").casefold() != want[1].casefold())
        ):
            out.append(("classification", f"{s.classification}/{s.reason}", f"{d.classification}/{d.determination}"))
    if (s.owner or "").casefold() != (d.assigned_to or "").casefold():
        out.append(("owner", s.owner, d.assigned_to))
    if s.labels != d.custom_tags:
        out.append(("labels", sorted(s.labels), sorted(d.custom_tags)))
    return tuple(out)


def defender_patch_for(
    s: SentinelFields, fields: Iterable[str], *, current: DefenderFields | None = None
) -> dict[str, Any]:
    """The Graph PATCH body that makes Defender match ``s`` on ``fields`` (subset of status, classification,
    owner, labels). Only writable properties are sent: assignedTo, classification, determination, status,
    customTags."""
    body: dict[str, Any] = {}
    wanted = set(fields)
    if "status" in wanted and s.status in _STATUS_TO_DEFENDER:
        body["status"] = _STATUS_TO_DEFENDER[s.status]
    if "classification" in wanted and s.classification is not None:
        mapped = _CLASS_TO_DEFENDER.get((s.classification, s.reason))
        if mapped is not None:
            cls, det = mapped
            keep = current is not None and (current.classification or "").casefold() == cls.casefold()
            body["classification"] = cls
            body["determination"] = (
                det
                or (current.determination if keep and current else None)
                or (_DEFAULT_DETERMINATION.get(cls, "other"))
            )
    if "owner" in wanted:
        body["assignedTo"] = s.owner or ""
    if "labels" in wanted:
        body["customTags"] = sorted(s.labels)
    return body
