"""Analytics rule templates and the rules made from them, or from the public content repository's YAML (no I/O).

A ``RuleTemplate`` is one item of ``GET alertRuleTemplates`` (2025-09-01). An ``AnalyticsRule`` is a desired
Scheduled or NRT rule: the ARM ``properties`` to send, validated when it is built (before any request):

- kind ``Scheduled`` or ``NRT``; ``severity`` High/Medium/Low/Informational; a non-empty ``displayName``;
- Scheduled: ``queryFrequency`` 5 minutes..14 days, ``queryPeriod`` 5 minutes..30 days and not shorter than the
  frequency, ``triggerOperator`` GreaterThan/LessThan/Equal/NotEqual, ``triggerThreshold`` 0..10000;
- ``suppressionDuration`` 5 minutes..24 hours; ``techniques`` ``T1234``, ``subTechniques`` ``T1234.001``;
- ``entityMappings``: each an ``entityType`` with at least one ``{identifier, columnName}``;
- the query: KQL text checked against Sentinel's schemas by ``kql.check_portability``: an error finding (a table
  Sentinel never receives, a Defender-only function, a renamed column...) refuses the rule; warnings are kept in
  ``findings`` and shown as plan notes.

What a template lacks gets the portal's defaults: suppression off for 5 hours, an incident per alert with grouping
off, one alert per result set (``eventGroupingSettings.aggregationKind: SingleAlert``). ``alertRuleTemplateName``
and ``templateVersion`` record where a rule came from, so a template upgrade is one visible change.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import attrs

from .._errors import InvalidInputError, MissingExtraError
from .._inputs import check_text
from ..models._converter import freeze, thaw
from ..models._time import format_iso_duration, parse_timespan
from ._routes import NRT, SCHEDULED

__all__ = ["MTP_CONNECTOR_ID", "AnalyticsRule", "RuleTemplate", "parse_duration"]

MTP_CONNECTOR_ID = "MicrosoftThreatProtection"
_RULE_NAMESPACE = uuid.UUID("0b5d4c31-64a6-4a47-a1c5-5e9c0a4fd1b2")  # rule id = uuid5(this, template id)
_SEVERITIES = ("High", "Medium", "Low", "Informational")
_OPERATORS = {"gt": "GreaterThan", "lt": "LessThan", "eq": "Equal", "ne": "NotEqual"}
_SHORT = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_TECHNIQUE = re.compile(r"^T\d{4}$")
_SUB_TECHNIQUE = re.compile(r"^T\d{4}\.\d{3}$")
# Properties a rule takes from its template (and from YAML, after renaming); everything else is left out.
_COPIED = (
    "displayName",
    "description",
    "severity",
    "query",
    "queryFrequency",
    "queryPeriod",
    "triggerOperator",
    "triggerThreshold",
    "tactics",
    "techniques",
    "subTechniques",
    "entityMappings",
    "customDetails",
    "alertDetailsOverride",
    "eventGroupingSettings",
    "incidentConfiguration",
    "suppressionDuration",
    "suppressionEnabled",
    "sentinelEntitiesMappings",
)
_SCHEDULED_ONLY = ("queryFrequency", "queryPeriod", "triggerOperator", "triggerThreshold", "eventGroupingSettings")
_DURATIONS = ("queryFrequency", "queryPeriod", "suppressionDuration")
_DEFAULTS: Mapping[str, Any] = {
    "suppressionDuration": "PT5H",
    "suppressionEnabled": False,
    "incidentConfiguration": {
        "createIncident": True,
        "groupingConfiguration": {
            "enabled": False,
            "reopenClosedIncident": False,
            "lookbackDuration": "PT5H",
            "matchingMethod": "AllEntities",
        },
    },
}
_SCHEDULED_DEFAULTS: Mapping[str, Any] = {"eventGroupingSettings": {"aggregationKind": "SingleAlert"}}
_BOUNDS = {
    "queryFrequency": (timedelta(minutes=5), timedelta(days=14)),
    "queryPeriod": (timedelta(minutes=5), timedelta(days=30)),
    "suppressionDuration": (timedelta(minutes=5), timedelta(hours=24)),
}


def parse_duration(value: object, what: str) -> timedelta:
    """A rule duration: the content repository's ``5m``/``1h``/``14d`` or ISO 8601 (``PT1H``, ``P14D``).

    Raises InvalidInputError naming ``what``, the value and the expected forms."""
    if isinstance(value, str):
        short = _SHORT.match(value)
        if short:
            try:
                return timedelta(**{_UNITS[short.group(2)]: int(short.group(1))})
            except (OverflowError, ValueError):  # beyond timedelta, or past int()'s digit limit: refused below
                pass
        if value.strip().upper().startswith("P"):
            try:
                return parse_timespan(value.strip())
            except (InvalidInputError, ValueError):
                pass
    raise InvalidInputError(f"{what}={value!r}: expected a duration such as '5m', '1h', '14d' or ISO 8601 'PT1H'")


@attrs.frozen
class RuleTemplate:
    """One analytics rule template (``GET alertRuleTemplates``, 2025-09-01).

    ``name``: the template id (``alertRuleTemplateName`` of rules made from it); ``kind``: Scheduled, NRT, ...;
    ``version``; ``connector_ids``: its ``requiredDataConnectors[].connectorId``; ``properties``: read-only JSON."""

    name: str
    kind: str
    display_name: str
    version: str | None
    connector_ids: tuple[str, ...]
    properties: Mapping[str, Any] = attrs.field(repr=False, eq=False)

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> RuleTemplate:
        """Parse one template. Raises SerializationError for an item without a name, kind or properties."""
        from .._errors import SerializationError

        props = item.get("properties") if isinstance(item, Mapping) else None
        name, kind = (item.get("name"), item.get("kind")) if isinstance(item, Mapping) else (None, None)
        if not isinstance(name, str) or not isinstance(kind, str) or not isinstance(props, Mapping):
            raise SerializationError(f"cannot parse alertRuleTemplate: needs name, kind and properties: {item!r:.300}")
        connectors = props.get("requiredDataConnectors")
        connectors = connectors if isinstance(connectors, (list, tuple)) else []
        ids = tuple(str(c.get("connectorId")) for c in connectors if isinstance(c, Mapping) and c.get("connectorId"))
        version = props.get("version")
        return cls(
            name,
            kind,
            str(props.get("displayName") or name),
            str(version) if version else None,
            ids,
            freeze(dict(props)),
        )

    def requires(self, connector_id: str = MTP_CONNECTOR_ID) -> bool:
        """Whether the template needs ``connector_id`` (``requiredDataConnectors[].connectorId``)."""
        return connector_id in self.connector_ids


@attrs.frozen
class AnalyticsRule:
    """A desired Scheduled or NRT analytics rule, validated (see the module docstring); build it with
    ``from_template`` or ``from_yaml``.

    ``name``: the rule id (default: a UUIDv5 of the template id, so the same template maps to the same rule on every
    run); ``kind``; ``properties``: the ARM properties sent (``enabled``, ``alertRuleTemplateName``,
    ``templateVersion`` included); ``findings``: portability warnings of its query (shown as plan notes)."""

    name: str
    kind: str
    properties: Mapping[str, Any] = attrs.field(repr=False)
    findings: tuple[str, ...] = ()

    @property
    def display_name(self) -> str:
        return str(self.properties["displayName"])

    @property
    def template_name(self) -> str | None:
        value = self.properties.get("alertRuleTemplateName")
        return str(value) if value is not None else None

    @property
    def template_version(self) -> str | None:
        value = self.properties.get("templateVersion")
        return str(value) if value is not None else None

    @classmethod
    def from_template(cls, template: RuleTemplate, *, enabled: bool = True, name: str | None = None) -> AnalyticsRule:
        """The rule a template describes. Raises InvalidInputError (kind other than Scheduled/NRT, invalid
        properties, a query that does not fit Sentinel's schemas)."""
        if not isinstance(template, RuleTemplate):
            raise InvalidInputError(f"template must be a RuleTemplate (from list_rule_templates()), got {template!r}")
        props = {k: thaw(v) for k, v in template.properties.items() if k in _COPIED}
        return _build(template.kind, props, template.name, template.version, enabled=enabled, name=name)

    @classmethod
    def from_yaml(cls, text: str, *, enabled: bool = True, name: str | None = None) -> AnalyticsRule:
        """A rule in the public content repository's YAML form (``id``, ``name``, ``kind``, ``queryFrequency: 1h``,
        ``queryPeriod: 14d``, ``triggerOperator: gt``, ``relevantTechniques``, ``entityMappings``, ``version``...).

        Needs PyYAML (``pip install 'm365sentinel[yaml]'``: MissingExtraError otherwise). Raises InvalidInputError
        (not YAML, not a mapping, a missing or invalid field, a query that does not fit Sentinel's schemas)."""
        check_text(text, "rule YAML", expected="a YAML analytics rule", multiline=True)
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - the test environments install the extra
            raise MissingExtraError("analytics rules from YAML", "yaml", "yaml") from exc
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"rule YAML is not valid YAML: {exc}") from None
        if not isinstance(doc, dict):
            raise InvalidInputError(f"rule YAML must be a mapping of fields (id, name, query, ...), got {doc!r:.100}")
        props: dict[str, Any] = {k: v for k, v in doc.items() if k in _COPIED}
        if "name" in doc:
            props["displayName"] = doc["name"]
        techniques = doc.get("relevantTechniques") or []
        if not isinstance(techniques, list):
            raise InvalidInputError(f"relevantTechniques={techniques!r}: expected a list such as [T1197, T1105.001]")
        if techniques:
            props["techniques"] = sorted({str(t).split(".")[0] for t in techniques})
            subs = [str(t) for t in techniques if "." in str(t)]
            if subs:
                props["subTechniques"] = subs
        operator = doc.get("triggerOperator")
        if isinstance(operator, str):
            props["triggerOperator"] = _OPERATORS.get(operator.lower(), operator)
        template_id = doc.get("id")
        version = doc.get("version")
        return _build(
            str(doc.get("kind") or ""),
            props,
            str(template_id) if template_id else None,
            str(version) if version is not None else None,
            enabled=enabled,
            name=name,
        )


