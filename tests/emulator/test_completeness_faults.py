"""The completeness switches of ``emu.faults`` (issue 10): the answers they shape, and ``clear()`` resetting them."""

from __future__ import annotations

import pytest

from m365sentinel._errors import InvalidInputError

from .conftest import Api

GRAPH = "https://graph.microsoft.com/v1.0/security"


def test_query_size_limit_cuts_rows_and_answers_the_services_partial_error(fresh: Api) -> None:
    fresh.emu.faults.query_size_limit(3)
    body = fresh.query("SecurityAlert | project SystemAlertId").json()
    assert len(body["tables"][0]["rows"]) == 3
    error = body["error"]
    assert error["code"] == "PartialError" and error["details"][0]["code"] == "EngineError"
    inner = error["details"][0]["innererror"]
    assert inner["code"] == "-2133196797"
    assert inner["message"] == (
        "Query result set has exceeded the internal record count limit 3 "
        "(E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)"
    )
    small = fresh.query("SecurityAlert | take 3 | project SystemAlertId").json()
    assert "error" not in small and len(small["tables"][0]["rows"]) == 3  # at the limit: whole
    fresh.emu.faults.clear()
    assert "error" not in fresh.query("SecurityAlert | project SystemAlertId").json()
    with pytest.raises(InvalidInputError, match="rows=-1"):
        fresh.emu.faults.query_size_limit(-1)


def test_next_link_cycle_points_the_page_back_to_itself(fresh: Api) -> None:
    fresh.emu.state.page_size = 5
    fresh.emu.faults.next_link_cycle(times=1, route="*/incidents")
    url = fresh.ws("incidents", "2025-09-01")
    first = fresh.request("GET", url).json()
    assert first["nextLink"] == url
    assert fresh.emu.faults.pending == 0
    assert fresh.request("GET", url).json()["nextLink"] != url  # used up
    fresh.emu.faults.next_link_cycle(times=2, route="*/security/incidents")
    graph = f"{GRAPH}/incidents?$top=5"
    assert fresh.request("GET", graph).json()["@odata.nextLink"] == graph
    fresh.emu.faults.clear()
    assert fresh.emu.faults.pending == 0
    assert fresh.request("GET", graph).json()["@odata.nextLink"] != graph


def test_expand_error_answers_requests_with_expand_only(fresh: Api) -> None:
    fresh.emu.faults.expand_error(status=500, times=2)
    assert fresh.request("GET", f"{GRAPH}/incidents?$top=5").status_code == 200
    assert fresh.request("GET", f"{GRAPH}/incidents?$top=5&$expand=alerts").status_code == 500
    assert fresh.request("GET", f"{GRAPH}/incidents?$top=5&$expand=alerts").status_code == 500
    assert fresh.request("GET", f"{GRAPH}/incidents?$top=5&$expand=alerts").status_code == 200


def test_expanded_page_size_links_to_the_rest_of_the_alerts(fresh: Api) -> None:
    whole = fresh.request("GET", f"{GRAPH}/incidents?$top=50&$expand=alerts").json()["value"]
    big = max(whole, key=lambda i: len(i["alerts"]))
    assert len(big["alerts"]) >= 3
    fresh.emu.faults.expanded_page_size(1)
    cut = {i["id"]: i for i in fresh.request("GET", f"{GRAPH}/incidents?$top=50&$expand=alerts").json()["value"]}
    item = cut[big["id"]]
    assert [a["id"] for a in item["alerts"]] == [big["alerts"][0]["id"]]
    got, link = list(item["alerts"]), item["alerts@odata.nextLink"]
    while link:
        page = fresh.request("GET", link).json()
        got += page["value"]
        link = page.get("@odata.nextLink")
    assert got == big["alerts"]
    fresh.emu.faults.clear()
    again = fresh.request("GET", f"{GRAPH}/incidents/{big['id']}?$expand=alerts").json()
    assert "alerts@odata.nextLink" not in again and again["alerts"] == big["alerts"]
