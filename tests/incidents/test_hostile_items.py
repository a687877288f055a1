"""List items the stream cannot identify. An ARM incident without ``name`` was delivered with ``item.id`` empty,
and every nameless one after the first was skipped as its duplicate; a Graph item without ``id`` became "None"
alike. A body without its name takes it from its ``id`` (the converter, both paths); an item with neither is a
``SerializationError`` naming it before it is delivered."""

from __future__ import annotations

import pytest

from m365sentinel._errors import SerializationError

from .conftest import NOW, incident


def _serve(httpx_mock, items):
    httpx_mock.add_response(json={"value": items}, headers={"Date": "Thu, 20 Nov 2025 12:00:00 GMT"})


def test_an_incident_without_name_or_id_is_a_serialization_error_before_delivery(httpx_mock, connector):
    nameless = incident("b", "2025-11-20T11:30:00Z")
    del nameless["name"], nameless["id"]
    _serve(httpx_mock, [incident("a", "2025-11-20T11:30:00Z"), nameless])
    delivered = []
    with pytest.raises(SerializationError):
        for item in connector.incidents().clock(lambda: NOW).provider(None):
            delivered.append(item.id)
    assert delivered == ["a"]


def test_an_incident_without_name_takes_it_from_its_id(httpx_mock, connector):
    unnamed = incident("b", "2025-11-20T11:30:00Z")
    del unnamed["name"]
    _serve(httpx_mock, [incident("a", "2025-11-20T11:30:00Z"), unnamed])
    assert [item.id for item in connector.incidents().clock(lambda: NOW).provider(None)] == ["a", "b"]


GRAPH_FIRST = "https://graph.microsoft.com/v1.0/security/incidents?$orderby=lastUpdateDateTime%20asc&$top=50"


@pytest.mark.parametrize("bad", [{"status": "active"}, {"id": None}, {"id": ""}, {"id": 7}, "not an object"])
def test_a_graph_item_without_an_id_is_a_serialization_error_after_the_items_before_it(httpx_mock, connector, bad):
    # str(item.get("id")) made every id-less item "None": the second one was skipped as the first's duplicate.
    item = {**bad, "lastUpdateDateTime": "2025-11-20T10:00:01Z"} if isinstance(bad, dict) else bad
    first = {"id": "1", "lastUpdateDateTime": "2025-11-20T10:00:00Z"}
    httpx_mock.add_response(url=GRAPH_FIRST, json={"value": [first, item]})
    delivered = []
    with pytest.raises(SerializationError, match="Graph incidents page: an item without an id"):
        for got in connector.incidents().defender().incidents():
            delivered.append(got.id)
    assert delivered == ["1"]


def test_an_arm_body_without_its_name_takes_it_from_the_id_on_both_converter_paths():
    from m365sentinel.models import Incident
    from m365sentinel.models._converter import converter

    doc = {"id": "/subscriptions/s/providers/Microsoft.SecurityInsights/incidents/b", "properties": {"title": "t"}}
    assert Incident.from_json(doc).name == converter.structure(doc, Incident).name == "b"
    for nameless in ({"properties": {}}, {"id": "/a/incidents/", "properties": {}}, {"id": 5, "name": None}):
        assert Incident.from_json(nameless).name is None
    assert Incident.from_json({"id": "/a/incidents/b", "name": "z"}).name == "z"  # the body's name wins
