"""The one pager (``Pager``, I/O-free) shared by ARM, Graph and expanded collections: links followed exactly,
same origin, a link seen before in the iteration is a cycle, the same content three times in a row under new links
is a cycle, no page cap."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_httpx import HTTPXMock

from m365sentinel._errors import SerializationError, UnsafeRequestError
from m365sentinel._transport import HttpClient, Pager, graph_request
from m365sentinel._transport._clouds import Cloud

CLOUD = Cloud.resolve("AzureCloud")
FIRST = graph_request(CLOUD, "GET", "/security/incidents", params={"$top": "2"})
BASE = "https://graph.microsoft.com/v1.0/security/incidents"


def page(ids, link=None, key="@odata.nextLink"):
    body = {"value": [{"id": i} for i in ids]}
    if link:
        body[key] = link
    return body


def test_links_are_followed_exactly_without_a_page_cap():
    pager = Pager(FIRST, link_key="@odata.nextLink")
    urls = []
    for n in range(1, 500):
        spec = pager.follow(page([f"i{n}"], f"{BASE}?$top=2&$skip={2 * n}"))
        assert spec is not None
        urls.append(spec.url)
    assert urls[-1] == f"{BASE}?$top=2&$skip=998" and len(set(urls)) == 499
    assert spec.headers == FIRST.headers  # Prefer stays on every page
    assert pager.follow(page(["last"])) is None


def test_a_link_back_to_itself_is_a_cycle():
    pager = Pager(FIRST, link_key="@odata.nextLink")
    with pytest.raises(SerializationError, match=r"@odata\.nextLink cycle"):
        pager.follow(page(["a"], FIRST.url))


def test_a_link_seen_earlier_in_the_iteration_is_a_cycle():
    pager = Pager(FIRST, link_key="@odata.nextLink")
    second = pager.follow(page(["a"], f"{BASE}?$skip=2"))
    assert second is not None
    pager.follow(page(["b"], f"{BASE}?$skip=4"))
    with pytest.raises(SerializationError, match="cycle"):
        pager.follow(page(["c"], second.url))


def test_the_same_content_three_times_in_a_row_under_new_links_is_a_cycle():
    pager = Pager(FIRST, link_key="@odata.nextLink")
    assert pager.follow(page(["a", "b"], f"{BASE}?t=1")) is not None
    # Twice in a row can be genuine (a page's worth inserted ahead of an offset between two requests).
    assert pager.follow(page(["a", "b"], f"{BASE}?t=2")) is not None
    with pytest.raises(SerializationError, match="the same 2 items came 3 times in a row"):
        pager.follow(page(["a", "b"], f"{BASE}?t=3"))


def test_repeats_that_are_not_in_a_row_or_have_no_ids_are_not_cycles():
    pager = Pager(FIRST, link_key="@odata.nextLink")
    for n, ids in enumerate([["a"], ["a"], ["b"], ["a"], ["a"], [], [], []]):
        assert pager.follow(page(ids, f"{BASE}?t={n}")) is not None
    items_without_ids = {"value": [1, 2], "@odata.nextLink": f"{BASE}?t=x"}
    for n in range(4):
        assert pager.follow({**items_without_ids, "@odata.nextLink": f"{BASE}?u={n}"}) is not None


def test_another_origin_is_refused_before_anything_is_sent():
    pager = Pager(FIRST, link_key="@odata.nextLink")
    with pytest.raises(UnsafeRequestError, match="leaves the origin"):
        pager.follow(page(["a"], "https://evil.example/v1.0/security/incidents?$skip=2"))


@pytest.mark.parametrize("link", ["https://[::1", ":::", "https://graph.microsoft.com/v1.0/x\n?$skiptoken=SECRET"])
def test_a_link_that_is_not_a_url_is_a_serialization_error(link):
    """httpx's InvalidURL escaped the pager untyped (it is no SentinelError)."""
    pager = Pager(FIRST, link_key="@odata.nextLink")
    with pytest.raises(SerializationError, match="the page's next link is not a URL") as caught:
        pager.follow(page(["a"], link))
    assert "SECRET" not in str(caught.value)


def test_an_expanded_collection_continues_with_ordinary_pages():
    pager = Pager(FIRST, link_key="alerts@odata.nextLink", items_key="alerts")
    parent = {"id": "7", "alerts": [{"id": "a0"}], "alerts@odata.nextLink": f"{BASE}/7/alerts?$skip=1"}
    nxt = pager.follow(parent)
    assert nxt is not None and nxt.url == f"{BASE}/7/alerts?$skip=1"
    rest = pager.continued(link_key="@odata.nextLink", items_key="value")
    assert rest.follow(page(["a1"], f"{BASE}/7/alerts?$skip=2")) is not None
    with pytest.raises(SerializationError, match="cycle"):  # the links seen before still count
        rest.follow(page(["a2"], f"{BASE}/7/alerts?$skip=1"))


def test_client_raises_on_repeated_content_after_delivering_the_pages(
    httpx_mock: HTTPXMock, make_client: Callable[..., HttpClient]
) -> None:
    spec = graph_request(CLOUD, "GET", "/security/incidents", params={"$top": "2"})
    for n in range(3):
        url = spec.url if n == 0 else f"{BASE}?$top=2&$skiptoken={n}"
        httpx_mock.add_response(url=url, json=page(["a", "b"], f"{BASE}?$top=2&$skiptoken={n + 1}"))
    pages = make_client().iter_pages(spec, next_link_key="@odata.nextLink")
    assert [next(pages)["value"] for _ in range(3)] == [[{"id": "a"}, {"id": "b"}]] * 3
    with pytest.raises(SerializationError, match="3 times in a row"):
        next(pages)
    assert len(httpx_mock.get_requests()) == 3
