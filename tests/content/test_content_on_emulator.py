"""Content as code end to end on the emulator: the solution, its rule templates, rules from templates and YAML."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from m365sentinel import Connector, StalePlanError
from m365sentinel._content import SOLUTION_ID, AnalyticsRule
from m365sentinel._plan import Action
from m365sentinel.emulator import Emulator

RULES = Path(__file__).parents[1] / "reference/samples/analytic_rules"
PICKED = ("Bitsadmin Activity", "Files Copied to USB Drives", "Detect Potential Kerberoast Activities")
NRT_YAML = """\
id: 0f4b2c6e-1111-4a5b-9c0d-222233334444
name: Shadow copies deleted (near real time)
description: vssadmin deleting shadow copies.
severity: High
kind: NRT
tactics: [Impact]
relevantTechniques: [T1490, T1490.001]
query: |
  DeviceProcessEvents
  | where FileName =~ "vssadmin.exe" and ProcessCommandLine has "delete shadows"
entityMappings:
  - entityType: Host
    fieldMappings:
      - identifier: FullName
        columnName: DeviceName
version: 1.0.0
"""


@pytest.fixture
def env():
    emu = Emulator(now=datetime(2026, 11, 20, 12, tzinfo=UTC), seed=0, incidents=10)
    connector = Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport())
    yield emu, connector
    connector.close()
    emu.close()


def _writes(emu, start):
    return [(r.method, r.path.rsplit("/", 2)[-2], r.query.get("api-version")) for r in emu.writes()[start:]]


def test_install_list_create_rules_then_plans_are_empty_and_a_bump_is_one_change(env):
    emu, connector = env
    assert connector.list_rule_templates() == []  # templates arrive with the solution
    first = connector.solution().plan()
    assert [(c.action, c.resource_type) for c in first.changes] == [(Action.CREATE, "contentPackages")] + [
        (Action.CREATE, "contentTemplates")
    ] * 10
    first.apply()
    assert (
        _writes(emu, 0) == [("PUT", "contentPackages", "2025-09-01")] + [("PUT", "contentTemplates", "2025-09-01")] * 10
    )
    assert connector.solution().plan().is_empty

    templates = connector.list_rule_templates()
    assert len(templates) == 10 and all(t.requires("MicrosoftThreatProtection") for t in templates)
    everything = connector.list_rule_templates(connector_id="AWS")  # the example's AWS template, filtered here
    assert [t.display_name for t in everything] == ["Changes to Amazon VPC settings"]

    picked = [t for t in templates if t.display_name in PICKED]
    yaml_rule = (RULES / "Ransomware/ShadowCopyDeletion.yaml").read_text(encoding="utf-8")
    desired = connector.analytics_rules(*picked, yaml_rule)
    plan = desired.plan()
    assert sorted(c.title for c in plan.changes) == sorted([*PICKED, "Shadow Copy Deletions"])
    assert {c.action for c in plan.changes} == {Action.CREATE}
    before = len(emu.writes())
    plan.apply()
    assert _writes(emu, before) == [("PUT", "alertRules", "2025-09-01")] * 4  # Scheduled: stable api-version
    stored = {r["properties"]["displayName"]: r for r in emu._core.ws.rules.values() if r["kind"] == "Scheduled"}
    shadow = stored["Shadow Copy Deletions"]["properties"]
    assert shadow["alertRuleTemplateName"] == "28c63a44-2d35-48b7-831b-3ed24af17c7e"
    assert shadow["templateVersion"] == "1.0.0"
    assert (shadow["queryFrequency"], shadow["queryPeriod"], shadow["triggerOperator"]) == (
        "PT1H",
        "PT1H",
        "GreaterThan",
    )
    assert (shadow["suppressionEnabled"], shadow["suppressionDuration"]) == (False, "PT5H")  # defaults
    assert desired.plan().is_empty
    assert desired.solution().plan().is_empty

    bits = next(t for t in picked if t.display_name == "Bitsadmin Activity")
    emu.content.publish(bits.name, "1.0.1", query=bits.properties["query"] + "| where isnotempty(DeviceName)\n")
    upgrade = connector.solution().plan()  # the new package version and the one changed template
    assert [(c.resource_type, c.name) for c in upgrade.changes] == [
        ("contentPackages", SOLUTION_ID),
        ("contentTemplates", bits.name),
    ]
    upgrade.apply()
    fresh = [t for t in connector.list_rule_templates() if t.name in {p.name for p in picked}]
    (change,) = connector.analytics_rules(*fresh, yaml_rule).plan().changes
    assert (change.action, change.title) == (Action.UPDATE, "Bitsadmin Activity")
    assert change.reason == f"template {bits.name} upgraded from 1.0.0 to 1.0.1"
    assert [f.path for f in change.fields] == ["properties.query", "properties.templateVersion"]
    assert (change.fields[1].before, change.fields[1].after) == ("1.0.0", "1.0.1")


def test_nrt_rule_from_yaml_uses_the_preview_api_version(env):
    emu, connector = env
    desired = connector.analytics_rules(NRT_YAML)
    (change,) = desired.plan().changes
    assert change.kind == "NRT" and "queryFrequency" not in change.body["properties"]
    assert change.body["properties"]["techniques"] == ["T1490"]
    assert change.body["properties"]["subTechniques"] == ["T1490.001"]
    desired.apply()
    assert _writes(emu, 0) == [("PUT", "alertRules", "2025-10-01-preview")]
    assert desired.plan().is_empty


def test_a_rule_changed_after_planning_is_a_stale_plan(env):
    emu, connector = env
    desired = connector.analytics_rules(NRT_YAML)
    desired.apply()
    rule = AnalyticsRule.from_yaml(NRT_YAML.replace("severity: High", "severity: Low"))
    plan = connector.analytics_rules(rule).plan()
    (stored,) = [r for r in emu._core.ws.rules.values() if r["kind"] == "NRT"]
    stored["etag"] = '"changed-in-the-portal"'
    before = len(emu.writes())
    with pytest.raises(StalePlanError, match="its etag is now"):
        plan.apply()
    assert len(emu.writes()) == before


def test_a_portal_rule_from_the_same_template_is_updated_not_duplicated(env):
    _emu, connector = env
    yaml_rule = (RULES / "Ransomware/ShadowCopyDeletion.yaml").read_text(encoding="utf-8")
    custom = AnalyticsRule.from_yaml(yaml_rule, name="made-in-the-portal", enabled=False)
    connector.analytics_rules(custom).apply()
    (change,) = connector.analytics_rules(yaml_rule).plan().changes
    assert (change.action, change.name, [f.path for f in change.fields]) == (
        Action.UPDATE,
        "made-in-the-portal",
        ["properties.enabled"],
    )


def test_a_solution_installed_meanwhile_makes_the_plan_stale(env):
    emu, connector = env
    plan = connector.solution().plan()
    connector.solution().apply()
    before = len(emu.writes())
    with pytest.raises(StalePlanError, match="created meanwhile"):
        plan.apply()
    assert len(emu.writes()) == before
