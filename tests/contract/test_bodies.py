"""The curated request-body schemas accept the official example requests and reject what the service refuses."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from m365sentinel.models import DataConnector, Incident

from .bodies import SCHEMA_NAMES, InvalidBodyError, load_schema, validate_body

REF = Path(__file__).resolve().parents[1] / "reference"


def _load(rel: str) -> dict[str, Any]:
    return json.loads((REF / rel).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


OFFICIAL_REQUESTS = [
    (
        "mtp_data_connector",
        "arm/2025-07-01-preview/examples/dataConnectors/CreateMicrosoftThreatProtectionDataConnetor.json",
        "dataConnector",
    ),
    (
        "incident_creation_rule",
        "arm/2025-09-01/examples/alertRules/CreateMicrosoftSecurityIncidentCreationAlertRule.json",
        "alertRule",
    ),
    (
        "incident_creation_rule",
        "arm/2025-10-01-preview/examples/alertRules/CreateMicrosoftSecurityIncidentCreationAlertRule.json",
        "alertRule",
    ),
    ("incident", "arm/2025-09-01/examples/incidents/CreateIncident.json", "incident"),
    (
        "check_requirements",
        "arm/2024-01-01-preview/examples/dataConnectors/CheckRequirementsMicrosoftThreatProtection.json",
        "DataConnectorsCheckRequirements",
    ),
    ("log_analytics_query", "loganalytics/examples/api.loganalytics.io/la-post-example.json", "body"),
    ("log_analytics_query", "loganalytics/examples/api.loganalytics.io/oms-post-cross-workspace-example.json", "body"),
    ("log_analytics_query", "loganalytics/examples/api.loganalytics.io/la-post-resource-centric-example.json", "body"),
    ("log_analytics_query", "loganalytics/examples/arm-2017-10-01/oms-post-example.json", "body"),
]


@pytest.mark.parametrize(
    ("schema", "rel", "param"), OFFICIAL_REQUESTS, ids=[f"{s}:{Path(r).name}" for s, r, _ in OFFICIAL_REQUESTS]
)
def test_official_request_bodies_validate(schema: str, rel: str, param: str) -> None:
    validate_body(schema, _load(rel)["parameters"][param])


@pytest.mark.parametrize("kind", ["EntityAnalytics", "Ueba"])
def test_constructed_settings_bodies_validate(kind: str) -> None:
    body = _load("arm/constructed/settings-EntityAnalytics-and-Ueba.PUT.json")[kind]["body"]
    validate_body("setting_entity_analytics" if kind == "EntityAnalytics" else "setting_ueba", body)


def _mtp_body() -> dict[str, Any]:
    return copy.deepcopy(
        _load("arm/2025-07-01-preview/examples/dataConnectors/CreateMicrosoftThreatProtectionDataConnetor.json")[
            "parameters"
        ]["dataConnector"]
    )


def test_case_a3_body_missing_incidents_data_type_is_rejected() -> None:
    body = _mtp_body()
    del body["properties"]["dataTypes"]["incidents"]
    with pytest.raises(InvalidBodyError) as info:
        validate_body("mtp_data_connector", body)
    assert str(info.value) == (
        "request body does not match schema 'mtp_data_connector':\n"
        "  at $.properties.dataTypes: 'incidents' is a required property"
    )


def test_case_a3_data_type_without_state_is_rejected() -> None:
    body = _mtp_body()
    body["properties"]["dataTypes"]["alerts"] = {}
    with pytest.raises(InvalidBodyError, match=r"\$\.properties\.dataTypes\.alerts: 'state' is a required property"):
        validate_body("mtp_data_connector", body)


def test_open_enums_stay_open() -> None:
    body = _mtp_body()
    body["properties"]["dataTypes"]["incidents"]["state"] = "SomeFutureState"
    body["properties"]["filteredProviders"]["alerts"] = ["microsoftDefenderForSomethingNew"]
    validate_body("mtp_data_connector", body)
    rule = _load("arm/2025-10-01-preview/examples/alertRules/CreateMicrosoftSecurityIncidentCreationAlertRule.json")[
        "parameters"
    ]["alertRule"]
    rule = copy.deepcopy(rule)
    rule["properties"]["productFilter"] = "Microsoft Defender XDR Future Product"
    validate_body("incident_creation_rule", rule)


def test_wrong_kind_and_missing_required_fields_are_rejected() -> None:
    with pytest.raises(InvalidBodyError, match=r"\$\.kind: 'MicrosoftThreatProtection' was expected"):
        validate_body("mtp_data_connector", {**_mtp_body(), "kind": "Office365"})
    with pytest.raises(InvalidBodyError, match=r"'enabled' is a required property"):
        validate_body(
            "incident_creation_rule",
            {"kind": "MicrosoftSecurityIncidentCreation", "properties": {"displayName": "x", "productFilter": "p"}},
        )
    with pytest.raises(InvalidBodyError, match=r"'severity' is a required property"):
        validate_body("incident", {"properties": {"title": "t", "status": "New"}})
    with pytest.raises(InvalidBodyError, match=r"'query' is a required property"):
        validate_body("log_analytics_query", {"timespan": "P1D"})
    with pytest.raises(KeyError, match="no body schema 'nope'"):
        validate_body("nope", {})


def test_put_bodies_built_from_read_resources_validate() -> None:
    read = _load("arm/2025-10-01-preview/examples/dataConnectors/GetMicrosoftThreatProtectionById.json")["responses"][
        "200"
    ]["body"]
    validate_body(
        "mtp_data_connector", DataConnector.from_json(read).put_body({"dataTypes": {"alerts": {"state": "Disabled"}}})
    )
    inc = _load("arm/2025-09-01/examples/incidents/GetIncidentById.json")["responses"]["200"]["body"]
    validate_body("incident", Incident.from_json(inc).put_body({"severity": "Low"}))


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schemas_are_valid_self_contained_and_open(name: str) -> None:
    schema = load_schema(name)
    text = json.dumps(schema)
    assert '"$ref":' not in text
    assert '"enum"' not in text  # modelAsString enums stay open
    assert schema["$comment"].startswith("Curated once from tests/reference/")
