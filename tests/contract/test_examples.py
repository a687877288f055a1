"""Every official example response in tests/reference parses into its typed model without loss.

"Without loss": each parsed resource's ``raw`` equals the document it came from (so unknown fields survive a
PUT), and selected fields are asserted exactly. Typos in the examples stay visible as unknown enum values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from m365sentinel.models import (
    AlertRule,
    DataConnector,
    DataConnectorRequirements,
    DataTypeState,
    EyesOnSetting,
    GraphAlert,
    GraphIncident,
    Incident,
    IncidentAlert,
    IncidentComment,
    IncidentEntities,
    IncidentRelation,
    JsonModel,
    MicrosoftSecurityIncidentCreationRule,
    MicrosoftThreatProtectionConnector,
    QueryResult,
    Setting,
    thaw,
)

REF = Path(__file__).resolve().parents[1] / "reference"

# Relative path suffix (under an .../examples/ or legacy folder) -> model; list bodies are detected by "value".
ARM_MODELS: dict[str, type[JsonModel]] = {
    "dataConnectors/CheckRequirementsMicrosoftThreatProtection.json": DataConnectorRequirements,
    "dataConnectors/": DataConnector,
    "GetMicrosoftThreatProtectionById.json": DataConnector,
    "settings/": Setting,
    "GetAllSettings.json": Setting,
    "alertRules/": AlertRule,
    "incidents/GetAllIncidentAlerts.json": IncidentAlert,
    "incidents/GetAllIncidentEntities.json": IncidentEntities,
    "incidents/comments/": IncidentComment,
    "incidents/relations/": IncidentRelation,
    "incidents/": Incident,
}


def _arm_files() -> list[Path]:
    files = sorted((REF / "arm").glob("*/examples/**/*.json")) + sorted((REF / "arm" / "legacy").glob("**/*.json"))
    return files


def _model_for(path: Path) -> type[JsonModel]:
    rel = path.as_posix()
    for suffix, model in ARM_MODELS.items():
        if suffix.endswith(".json") and rel.endswith(suffix):
            return model
    for suffix, model in ARM_MODELS.items():
        if not suffix.endswith(".json") and f"/{suffix}" in rel:
            return model
    raise AssertionError(f"no model mapped for example {rel}")


def _bodies(example: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(code, r["body"]) for code, r in example["responses"].items() if isinstance(r, dict) and "body" in r]


def _check_lossless(model: type[JsonModel], body: dict[str, Any]) -> list[JsonModel]:
    if "value" in body and isinstance(body["value"], list):
        items = model.list_from_json(body)
        assert [thaw(i.raw) for i in items] == body["value"]
        return list(items)
    item = model.from_json(body)
    assert thaw(item.raw) == body
    return [item]


ARM_FILES = _arm_files()


def test_every_arm_example_is_covered() -> None:
    assert len(ARM_FILES) == 37  # 35 example files + 2 legacy; update when reference data is added
    for path in ARM_FILES:
        _model_for(path)


@pytest.mark.parametrize("path", ARM_FILES, ids=lambda p: p.relative_to(REF).as_posix())
def test_arm_example_responses_parse_without_loss(path: Path) -> None:
    example = json.loads(path.read_text(encoding="utf-8"))
    model = _model_for(path)
    for _code, body in _bodies(example):
        for item in _check_lossless(model, body):
            assert isinstance(item, model)


def _load(rel: str) -> dict[str, Any]:
    return json.loads((REF / rel).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_mtp_connector_2025_10_01_preview_fields() -> None:
    body = _load("arm/2025-10-01-preview/examples/dataConnectors/GetMicrosoftThreatProtectionById.json")["responses"][
        "200"
    ]["body"]
    c = DataConnector.from_json(body)
    assert isinstance(c, MicrosoftThreatProtectionConnector)
    assert c.name == "c345bf40-8509-4ed2-b947-50cb773aaf04"
    assert c.etag == '"0300bf09-0000-0000-0000-5c37296e0000"'
    assert c.tenant_id == "2070ecc9-b4d5-4ae4-adaa-936fa1954fa8"
    assert c.incidents_state is DataTypeState.ENABLED
    assert c.alerts_state is DataTypeState.ENABLED
    assert c.filtered_providers is not None and c.filtered_providers.alerts == ("microsoftDefenderForCloudApps",)


def test_mtp_connector_typo_disabled55_kept_as_unknown_state() -> None:
    example = _load("arm/2025-07-01-preview/examples/dataConnectors/CreateMicrosoftThreatProtectionDataConnetor.json")
    c = DataConnector.from_json(example["responses"]["200"]["body"])
    assert isinstance(c, MicrosoftThreatProtectionConnector)
    assert c.incidents_state is not None
    assert not c.incidents_state.is_known
    assert c.incidents_state.raw == "Disabled55"
    assert c.alerts_state is DataTypeState.ENABLED
    c201 = DataConnector.from_json(example["responses"]["201"]["body"])
    assert isinstance(c201, MicrosoftThreatProtectionConnector)
    assert c201.incidents_state is DataTypeState.DISABLED


def test_legacy_2021_mtp_connector_has_incidents_only() -> None:
    c = DataConnector.from_json(
        _load("arm/legacy/2021-03-01-preview/GetMicrosoftThreatProtectionById.json")["responses"]["200"]["body"]
    )
    assert isinstance(c, MicrosoftThreatProtectionConnector)
    assert c.incidents_state is DataTypeState.ENABLED
    assert c.alerts_state is None
    assert c.filtered_providers is None


def test_check_requirements_fields() -> None:
    r = DataConnectorRequirements.from_json(
        _load("arm/2024-01-01-preview/examples/dataConnectors/CheckRequirementsMicrosoftThreatProtection.json")[
            "responses"
        ]["200"]["body"]
    )
    assert (r.authorization_state, r.license_state, r.ok) == ("Valid", "Valid", True)


def test_data_connector_list_kinds_stay_generic() -> None:
    page = _load("arm/2025-09-01/examples/dataConnectors/GetDataConnectors.json")["responses"]["200"]["body"]
    items = DataConnector.list_from_json(page)
    assert [i.kind for i in items] == [
        "AzureSecurityCenter",
        "ThreatIntelligence",
        "AzureActiveDirectory",
        "Office365",
        "MicrosoftCloudAppSecurity",
        "AzureAdvancedThreatProtection",
        "AmazonWebServicesCloudTrail",
        "MicrosoftDefenderAdvancedThreatProtection",
    ]
    assert all(type(i) is DataConnector for i in items)


def test_incident_creation_rule_fields() -> None:
    body = _load("arm/2025-10-01-preview/examples/alertRules/GetMicrosoftSecurityIncidentCreationAlertRule.json")[
        "responses"
    ]["200"]["body"]
    rule = AlertRule.from_json(body)
    assert isinstance(rule, MicrosoftSecurityIncidentCreationRule)
    assert rule.display_name == "testing displayname"
    assert rule.enabled is True
    assert rule.product_filter == "Microsoft Cloud App Security"
    assert rule.severities_filter is None and rule.display_names_filter is None
    assert rule.etag == '"260097e0-0000-0d00-0000-5d6fa88f0000"'
    assert rule.last_modified_utc == datetime(2019, 9, 4, 12, 5, 35, 729631, tzinfo=UTC)
    # The example's id carries the typo "OperationalIinsights": kept verbatim.
    assert "Microsoft.OperationalIinsights" in (rule.id or "")


def test_alert_rule_list_mixes_kinds() -> None:
    page = _load("arm/2025-09-01/examples/alertRules/GetAllAlertRules.json")["responses"]["200"]["body"]
    rules = AlertRule.list_from_json(page)
    assert [type(r).__name__ for r in rules] == ["AlertRule", "MicrosoftSecurityIncidentCreationRule", "AlertRule"]
    assert [r.kind for r in rules] == ["Scheduled", "MicrosoftSecurityIncidentCreation", "Fusion"]


def test_incident_fields_2025_09_01() -> None:
    (inc,) = Incident.list_from_json(
        _load("arm/2025-09-01/examples/incidents/GetIncidents.json")["responses"]["200"]["body"]
    )
    assert inc.name == "73e01a99-5cd7-4139-a149-9f2736ff2ab5"
    assert (inc.title, inc.severity, inc.status) == ("My incident", "High", "Closed")
    assert (inc.classification, inc.classification_reason) == ("FalsePositive", "IncorrectAlertLogic")
    assert inc.classification_comment == "Not a malicious activity"
    assert inc.incident_number == 3177 and inc.provider_incident_id == "3177"
    assert inc.provider_name == "Azure Sentinel"
    assert inc.created_time_utc == datetime(2019, 1, 1, 13, 15, 30, tzinfo=UTC)
    assert inc.owner is not None and inc.owner.object_id == "2046feea-040d-4a46-9e2b-91c2941bfa70"
    assert inc.additional_data is not None
    assert (inc.additional_data.comments_count, inc.additional_data.tactics) == (3, ("Persistence",))
    assert len(inc.related_analytic_rule_ids) == 2
    assert inc.labels == ()


def test_incident_fields_2025_10_01_preview() -> None:
    (inc,) = Incident.list_from_json(
        _load("arm/2025-10-01-preview/examples/incidents/Incidents_List.json")["responses"]["200"]["body"]
    )
    assert inc.additional_data is not None
    assert inc.additional_data.techniques == ("T1091", "T1133", "T1053")
    assert (
        inc.additional_data.provider_incident_url
        == "https://security.microsoft.com/incidents/3177?tid=5b5a146c-eba8-46af-96f8-e31b50d15a3f"
    )
    assert inc.owner is not None and inc.owner.owner_type == "User"
    assert inc.classification_reason == "InaccurateData"


def test_incident_alerts_entities_comments() -> None:
    (alert,) = IncidentAlert.list_from_json(
        _load("arm/2025-09-01/examples/incidents/GetAllIncidentAlerts.json")["responses"]["200"]["body"]
    )
    assert alert.kind == "SecurityAlert"
    assert alert.product_name == "Azure Security Center"
    assert alert.severity == "Low" and alert.status == "New"
    assert alert.end_time_utc == datetime(2020, 7, 20, 18, 21, 53, 615836, tzinfo=UTC)
    assert (
        alert.additional_data is not None
        and alert.additional_data["AlertMessageEnqueueTime"] == "2020-07-20T18:21:57.304Z"
    )
    ents = IncidentEntities.from_json(
        _load("arm/2025-09-01/examples/incidents/GetAllIncidentEntities.json")["responses"]["200"]["body"]
    )
    assert [(e.kind, e.friendly_name) for e in ents.entities] == [("Account", "administrator")]
    assert [(m.entity_kind, m.count) for m in ents.meta_data] == [("Account", 1)]
    comment = IncidentComment.from_json(
        _load("arm/2025-09-01/examples/incidents/comments/GetIncidentCommentById.json")["responses"]["200"]["body"]
    )
    assert comment.message == "Some message"
    assert comment.author is not None and comment.author.name == "john doe"


def test_settings_fields() -> None:
    (eyes,) = Setting.list_from_json(
        _load("arm/2025-07-01-preview/examples/settings/GetAllSettings.json")["responses"]["200"]["body"]
    )
    assert isinstance(eyes, EyesOnSetting) and eyes.is_enabled is True and eyes.name == "EyesOn"


# --- Log Analytics ------------------------------------------------------------------------------------------

LA_FILES = sorted((REF / "loganalytics" / "examples").glob("*/*.json"))


@pytest.mark.parametrize("path", LA_FILES, ids=lambda p: p.relative_to(REF).as_posix())
def test_log_analytics_examples_parse(path: Path) -> None:
    example = json.loads(path.read_text(encoding="utf-8"))
    body = example["responses"]["200"]["body"]
    expected_rows = [len(t["rows"]) for t in body["tables"]]
    result = QueryResult.from_json(json.dumps(body))
    assert [len(t) for t in result.tables] == expected_rows
    assert [t.name for t in result.tables] == [t["name"] for t in body["tables"]]
    assert not result.is_partial


def test_log_analytics_usage_example_cells_typed() -> None:
    body = _load("loganalytics/examples/api.loganalytics.io/la-post-example.json")["responses"]["200"]["body"]
    row = QueryResult.from_json(body).primary.to_dicts()[0]
    assert row["TimeGenerated"] == datetime(2017, 8, 24, 6, 59, 59, tzinfo=UTC)
    assert (row["BatchesWithinSla"], row["TotalBatches"]) == (1, 1)  # sent as strings "1"
    assert row["AvgLatencyInSeconds"] == 1.286
    assert row["IsBillable"] is True  # sent as "true"
    assert row["LinkedResourceUri"] is None


def test_constructed_partial_error_example() -> None:
    body = _load("loganalytics/examples/constructed-partial-error-response.json")["body"]
    result = QueryResult.from_json(body)
    assert result.is_partial
    assert result.error is not None and result.error.code == "PartialError"
    assert result.error.inner_code == "<detail code>"
    assert result.primary.rows[0] == ("Administrative", 20839)


# --- Graph --------------------------------------------------------------------------------------------------

GRAPH_PARSERS: dict[str, Callable[[dict[str, Any]], list[JsonModel]]] = {
    "security-incidents.list.example1.json": lambda b: _check_lossless(GraphIncident, b),
    "security-incidents.list-expand-alerts.json": lambda b: _check_lossless(GraphIncident, b),
    "security-incident.update.json": lambda b: _check_lossless(GraphIncident, b),
    "security-alerts_v2.list.json": lambda b: _check_lossless(GraphAlert, b),
}


def test_every_graph_example_is_covered() -> None:
    names = {p.name for p in (REF / "graph").glob("*.json")} - {"definitions.json", "security-runHuntingQuery.json"}
    assert names == set(GRAPH_PARSERS)


@pytest.mark.parametrize("name", sorted(GRAPH_PARSERS))
def test_graph_examples_parse_without_loss(name: str) -> None:
    example = _load(f"graph/{name}")
    assert GRAPH_PARSERS[name](example["response"]["body"])


def test_graph_incident_pascal_case_enums_match_known_members() -> None:
    (inc,) = GraphIncident.list_from_json(_load("graph/security-incidents.list.example1.json")["response"]["body"])
    assert inc.status is not None and inc.status.is_known and inc.status == "active"
    assert inc.classification is not None and inc.classification.name == "TRUE_POSITIVE"
    assert inc.determination is not None and inc.determination.name == "MULTI_STAGED_ATTACK"
    assert inc.severity is not None and inc.severity.name == "MEDIUM"
    assert inc.created_date_time == datetime(2021, 8, 13, 8, 43, 35, 553333, tzinfo=UTC)
    assert inc.custom_tags == ("Demo",)
    assert inc.comments[0].created_by == "DavidS@contoso.onmicrosoft.com"


def test_graph_expand_alerts_evidence() -> None:
    (inc,) = GraphIncident.list_from_json(_load("graph/security-incidents.list-expand-alerts.json")["response"]["body"])
    (alert,) = inc.alerts
    assert alert.id == "da637551227677560813_-961444813"
    assert alert.service_source == "microsoftDefenderForEndpoint"
    assert alert.first_activity_date_time == datetime(2021, 4, 26, 7, 45, 50, 116000, tzinfo=UTC)
    assert [e.evidence_kind for e in alert.evidence] == ["deviceEvidence", "fileEvidence", "processEvidence"]
    assert all(e.verdict is not None and e.verdict.name == "UNKNOWN_VERDICT" for e in alert.evidence)
    assert alert.evidence[0].raw["deviceDnsName"] == "tempDns"


@pytest.mark.parametrize("path", ARM_FILES, ids=lambda p: p.relative_to(REF).as_posix())
def test_fast_structure_path_equals_the_detailed_converter(path: Path) -> None:
    # The generated fast functions (issue 17) must give exactly what cattrs' detailed converter gives.
    from m365sentinel.models import converter
    from m365sentinel.models._converter import _fast_hook

    for _code, body in _bodies(json.loads(path.read_text(encoding="utf-8"))):
        for doc in body["value"] if isinstance(body.get("value"), list) else [body]:
            cls = type(_model_for(path).from_json(doc))
            fast, detailed = _fast_hook(cls)(doc, cls), converter.structure(doc, cls)
            assert fast == detailed and repr(fast) == repr(detailed)
            assert fast.raw == detailed.raw
