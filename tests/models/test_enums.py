from __future__ import annotations

import json
import pickle

import pytest

from m365sentinel.models import (
    GraphEvidenceVerdict,
    GraphIncident,
    GraphIncidentStatus,
    Incident,
    IncidentClassification,
    IncidentStatus,
)


def test_known_values_match_case_insensitively_to_the_canonical_member() -> None:
    assert IncidentStatus("closed") is IncidentStatus.CLOSED
    assert IncidentClassification("truepositive") is IncidentClassification.TRUE_POSITIVE
    assert GraphIncidentStatus("Active") is GraphIncidentStatus.ACTIVE
    assert IncidentStatus.CLOSED == "Closed"
    assert IncidentStatus.CLOSED.name == "CLOSED"
    assert IncidentStatus.CLOSED.is_known


def test_case_d1_unknown_incident_status_keeps_raw_value() -> None:
    status = IncidentStatus("fooBar")
    assert isinstance(status, IncidentStatus)
    assert not status.is_known
    assert status.name == "UNKNOWN"
    assert status.raw == "fooBar"
    assert status == "fooBar"
    assert repr(status) == "<IncidentStatus.UNKNOWN: 'fooBar'>"


def test_case_d1_sentinel_incident_with_awaiting_action_parses() -> None:
    incident = Incident.from_json(
        {"name": "i1", "properties": {"title": "t", "status": "awaitingAction", "severity": "High"}}
    )
    assert incident.status is not None
    assert not incident.status.is_known
    assert incident.status.raw == "awaitingAction"
    assert incident.title == "t"
    assert incident.severity == "High"


def test_case_d1_graph_page_with_unknown_values_parses_every_item() -> None:
    page = {
        "value": [
            {"id": "1", "status": "awaitingAction", "alerts": [{"id": "a", "evidence": [{"verdict": 5}]}]},
            {"id": "2", "status": "fooBar", "severity": "high"},
        ]
    }
    first, second = GraphIncident.list_from_json(page)
    assert first.status is GraphIncidentStatus.AWAITING_ACTION
    verdict = first.alerts[0].evidence[0].verdict
    assert isinstance(verdict, GraphEvidenceVerdict)
    assert not verdict.is_known
    assert verdict.raw == 5
    assert verdict == "5"
    assert second.status is not None and second.status.raw == "fooBar" and not second.status.is_known
    assert second.severity == "high"


def test_members_serialise_and_pickle() -> None:
    unknown = IncidentStatus("fooBar")
    assert json.dumps([IncidentStatus.NEW, unknown]) == '["New", "fooBar"]'
    assert pickle.loads(pickle.dumps(IncidentStatus.NEW)) is IncidentStatus.NEW
    assert pickle.loads(pickle.dumps(unknown)) == unknown
    assert list(IncidentStatus) == ["New", "Active", "Closed"]
    assert len(IncidentStatus) == 3


def test_a_list_or_object_is_not_an_enum_value_it_is_a_serialization_error_naming_the_field() -> None:
    # str(["New"]) would have become an unknown member "['New']": the same silent coercion text fields refuse.
    from m365sentinel import InvalidInputError, SerializationError
    from m365sentinel.models import Incident

    for bad in (["New"], {"value": "New"}, None):
        with pytest.raises(InvalidInputError, match=r"IncidentStatus value .*: expected a string"):
            IncidentStatus(bad)
    doc = {"name": "a", "properties": {"status": ["New"], "owner": {"ownerType": {"a": 1}}}}
    with pytest.raises(SerializationError) as caught:
        Incident.from_json(doc)
    assert str(caught.value) == (
        "cannot parse Incident: IncidentStatus value ['New']: expected a string (or a number or boolean, kept as "
        "sent) @ Incident.status; OwnerType value {'a': 1}: expected a string (or a number or boolean, kept as "
        "sent) @ Incident.owner.owner_type"
    )
    assert IncidentStatus(5).raw == 5 and IncidentStatus(True) == "true" and IncidentStatus(1.5) == "1.5"
