"""Content as code inside plan/apply (pure): the Microsoft Defender XDR solution and analytics rules.

``solution_changes`` compares the content hub catalogue (contentProductPackages / contentProductTemplates) with what
is installed (contentPackages / contentTemplates): the package, then each template whose version differs, as PUTs on
the stable api-version. ``rule_changes`` compares desired ``AnalyticsRule`` objects with the workspace's rules (by
rule id, else by ``alertRuleTemplateName``): a create, or one update listing every field that differs (a template
upgrade is one change whose fields include ``templateVersion``). Comparisons are by subset: fields the service adds
to what was sent (``lastModifiedUtc``, defaults inside nested objects) are never a difference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .._plan import _READ_ONLY, Action, Change, FieldChange
from ..models._converter import thaw
from ..models._time import parse_timespan
from ._routes import NRT, SCHEDULED

if TYPE_CHECKING:
    from ..models import AlertRule
    from ._rules import AnalyticsRule

__all__ = ["SOLUTION_ID", "SOLUTION_NAME", "ContentObserved", "rule_changes", "solution_changes", "templates_to_fetch"]

# The content hub id of the Microsoft Defender XDR solution (Azure-Sentinel "Solutions/Microsoft Defender XDR",
# offer azure-sentinel-solution-microsoft365defender of publisher azuresentinel).
SOLUTION_ID = "azuresentinel.azure-sentinel-solution-microsoft365defender"
SOLUTION_NAME = "Microsoft Defender XDR"
# Catalogue fields the service computes for the workspace; never sent back.
_COMPUTED = ("installedVersion",)
_DURATION_KEYS = ("queryFrequency", "queryPeriod", "suppressionDuration")


@attrs.frozen
class ContentObserved:
    """What plan() read from content hub (JSON items as returned)."""

    catalogue_packages: tuple[Mapping[str, Any], ...]
    catalogue_templates: tuple[Mapping[str, Any], ...]
    packages: tuple[Mapping[str, Any], ...]
    templates: tuple[Mapping[str, Any], ...]


def _props(item: Mapping[str, Any]) -> Mapping[str, Any]:
    props = item.get("properties")
    return props if isinstance(props, Mapping) else {}


def _find(items: Iterable[Mapping[str, Any]], key: str, value: str) -> Mapping[str, Any] | None:
    return next((i for i in items if str(_props(i).get(key, "")).lower() == value.lower()), None)


def _solution_templates(observed: ContentObserved) -> list[Mapping[str, Any]]:
    return [t for t in observed.catalogue_templates if str(_props(t).get("packageId", "")).lower() == SOLUTION_ID]


def templates_to_fetch(observed: ContentObserved) -> list[str]:
    """ARM names of the catalogue templates (of the solution) not installed at their catalogue version: their full
    form (``mainTemplate``) is read with ``GET contentProductTemplates/{name}`` before planning them."""
    out = []
    for t in _solution_templates(observed):
        installed = _find(observed.templates, "contentId", str(_props(t).get("contentId", "")))
        if installed is None or _props(installed).get("version") != _props(t).get("version"):
            out.append(str(t.get("name")))
    return out


def _body(item: Mapping[str, Any] | None, properties: Mapping[str, Any]) -> dict[str, Any]:
    """A PUT body: what was read (read-only envelope fields dropped, etag kept) with ``properties`` replaced."""
    body = {k: thaw(v) for k, v in (item or {}).items() if k not in _READ_ONLY}
    body["properties"] = {k: thaw(v) for k, v in properties.items() if k not in _COMPUTED}
    return body


def _content_change(
    kind: str, collection: str, name: str, title: str, new: Mapping[str, Any], installed: Mapping[str, Any] | None
) -> Change:
    before = _props(installed) if installed is not None else {}
    fields = tuple(
        FieldChange(f"properties.{k}", before.get(k), new.get(k))
        for k in ("version", "contentProductId")
        if before.get(k) != new.get(k)
    )
    return Change(
        Action.UPDATE if installed is not None else Action.CREATE,
        collection,
        name,
        kind,
        title,
        f"content hub has version {new.get('version')}"
        + (f"; {before.get('version')} is installed" if installed is not None else "; not installed"),
        installed.get("etag") if installed is not None else None,
        fields,
        _body(installed, new),
    )


def solution_changes(
    observed: ContentObserved, full_templates: Mapping[str, Mapping[str, Any]]
) -> tuple[list[Change], list[str]]:
    """``(changes, blockers)`` installing or updating the solution: the package, then its templates (in catalogue
    order) whose installed version differs; ``full_templates`` maps ``templates_to_fetch`` names to their GET."""
    package = _find(observed.catalogue_packages, "contentId", SOLUTION_ID)
    if package is None:
        return [], [
            f"the {SOLUTION_NAME} solution ({SOLUTION_ID}) is not in this workspace's content hub catalogue "
            "(GET contentProductPackages): it cannot be installed through the API here"
        ]
    changes = []
    new = _props(package)
    installed = _find(observed.packages, "contentId", SOLUTION_ID)
    if installed is None or _props(installed).get("version") != new.get("version"):
        changes.append(
            _content_change("Solution", "contentPackages", SOLUTION_ID, f"{SOLUTION_NAME} solution", new, installed)
        )
    for name in templates_to_fetch(observed):
        full = full_templates.get(name)
        if full is None or not _props(full).get("contentId"):
            return [], [f"contentProductTemplates/{name} could not be read in full (no contentId): plan again"]
        props = _props(full)
        content_id = str(props["contentId"])
        changes.append(
            _content_change(
                str(props.get("contentKind") or "Template"),
                "contentTemplates",
                content_id,
                str(props.get("displayName") or content_id),
                props,
                _find(observed.templates, "contentId", content_id),
            )
        )
    return changes, []


def _same(key: str, current: Any, desired: Any) -> bool:
    if key in _DURATION_KEYS and isinstance(current, str) and isinstance(desired, str):
        try:
            return parse_timespan(current) == parse_timespan(desired)
        except ValueError:
            return False
    return _subset(current, desired)


def _subset(current: Any, desired: Any) -> bool:
    """``desired`` is contained in ``current``: objects by key (extra keys in current ignored), arrays item by item."""
    if isinstance(desired, Mapping):
        return isinstance(current, Mapping) and all(_subset(current.get(k), v) for k, v in desired.items())
    if isinstance(desired, (list, tuple)):
        return (
            isinstance(current, (list, tuple))
            and len(current) == len(desired)
            and all(_subset(c, d) for c, d in zip(current, desired, strict=True))
        )
    return bool(current == desired)


def rule_changes(
    rules: Sequence[AnalyticsRule], existing: Sequence[AlertRule]
) -> tuple[list[Change], list[str], list[str]]:
    """``(changes, notes, blockers)`` for the desired rules against the workspace's rules. Pure."""
    changes: list[Change] = []
    notes: list[str] = []
    blockers: list[str] = []
    by_name = {str(r.name).lower(): r for r in existing if r.name}
    claimed: set[str] = set()
    for rule in rules:
        notes += [f"rule {n}" for n in rule.findings]
        current = by_name.get(rule.name.lower())
        if current is None and rule.template_name:
            current = next(
                (
                    r
                    for r in existing
                    if r.kind in (SCHEDULED, NRT)
                    and str(r.name).lower() not in claimed
                    and str((r.raw.get("properties") or {}).get("alertRuleTemplateName", "")).lower()
                    == rule.template_name.lower()
                ),
                None,
            )
            if current is not None:
                notes.append(
                    f"rule {current.name} ({current.display_name}) was made from template {rule.template_name}: "
                    "it is updated instead of creating a second rule"
                )
        if current is not None:
            claimed.add(str(current.name).lower())
        change = _rule_change(rule, current, blockers)
        if change is not None:
            changes.append(change)
    return changes, notes, blockers