def _build(
    kind: str, props: dict[str, Any], template: str | None, version: str | None, *, enabled: bool, name: str | None
) -> AnalyticsRule:
    from ..kql import check_portability

    if kind not in (SCHEDULED, NRT):
        raise InvalidInputError(f"rule kind {kind!r} is not supported: expected 'Scheduled' or 'NRT'")
    if not isinstance(enabled, bool):
        raise InvalidInputError(f"enabled must be True or False, got {enabled!r}")
    if kind == NRT:
        props = {k: v for k, v in props.items() if k not in _SCHEDULED_ONLY}
    for key, value in (*_DEFAULTS.items(), *(_SCHEDULED_DEFAULTS.items() if kind == SCHEDULED else ())):
        props.setdefault(key, thaw(freeze(value)))
    title = check_text(props.get("displayName"), "displayName", expected="the rule's display name")
    query = check_text(props.get("query"), f"query of {title!r}", expected="KQL text", multiline=True)
    if props.get("severity") not in _SEVERITIES:
        raise InvalidInputError(f"severity={props.get('severity')!r} of {title!r}: expected one of {_SEVERITIES}")
    for key in _DURATIONS:
        if key in props or kind == SCHEDULED:
            span = parse_duration(props.get(key), f"{key} of {title!r}")
            low, high = _BOUNDS[key]
            if not low <= span <= high:
                raise InvalidInputError(f"{key}={props.get(key)!r} of {title!r}: expected {low} to {high}")
            props[key] = format_iso_duration(span)
    if kind == SCHEDULED:
        if parse_timespan(props["queryPeriod"]) < parse_timespan(props["queryFrequency"]):
            raise InvalidInputError(f"queryPeriod of {title!r} is shorter than its queryFrequency: rows are missed")
        if props.get("triggerOperator") not in _OPERATORS.values():
            raise InvalidInputError(
                f"triggerOperator={props.get('triggerOperator')!r} of {title!r}: expected gt/lt/eq/ne or "
                f"{'/'.join(_OPERATORS.values())}"
            )
        threshold = props.get("triggerThreshold")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= 10000:
            raise InvalidInputError(f"triggerThreshold={threshold!r} of {title!r}: expected an integer 0..10000")
    _check_lists(props, title)
    report = check_portability(query)
    errors = [str(f) for f in report.findings if f.severity == "error"]
    if errors:
        raise InvalidInputError(f"the query of {title!r} does not fit Sentinel's schemas: " + "; ".join(errors))
    warnings = tuple(f"{title}: {f}" for f in report.findings if f.severity == "warning")
    props["enabled"] = enabled
    if template is not None:
        props["alertRuleTemplateName"] = check_text(template, "template id", expected="the template's id")
    if version is not None:
        props["templateVersion"] = version
    rule_name = name if name is not None else str(uuid.uuid5(_RULE_NAMESPACE, (template or title).lower()))
    check_text(rule_name, "rule name", expected="the rule id (a GUID or name)")
    return AnalyticsRule(rule_name, kind, freeze(props), warnings)


