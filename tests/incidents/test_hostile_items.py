"""List items the stream cannot identify (red-team round). An ARM incident without ``name`` was delivered with
``item.id is None``: it cannot be committed, deduplicated or fetched again. The root is the stream's listing
(``_incidents/_stream.py``, owned elsewhere this round): take the name from the ``id``'s last segment when only the
name is missing, else raise ``SerializationError`` naming the page before the item is delivered."""

from __future__ import annotations

import pytest

from m365sentinel._errors import SerializationError

from .conftest import NOW, incident


def _serve(httpx_mock, items):
    httpx_mock.add_response(json={"value": items}, headers={"Date": "Thu, 20 Nov 2025 12:00:00 GMT"})


@pytest.mark.xfail(strict=True, reason="stream listing (_stream.py, not this change) delivers a nameless incident")
def test_an_incident_without_name_or_id_is_a_serialization_error_before_delivery(httpx_mock, connector):
    nameless = incident("b", "2025-11-20T11:30:00Z")
    del nameless["name"], nameless["id"]
    _serve(httpx_mock, [incident("a", "2025-11-20T11:30:00Z"), nameless])
    delivered = []
    with pytest.raises(SerializationError):
        for item in connector.incidents().clock(lambda: NOW).provider(None):
            delivered.append(item.id)
    assert delivered == ["a"]


@pytest.mark.xfail(strict=True, reason="stream listing (_stream.py, not this change) delivers a nameless incident")
def test_an_incident_without_name_takes_it_from_its_id(httpx_mock, connector):
    unnamed = incident("b", "2025-11-20T11:30:00Z")
    del unnamed["name"]
    _serve(httpx_mock, [incident("a", "2025-11-20T11:30:00Z"), unnamed])
    assert [item.id for item in connector.incidents().clock(lambda: NOW).provider(None)] == ["a", "b"]