def _rule_change(rule: AnalyticsRule, current: AlertRule | None, blockers: list[str]) -> Change | None:
    desired = {k: thaw(v) for k, v in rule.properties.items()}
    if current is None:
        summary = ("displayName", "severity", "enabled", "alertRuleTemplateName", "templateVersion")
        return Change(
            Action.CREATE,
            "alertRules",
            rule.name,
            rule.kind,
            rule.display_name,
            f"no {rule.kind} rule {rule.name} exists"
            + (f" (template {rule.template_name} v{rule.template_version})" if rule.template_name else ""),
            None,
            tuple(FieldChange(f"properties.{k}", None, desired[k]) for k in summary if k in desired),
            {"kind": rule.kind, "properties": desired},
        )
    if current.kind != rule.kind:
        blockers.append(
            f"alertRules/{current.name} is a {current.kind} rule and the desired one is {rule.kind}: a PUT cannot "
            "change a rule's kind; delete the rule first, or give the desired rule another name"
        )
        return None
    body = current.to_json()
    for key in _READ_ONLY:
        body.pop(key, None)
    props: dict[str, Any] = body.setdefault("properties", {})
    fields = []
    for key, value in desired.items():
        if not _same(key, props.get(key), value):
            fields.append(FieldChange(f"properties.{key}", props.get(key), value))
            props[key] = value
    if not fields:
        return None
    new = desired.get("templateVersion")
    was = (current.raw.get("properties") or {}).get("templateVersion")
    reason = (
        f"template {rule.template_name} upgraded from {was} to {new}"
        if new is not None and was != new
        else "the rule differs from its desired state"
    )
    return Change(
        Action.UPDATE,
        "alertRules",
        str(current.name),
        rule.kind,
        rule.display_name,
        reason,
        current.etag,
        tuple(fields),
        body,
    )
