"""Incident routes: list paging/filter/order (B1, B3), get/put/delete with etags (C1), alerts, entities, comments,
and agreement with the SecurityIncident table."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .conftest import ARM, INCIDENTS, NOW, Api


def all_pages(api: Api, url: str) -> tuple[list[dict[str, Any]], list[str]]:
    items: list[dict[str, Any]] = []
    urls = []
    next_url: str | None = url
    while next_url:
        urls.append(next_url)
        r = api.request("GET", next_url)
        assert r.status_code == 200, r.text
        items += r.json()["value"]
        next_url = r.json().get("nextLink")
    return items, urls


def test_list_pages_by_top_and_next_link_requested_as_is(shared: Api) -> None:
    items, urls = all_pages(shared, shared.ws("incidents?$top=100", INCIDENTS))
    emu = shared.emu
    total = len(emu._workspace.incidents)
    assert len(items) == total
    assert len({i["name"] for i in items}) == total
    assert len(urls) == -(-total // 100)
    query = dict(parse_qsl(urlsplit(urls[1]).query))
    assert set(query) == {"api-version", "$skipToken"}  # B3: the nextLink carries everything
    assert urls[1].startswith(f"{ARM}{emu.workspace_resource_id}/providers/Microsoft.SecurityInsights/incidents?")
    created = [i["properties"]["createdTimeUtc"] for i in items]
    assert created == sorted(created, reverse=True)  # default order: newest first


def test_default_page_is_fifty_and_a_rewritten_next_link_is_refused(shared: Api) -> None:
    first = shared.request("GET", shared.ws("incidents", INCIDENTS)).json()
    assert len(first["value"]) == 50
    rewritten = shared.request("GET", first["nextLink"] + "&$top=50")
    assert rewritten.status_code == 400
    empty_filter = shared.request("GET", shared.ws("incidents?$filter=", INCIDENTS))
    assert empty_filter.status_code == 400


def test_filter_and_orderby(shared: Api) -> None:
    emu = shared.emu
    start = NOW - timedelta(days=3)
    url = shared.ws(
        f"incidents?$filter=properties/createdTimeUtc ge {start.strftime('%Y-%m-%dT%H:%M:%SZ')} and "
        "properties/providerName eq 'Microsoft 365 Defender'&$orderby=properties/createdTimeUtc asc"
        "&$top=7",
        INCIDENTS,
    )
    items, _ = all_pages(shared, url)
    assert len(items) == emu.count_incidents_created(start, NOW, ["Microsoft 365 Defender"])
    created = [i["properties"]["createdTimeUtc"] for i in items]
    assert created == sorted(created)
    bad = shared.request("GET", shared.ws("incidents?$filter=properties/title has 'x'", INCIDENTS))
    assert bad.status_code == 400
    too_many = shared.request("GET", shared.ws("incidents?$top=1001", INCIDENTS))
    assert too_many.status_code == 400


def test_arm_incidents_match_the_latest_security_incident_rows(shared: Api) -> None:
    items, _ = all_pages(shared, shared.ws("incidents?$top=1000", INCIDENTS))
    q = shared.query(
        "SecurityIncident | summarize arg_max(TimeGenerated, *) by IncidentName "
        "| project IncidentName, Status, IncidentNumber, ProviderName",
        timespan=None,
    )
    assert q.status_code == 200, q.text
    latest = {row[0]: (row[1], row[2], row[3]) for row in q.json()["tables"][0]["rows"]}
    arm = {
        i["name"]: (i["properties"]["status"], i["properties"]["incidentNumber"], i["properties"]["providerName"])
        for i in items
    }
    assert arm == latest


def test_get_alerts_and_entities(shared: Api) -> None:
    items = shared.request(
        "GET", shared.ws("incidents?$filter=properties/providerName eq 'Microsoft 365 Defender'&$top=5", INCIDENTS)
    ).json()["value"]
    incident = items[0]
    got = shared.request("GET", shared.ws(f"incidents/{incident['name']}", INCIDENTS))
    assert got.json() == incident
    alerts = shared.request("POST", shared.ws(f"incidents/{incident['name']}/alerts", INCIDENTS))
    assert alerts.status_code == 200
    value = alerts.json()["value"]
    assert 1 <= len(value) <= 4
    assert len(value) == incident["properties"]["additionalData"]["alertsCount"]
    assert {a["kind"] for a in value} == {"SecurityAlert"}
    ids = [a["properties"]["systemAlertId"] for a in value]
    q = shared.query(
        f"SecurityIncident | where IncidentName == '{incident['name']}' | take 1 | project AlertIds", timespan=None
    )
    import json

    assert json.loads(q.json()["tables"][0]["rows"][0][0]) == ids
    entities = shared.request("POST", shared.ws(f"incidents/{incident['name']}/entities", INCIDENTS)).json()
    assert set(entities) == {"entities", "metaData"}
    assert sum(m["count"] for m in entities["metaData"]) == len(entities["entities"])
    assert {e["kind"] for e in entities["entities"]} <= {"Account", "Host", "Ip", "File", "FileHash", "Url", "Mailbox"}
    assert shared.request("GET", shared.ws("incidents/nope", INCIDENTS)).status_code == 404


def test_put_incident_etag_conflict_and_append_only_rows(fresh: Api) -> None:
    items = fresh.request("GET", fresh.ws("incidents?$top=1000", INCIDENTS)).json()["value"]
    incident = next(
        i
        for i in items
        if i["properties"]["status"] != "Closed" and i["properties"]["providerName"] == "Microsoft 365 Defender"
    )
    url = fresh.ws(f"incidents/{incident['name']}", INCIDENTS)
    rows_before = fresh.emu.daily_row_counts("SecurityIncident", days=30)
    theirs = {
        "etag": incident["etag"],
        "properties": {
            **incident["properties"],
            "status": "Active",
            "owner": {"objectId": "2046feea-040d-4a46-9e2b-91c2941bfa70"},
        },
    }
    r = fresh.request("PUT", url, json=theirs)
    assert r.status_code == 200
    assert r.json()["properties"]["providerName"] == "Microsoft 365 Defender"  # read-only fields kept
    stale = {
        "etag": incident["etag"],
        "properties": {
            **incident["properties"],
            "status": "Closed",
            "classification": "FalsePositive",
            "classificationReason": "InaccurateData",
        },
    }
    conflict = fresh.request("PUT", url, json=stale)
    assert conflict.status_code == 409
    assert conflict.json() == {"error": {"code": "Conflict", "message": "Newer version of resource exists"}}
    no_class = {"etag": r.json()["etag"], "properties": {**r.json()["properties"], "status": "Closed"}}
    assert fresh.request("PUT", url, json=no_class).status_code == 400
    fresh.emu.advance(timedelta(minutes=1))  # the last daily bin ends at now, exclusive
    rows_after = fresh.emu.daily_row_counts("SecurityIncident", days=30)
    assert sum(n for _, n in rows_after) == sum(n for _, n in rows_before) + 1
    q = fresh.query(
        f"SecurityIncident | where IncidentName == '{incident['name']}' "
        "| summarize arg_max(TimeGenerated, Status, Owner)",
        timespan=None,
    )
    row = q.json()["tables"][0]["rows"][0]
    assert row[1] == "Active"
    assert '"objectId":"2046feea-040d-4a46-9e2b-91c2941bfa70"' in row[2]


def test_create_and_delete_incident(fresh: Api) -> None:
    url = fresh.ws("incidents/73e01a99-5cd7-4139-a149-9f2736ff2ab5", INCIDENTS)
    body = {"properties": {"title": "My incident", "severity": "High", "status": "New"}}
    created = fresh.request("PUT", url, json=body)
    assert created.status_code == 201
    props = created.json()["properties"]
    assert props["providerName"] == "Azure Sentinel"
    assert props["createdTimeUtc"] == "2025-11-20T12:00:00Z"
    assert (
        fresh.request("PUT", fresh.ws("incidents/x", INCIDENTS), json={"properties": {"title": "t"}}).status_code == 400
    )
    assert fresh.request("DELETE", url).status_code == 200
    assert fresh.request("DELETE", url).status_code == 204


def test_comments(fresh: Api) -> None:
    incident = fresh.request("GET", fresh.ws("incidents?$top=1", INCIDENTS)).json()["value"][0]["name"]
    url = fresh.ws(f"incidents/{incident}/comments/4bb36b7b-26ff-4d1c-9cbe-0d8ab3da0014", INCIDENTS)
    created = fresh.request("PUT", url, json={"properties": {"message": "Some message"}})
    assert created.status_code == 201
    body = created.json()
    assert body["type"] == "Microsoft.SecurityInsights/incidents/comments"
    assert body["properties"]["message"] == "Some message"
    assert body["properties"]["createdTimeUtc"] == "2025-11-20T12:00:00Z"
    assert fresh.request("PUT", url, json={"properties": {"message": "edited"}}).status_code == 200
    listed = fresh.request("GET", fresh.ws(f"incidents/{incident}/comments", INCIDENTS)).json()["value"]
    assert [c["properties"]["message"] for c in listed] == ["edited"]
    assert fresh.request("GET", url).json()["properties"]["message"] == "edited"
    assert fresh.request("PUT", url, json={"properties": {}}).status_code == 400
    assert fresh.request("DELETE", url).status_code == 200
    assert fresh.request("DELETE", url).status_code == 204
