"""AnalyticsRule from templates and YAML: conversion and validation before any request (no I/O)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from m365sentinel import InvalidInputError
from m365sentinel._content import AnalyticsRule, RuleTemplate, parse_duration

HERE = Path(__file__).parents[1] / "reference/samples"
EXAMPLE = json.loads(
    (HERE / "arm_rest_examples/2025-09-01/alertRuleTemplates/GetAlertRuleTemplateById.json").read_text()
)
BASE = """\
id: 5c3f1e2a-0000-4000-8000-000000000001
name: Test rule
severity: Medium
kind: Scheduled
queryFrequency: 1h
queryPeriod: 14d
triggerOperator: gt
triggerThreshold: 0
tactics: [Execution]
relevantTechniques: [T1059]
query: |
  DeviceProcessEvents | where FileName =~ "wscript.exe"
entityMappings:
  - entityType: Host
    fieldMappings:
      - identifier: FullName
        columnName: DeviceName
version: 2.0.1
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("14d", timedelta(days=14)),
        ("PT5H", timedelta(hours=5)),
        ("P1D", timedelta(days=1)),
    ],
)
def test_durations_in_both_forms(text, expected):
    assert parse_duration(text, "queryPeriod") == expected


@pytest.mark.parametrize("bad", ["1w", "", "h", 60, None, "P", "1000000000d", "9" * 5000 + "m"])
def test_bad_durations_name_the_expected_form(bad):
    with pytest.raises(InvalidInputError, match="expected a duration such as '5m', '1h', '14d'"):
        parse_duration(bad, "queryPeriod")


def test_yaml_rule_becomes_arm_properties():
    rule = AnalyticsRule.from_yaml(BASE)
    p = rule.properties
    assert (rule.kind, rule.template_name, rule.template_version) == (
        "Scheduled",
        "5c3f1e2a-0000-4000-8000-000000000001",
        "2.0.1",
    )
    assert (p["queryFrequency"], p["queryPeriod"], p["triggerOperator"]) == ("PT1H", "P14D", "GreaterThan")
    assert p["techniques"] == ("T1059",) and p["enabled"] is True and p["displayName"] == "Test rule"
    assert p["eventGroupingSettings"] == {"aggregationKind": "SingleAlert"}
    assert p["incidentConfiguration"]["createIncident"] is True
    assert AnalyticsRule.from_yaml(BASE).name == rule.name  # the same template maps to the same rule id


def test_official_template_example_keeps_its_settings():
    template = RuleTemplate.from_json(EXAMPLE["responses"]["200"]["body"])
    assert (template.version, template.connector_ids, template.requires()) == ("1.0.2", ("AWS",), False)
    rule = AnalyticsRule.from_template(template)
    p = rule.properties
    assert p["eventGroupingSettings"] == {"aggregationKind": "AlertPerResult"}  # the template's, not the default
    assert p["customDetails"] == {"EventNames": "EventName", "EventTypes": "EventTypeName"}
    assert (p["alertRuleTemplateName"], p["templateVersion"]) == ("65360bb0-8986-4ade-a89d-af3cf44d28aa", "1.0.2")
    assert (p["queryFrequency"], p["queryPeriod"], p["suppressionDuration"]) == ("P1D", "P1D", "PT5H")
    assert "lastUpdatedDateUTC" not in p and "requiredDataConnectors" not in p
    assert rule.findings == ()


def test_portability_warnings_are_kept_for_the_plan():
    rule = AnalyticsRule.from_yaml(
        BASE.replace('DeviceProcessEvents | where FileName =~ "wscript.exe"', "Custom_CL | take 1")
    )
    assert rule.findings == (
        "Test rule: 1:1 warning custom-table: Custom_CL is a custom table: it exists only in a workspace that "
        "ingests it, never in Defender. Fix: check that this workspace has the table (the Sentinel schemas here do "
        "not know it)",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("queryPeriod: 14d", "queryPeriod: 30m"), "shorter than its queryFrequency"),
        (("queryFrequency: 1h", "queryFrequency: 15d"), "queryFrequency='15d'"),
        (("queryFrequency: 1h", "queryFrequency: 99999999999d"), "queryFrequency of 'Test rule'='99999999999d'"),
        (("severity: Medium", "severity: Critical"), "severity='Critical'"),
        (("triggerOperator: gt", "triggerOperator: above"), "triggerOperator='above'"),
        (("kind: Scheduled", "kind: Fusion"), "rule kind 'Fusion' is not supported"),
        (("relevantTechniques: [T1059]", "relevantTechniques: [X1]"), "techniques=['X1']"),
        (("columnName: DeviceName", "columnName: ''"), "entityMappings item"),
        (
            ('DeviceProcessEvents | where FileName =~ "wscript.exe"', "DeviceTvmSoftwareInventory | take 1"),
            "table-not-streamed",
        ),
        (("name: Test rule\n", ""), "displayName=None"),
    ],
)
def test_invalid_rules_are_refused_before_any_request(change, message):
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        AnalyticsRule.from_yaml(BASE.replace(*change))


@pytest.mark.parametrize("text", ["a: [", "- just\n- a list\n", "\x00"])
def test_not_a_yaml_rule(text):
    with pytest.raises(InvalidInputError):
        AnalyticsRule.from_yaml(text)


def test_content_repository_rule_for_a_table_sentinel_never_receives_is_refused():
    text = (HERE / "analytic_rules/PossibleWebpBufferOverflow.yaml").read_text(encoding="utf-8")
    with pytest.raises(
        InvalidInputError,
        match="3:19 error table-not-streamed: table DeviceTvmSoftwareVulnerabilities exists only in Defender",
    ):
        AnalyticsRule.from_yaml(text)
