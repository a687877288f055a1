"""Paging: nextLink followed verbatim, lazily, with no cap, and never cross-origin (cases B1, B2, B3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_httpx import HTTPXMock

from m365sentinel._errors import SerializationError, UnsafeRequestError
from m365sentinel._transport import Cloud, HttpClient, arm_request, graph_request

from .conftest import ARM, WS, FakeCredential

CLOUD = Cloud.resolve("AzureCloud")
LIST = arm_request(CLOUD, "GET", WS + "/incidents", "2025-09-01", params={"$top": "50"})


def items(start: int, count: int) -> list[dict[str, str]]:
    return [{"name": f"incident-{i}"} for i in range(start, start + count)]


def test_b1_120_items_in_pages_of_50_50_20(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    link2 = f"{ARM}{WS}/incidents?api-version=2025-09-01&$top=50&$skipToken=page2"
    link3 = f"{ARM}{WS}/incidents?api-version=2025-09-01&$top=50&$skipToken=page3"
    httpx_mock.add_response(url=LIST.url, json={"value": items(0, 50), "nextLink": link2})
    httpx_mock.add_response(url=link2, json={"value": items(50, 50), "nextLink": link3})
    httpx_mock.add_response(url=link3, json={"value": items(100, 20)})
    pages = list(make_client().iter_pages(LIST))
    names = [item["name"] for page in pages for item in page["value"]]
    assert [len(p["value"]) for p in pages] == [50, 50, 20]
    assert names == [f"incident-{i}" for i in range(120)]
    assert len(httpx_mock.get_requests()) == 3


def test_b2_both_pages_in_service_order(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    link = f"{ARM}{WS}/incidents?api-version=2025-09-01&$skipToken=abc"
    httpx_mock.add_response(url=LIST.url, json={"value": [{"name": "first"}], "nextLink": link})
    httpx_mock.add_response(url=link, json={"value": [{"name": "second"}], "nextLink": None})
    pages = list(make_client().iter_pages(LIST))
    assert [p["value"][0]["name"] for p in pages] == ["first", "second"]


def test_b3_next_link_requested_exactly(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    first = arm_request(CLOUD, "GET", WS + "/incidents", "2025-09-01")  # no filter at all
    link = (
        f"{ARM}{WS}/incidents?api-version=2025-09-01"
        "&%24skipToken=1nVFNb4JAEP0rZM5qAJvUcLNqTJO2MWo8aD2MMOI0y67ZD2w1%2fPcuCjaxh6YHLyzz5u17by"
    )
    httpx_mock.add_response(url=first.url, json={"value": [], "nextLink": link})
    httpx_mock.add_response(url=link, json={"value": []})
    list(make_client().iter_pages(first))
    sent = [str(r.url) for r in httpx_mock.get_requests()]
    assert sent == [f"{ARM}{WS}/incidents?api-version=2025-09-01", link]
    assert sent[1].count("api-version") == 1
    assert "$filter" not in sent[1] and "%24filter" not in sent[1] and "$top" not in sent[1]


def test_pages_are_fetched_lazily(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    link = f"{ARM}{WS}/incidents?$skipToken=2"
    httpx_mock.add_response(url=LIST.url, json={"value": [1], "nextLink": link})
    httpx_mock.add_response(url=link, json={"value": [2]})
    pages = make_client().iter_pages(LIST)
    assert httpx_mock.get_requests() == []
    assert next(pages) == {"value": [1], "nextLink": link}
    assert len(httpx_mock.get_requests()) == 1
    assert next(pages) == {"value": [2]}
    assert list(pages) == []


def test_cross_origin_next_link_refused_token_not_sent(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient], credential: FakeCredential
) -> None:
    httpx_mock.add_response(url=LIST.url, json={"value": [1], "nextLink": "https://attacker.example/steal?x=1"})
    pages = make_client().iter_pages(LIST)
    assert next(pages)["value"] == [1]
    with pytest.raises(UnsafeRequestError, match="leaves the origin"):
        next(pages)
    assert [str(r.url) for r in httpx_mock.get_requests()] == [LIST.url]
    assert len(credential.calls) == 1


def test_http_downgrade_next_link_refused(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    httpx_mock.add_response(url=LIST.url, json={"value": [], "nextLink": f"http://management.azure.com{WS}/incidents"})
    with pytest.raises(UnsafeRequestError):
        list(make_client().iter_pages(LIST))
    assert len(httpx_mock.get_requests()) == 1


def test_graph_odata_next_link_keeps_prefer_header(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]
) -> None:
    spec = graph_request(CLOUD, "GET", "/security/incidents", params={"$top": "2"})
    link = "https://graph.microsoft.com/v1.0/security/incidents?$top=2&$skip=2"
    httpx_mock.add_response(url=spec.url, json={"value": [1, 2], "@odata.nextLink": link})
    httpx_mock.add_response(url=link, json={"value": [3]})
    pages = list(make_client().iter_pages(spec, next_link_key="@odata.nextLink"))
    assert [v for p in pages for v in p["value"]] == [1, 2, 3]
    assert [r.headers["Prefer"] for r in httpx_mock.get_requests()] == ["include-unknown-enum-members"] * 2


def test_non_object_page_and_repeated_link(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    httpx_mock.add_response(url=LIST.url, json=[1, 2])
    with pytest.raises(SerializationError, match="JSON object"):
        list(make_client().iter_pages(LIST))
    httpx_mock.add_response(url=LIST.url, json={"value": [], "nextLink": LIST.url})
    with pytest.raises(SerializationError, match="nextLink cycle"):
        list(make_client().iter_pages(LIST))


def test_two_page_nextlink_cycle_stops(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    second = LIST.url + "&$skipToken=b"
    httpx_mock.add_response(url=LIST.url, json={"value": [1], "nextLink": second})
    httpx_mock.add_response(url=second, json={"value": [2], "nextLink": LIST.url})
    pages = make_client().iter_pages(LIST)
    assert [next(pages)["value"], next(pages)["value"]] == [[1], [2]]
    with pytest.raises(SerializationError, match="nextLink cycle"):
        next(pages)
    assert len(httpx_mock.get_requests()) == 2


def test_send_json_not_json(httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]) -> None:
    httpx_mock.add_response(url=LIST.url, text="<html>")
    with pytest.raises(SerializationError, match="not JSON"):
        make_client().send_json(LIST)