def _check_lists(props: dict[str, Any], title: str) -> None:
    for key, pattern, example in (("techniques", _TECHNIQUE, "T1197"), ("subTechniques", _SUB_TECHNIQUE, "T1197.001")):
        values = props.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) and pattern.match(v) for v in values):
            raise InvalidInputError(f"{key}={values!r} of {title!r}: expected a list of ids such as {example}")
    tactics = props.get("tactics", [])
    if not isinstance(tactics, list) or not all(isinstance(t, str) and t.isalnum() for t in tactics):
        raise InvalidInputError(f"tactics={tactics!r} of {title!r}: expected names such as ['Persistence']")
    mappings = props.get("entityMappings", [])
    if not isinstance(mappings, list):
        raise InvalidInputError(f"entityMappings of {title!r}: expected a list")
    for m in mappings:
        fields = m.get("fieldMappings") if isinstance(m, dict) else None
        if (
            not isinstance(m.get("entityType") if isinstance(m, dict) else None, str)
            or not isinstance(fields, list)
            or not fields
            or not all(isinstance(f, dict) and f.get("identifier") and f.get("columnName") for f in fields)
        ):
            raise InvalidInputError(
                f"entityMappings item {m!r:.200} of {title!r}: expected entityType and fieldMappings "
                "[{identifier, columnName}, ...]"
            )
