"""IncidentStream at the HTTP level (pytest-httpx): exact URLs, $filter/$orderby/$top, bodies; cases B1-B4, B6,
C1, C2, D1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from m365sentinel._errors import AuthenticationError, ConflictError, InvalidInputError
from m365sentinel._incidents import Checkpoint, IncidentStream
from m365sentinel.models import GraphEvidenceVerdict, GraphIncidentStatus, IncidentStatus

from .conftest import GRAPH, NOW, SI, WS, Cred, incident

LIST = f"{SI}/incidents?api-version=2025-09-01&$orderby=properties/lastModifiedTimeUtc%20desc&$top=1000"
DEFENDER_FILTER = (
    "(properties/providerName eq 'Microsoft 365 Defender' or properties/providerName eq 'Microsoft XDR' or "
    "properties/providerName eq 'Microsoft Defender XDR' or properties/providerName eq 'M365D')"
)


def lm(minutes_ago: int) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stream(connector) -> IncidentStream:
    return connector.incidents().clock(lambda: NOW)


def urls(httpx_mock):
    return [str(r.url) for r in httpx_mock.get_requests()]


# --- filters rendered to OData -----------------------------------------------------------------------------
def test_default_stream_filters_defender_providers_orders_newest_first(httpx_mock, connector):
    httpx_mock.add_response(json={"value": []})
    list(stream(connector))
    (url,) = urls(httpx_mock)
    q = dict(parse_qsl(urlsplit(url).query))
    assert q == {
        "api-version": "2025-09-01",
        "$filter": DEFENDER_FILTER,
        "$orderby": "properties/lastModifiedTimeUtc desc",
        "$top": "1000",
    }


def test_only_filters_an_incident_cannot_leave_are_rendered_and_quotes_are_doubled(httpx_mock, connector):
    httpx_mock.add_response(json={"value": []})
    s = (
        stream(connector)
        .provider("O'Brien Security")
        .severity("high", "Medium")
        .status("New")
        .owner("kai@contoso.com", "5e1b7e6c-33d9-4f7f-9a51-0c0e2f3b6a11")
        .labels("St. John's")
        .created_between(NOW - timedelta(days=7), NOW)
        .modified_between(NOW - timedelta(hours=2), NOW - timedelta(minutes=10))
        .since(NOW - timedelta(hours=1))
        .page(200)
    )
    list(s)
    q = dict(parse_qsl(urlsplit(urls(httpx_mock)[0]).query))
    assert q["$filter"] == (
        "properties/providerName eq 'O''Brien Security' and "
        "properties/createdTimeUtc ge 2025-11-13T12:00:00.0000000Z and "
        "properties/createdTimeUtc lt 2025-11-20T12:00:00.0000000Z and "
        "properties/lastModifiedTimeUtc ge 2025-11-20T11:00:00.0000000Z"
    )
    assert q["$top"] == "200"


def test_severity_status_owner_labels_and_modified_before_are_applied_client_side(httpx_mock, connector):
    def inc(name, **kw):
        return incident(name, "2025-11-20T11:00:00Z", **kw)

    owner = {"userPrincipalName": "kai@contoso.com"}
    label = [{"labelName": "St. John's", "labelType": "User"}]
    httpx_mock.add_response(
        json={
            "value": [
                inc("match", severity="High", owner=owner, labels=label),
                inc("low", severity="Low", owner=owner, labels=label),
                inc("closed", status="Closed", severity="High", owner=owner, labels=label),
                inc("theirs", severity="High", owner={"userPrincipalName": "them@contoso.com"}, labels=label),
                inc("unlabelled", severity="High", owner=owner),
                incident("late", "2025-11-20T11:55:00Z", severity="High", owner=owner, labels=label),
            ]
        }
    )
    s = (
        stream(connector)
        .provider(None)
        .severity("High")
        .status("New")
        .owner("KAI@contoso.com")
        .labels("St. John's")
        .modified_between(None, NOW - timedelta(minutes=10))
    )
    assert [i.id for i in s] == ["match"]


@pytest.mark.parametrize(
    "bad",
    [
        lambda s: s.severity("Critical"),
        lambda s: s.status("Resolved"),
        lambda s: s.labels(""),
        lambda s: s.max_items(0),
        lambda s: s.page(1001),
        lambda s: s.since("not a checkpoint"),
        lambda s: s.created_between(NOW.replace(tzinfo=None), None),
    ],
)
def test_bad_input_is_refused_before_any_request(httpx_mock, connector, bad):
    with pytest.raises(InvalidInputError):
        bad(stream(connector))
    assert httpx_mock.get_requests() == []


# --- B1 / B2 / B3: paging ---------------------------------------------------------------------------------
def _pages(httpx_mock, sizes, first_url):
    n = 0
    url = first_url
    for i, size in enumerate(sizes):
        items = [incident(f"i{n + k:03d}", lm(n + k)) for k in range(size)]
        n += size
        body = {"value": items}
        if i < len(sizes) - 1:
            body["nextLink"] = f"{SI}/incidents?api-version=2025-09-01&$skipToken=tok{i + 1}"
        httpx_mock.add_response(url=url, json=body)
        url = body.get("nextLink", "")


def test_B1_page_cap_120_incidents_in_3_requests(httpx_mock, connector):
    _pages(httpx_mock, [50, 50, 20], LIST)
    run = iter(stream(connector).provider(None))
    names = [item.id for item in run]
    assert names == [f"i{k:03d}" for k in range(120)]
    assert len(httpx_mock.get_requests()) == 3
    assert run.stopped_early is False and run.delivered == 120


def test_B1_max_items_stops_early_and_says_so(httpx_mock, connector, caplog):
    _pages(httpx_mock, [50, 50], LIST)
    run = iter(stream(connector).provider(None).max_items(60))
    with caplog.at_level("INFO", logger="m365sentinel"):
        assert len(list(run)) == 60
    assert run.stopped_early is True
    assert "max_items=60" in caplog.text
    # A cut-short pass keeps its watermark and records every change it delivered (no trust in the page order).
    cp = run.checkpoint
    assert cp.pending is None and cp.watermark is None
    assert sorted(i for i, _, _ in cp.seen) == [f"i{k:03d}" for k in range(60)]


def test_B2_first_page_is_not_dropped_and_service_order_is_kept(httpx_mock, connector):
    _pages(httpx_mock, [2, 2], LIST)
    assert [i.id for i in stream(connector).provider(None)] == ["i000", "i001", "i002", "i003"]


def test_B3_next_link_is_requested_exactly_as_given(httpx_mock, connector):
    _pages(httpx_mock, [1, 1, 1], LIST)
    list(stream(connector).provider(None))
    assert urls(httpx_mock) == [
        LIST,
        f"{SI}/incidents?api-version=2025-09-01&$skipToken=tok1",
        f"{SI}/incidents?api-version=2025-09-01&$skipToken=tok2",
    ]
    assert all("$filter=" not in u for u in urls(httpx_mock))


# --- B4: Graph $top + $skip limit -----------------------------------------------------------------------------
def test_B4_graph_backlog_of_7000_switches_to_a_cursor_before_skip_limit(httpx_mock, connector):
    base = NOW - timedelta(days=3)
    items = [
        {
            "id": str(100000 + k),
            "lastUpdateDateTime": (base + timedelta(seconds=k // 2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": "active",
        }
        for k in range(7000)
    ]
    seen_queries = []

    def serve(request: httpx.Request) -> httpx.Response:
        q = dict(parse_qsl(request.url.query.decode()))
        seen_queries.append(q)
        assert request.headers["Prefer"] == "include-unknown-enum-members"
        top, skip = int(q["$top"]), int(q.get("$skip", "0"))
        if top + skip > 6000:
            return httpx.Response(400, json={"error": {"code": "BadRequest", "message": "top+skip > 6000"}})
        assert q["$orderby"] == "lastUpdateDateTime asc"
        pool = items
        if "$filter" in q:
            cursor = q["$filter"].removeprefix("lastUpdateDateTime ge ")
            pool = [i for i in items if i["lastUpdateDateTime"] >= cursor[:19] + "Z"]
        body = {"value": pool[skip : skip + top]}
        if skip + top < len(pool):
            nxt = {k: v for k, v in q.items() if k != "$skip"} | {"$skip": str(skip + top)}
            body["@odata.nextLink"] = f"{GRAPH}/security/incidents?" + str(httpx.QueryParams(nxt))
        return httpx.Response(200, json=body)

    httpx_mock.add_callback(serve, is_reusable=True)
    got = [g.id for g in stream(connector).defender().incidents()]
    assert len(got) == 7000 and len(set(got)) == 7000
    assert got == [i["id"] for i in items]
    assert all(int(q["$top"]) + int(q.get("$skip", "0")) <= 6000 for q in seen_queries)
    restarts = [q for q in seen_queries if "$filter" in q and "$skip" not in q]
    assert len(restarts) == 1 and restarts[0]["$filter"].startswith("lastUpdateDateTime ge 2025-11-17T12:49:59")


# --- B6: token expiry mid-stream ------------------------------------------------------------------------------
def test_B6_token_expiry_mid_stream_refreshes_once_and_continues_without_duplicates(httpx_mock, sleeps):
    from m365sentinel._connector import Connector

    from .conftest import WS

    cred = Cred(tokens=("t1", "t2"))  # t1 is cached for the first two pages; the 401 asks for t2
    with Connector(WS, credential=cred, sleep=sleeps) as c:
        _pages_with_expiry(httpx_mock)
        names = [i.id for i in c.incidents().provider(None).clock(lambda: NOW)]
    assert names == ["i000", "i001", "i002"]
    sent = [(str(r.url).rsplit("=", 1)[-1], r.headers["Authorization"]) for r in httpx_mock.get_requests()]
    assert sent == [("1000", "Bearer t1"), ("tok1", "Bearer t1"), ("tok1", "Bearer t2"), ("tok2", "Bearer t2")]
    assert len(cred.calls) == 2


def _pages_with_expiry(httpx_mock):
    httpx_mock.add_response(
        url=LIST,
        json={
            "value": [incident("i000", lm(0))],
            "nextLink": LIST.split("?")[0] + "?api-version=2025-09-01&$skipToken=tok1",
        },
    )
    httpx_mock.add_response(
        url=f"{SI}/incidents?api-version=2025-09-01&$skipToken=tok1",
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token", error_description="The token expired"'},
        json={"error": {"code": "ExpiredAuthenticationToken", "message": "The access token expiry"}},
    )
    httpx_mock.add_response(
        url=f"{SI}/incidents?api-version=2025-09-01&$skipToken=tok1",
        json={"value": [incident("i001", lm(1))], "nextLink": f"{SI}/incidents?api-version=2025-09-01&$skipToken=tok2"},
    )
    httpx_mock.add_response(
        url=f"{SI}/incidents?api-version=2025-09-01&$skipToken=tok2", json={"value": [incident("i002", lm(2))]}
    )


def test_B6_same_rejected_token_raises_a_typed_authentication_error(httpx_mock, connector):
    httpx_mock.add_response(
        url=LIST,
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        json={"error": {"code": "ExpiredAuthenticationToken", "message": "expired"}},
    )
    with pytest.raises(AuthenticationError):
        list(stream(connector).provider(None))


# --- C1 / C2: writing back ------------------------------------------------------------------------------------
def test_C1_stale_etag_rereads_and_reapplies_only_our_changes(httpx_mock, connector):
    url = f"{SI}/incidents/inc1?api-version=2025-09-01"
    e1 = incident("inc1", lm(10), etag='"E1"', labels=[{"labelName": "a", "labelType": "User"}])
    e2 = incident(
        "inc1",
        lm(5),
        etag='"E2"',
        owner={"userPrincipalName": "them@contoso.com"},
        labels=[{"labelName": "a", "labelType": "User"}, {"labelName": "theirs", "labelType": "User"}],
    )
    httpx_mock.add_response(
        method="PUT",
        url=url,
        status_code=409,
        json={"error": {"code": "Conflict", "message": "Newer version of resource exists"}},
    )
    httpx_mock.add_response(method="GET", url=url, json=e2)
    written = incident("inc1", lm(0), etag='"E3"', status="Closed")
    httpx_mock.add_response(method="PUT", url=url, json=written)
    from m365sentinel.models import Incident

    result = (
        connector.incidents()
        .get("inc1")
        .update(status="Closed", classification="TruePositive", add_labels=["ours"], base=Incident.from_json(e1))
    )
    assert result.attempts == 2
    puts = [json.loads(r.content) for r in httpx_mock.get_requests() if r.method == "PUT"]
    assert puts[0]["etag"] == '"E1"' and puts[1]["etag"] == '"E2"'
    final = puts[1]["properties"]
    assert final["owner"] == {"userPrincipalName": "them@contoso.com"}  # their owner
    assert final["status"] == "Closed" and final["classification"] == "TruePositive"  # our status
    assert final["classificationReason"] == "SuspiciousActivity"
    assert [lb["labelName"] for lb in final["labels"]] == ["a", "theirs", "ours"]  # merged, never lost
    assert "lastModifiedTimeUtc" not in final and "providerName" not in final


def test_C1_gives_up_after_a_few_attempts_with_a_typed_conflict(httpx_mock, connector):
    url = f"{SI}/incidents/inc1?api-version=2025-09-01"
    httpx_mock.add_response(method="GET", url=url, json=incident("inc1", lm(1), etag='"E"'), is_reusable=True)
    httpx_mock.add_response(
        method="PUT",
        url=url,
        status_code=412,
        is_reusable=True,
        json={"error": {"code": "PreconditionFailed", "message": "etag mismatch"}},
    )
    with pytest.raises(ConflictError, match="gave up after 3 attempts"):
        connector.incidents().get("inc1").update(severity="High", max_attempts=3)
    assert [r.method for r in httpx_mock.get_requests()] == ["GET", "PUT"] * 3


@pytest.mark.parametrize(
    ("classification", "reason", "message"),
    [
        (None, None, "requires a classification"),
        ("TruePositive", "InaccurateData", "does not fit classification TruePositive"),
        ("FalsePositive", None, "needs a reason"),
        ("Undetermined", "SuspiciousActivity", "takes no reason"),
        ("Bogus", None, "is not one of"),
    ],
)
def test_C2_close_rules_are_checked_before_any_request(httpx_mock, connector, classification, reason, message):
    with pytest.raises(InvalidInputError, match=message):
        connector.incidents().get("inc1").close(classification=classification, reason=reason)
    assert httpx_mock.get_requests() == []


def test_C2_partial_update_sends_a_complete_body_with_the_etag(httpx_mock, connector):
    url = f"{SI}/incidents/inc1?api-version=2025-09-01"
    httpx_mock.add_response(method="GET", url=url, json=incident("inc1", lm(1), etag='"E9"', description="d"))
    httpx_mock.add_response(method="PUT", url=url, json=incident("inc1", lm(0), etag='"E10"'))
    connector.incidents().get("inc1").update(severity="high")
    body = json.loads(httpx_mock.get_requests()[-1].content)
    assert body == {
        "etag": '"E9"',
        "properties": {
            "title": "incident inc1",
            "severity": "High",
            "status": "New",
            "labels": [],
            "owner": {},
            "description": "d",
        },
    }


def test_C2_close_defaults_the_single_fitting_reason(httpx_mock, connector):
    url = f"{SI}/incidents/inc1?api-version=2025-09-01"
    httpx_mock.add_response(method="GET", url=url, json=incident("inc1", lm(1), etag='"E"'))
    httpx_mock.add_response(method="PUT", url=url, json=incident("inc1", lm(0), status="Closed"))
    connector.incidents().get("inc1").close(classification="BenignPositive", comment="expected admin activity")
    props = json.loads(httpx_mock.get_requests()[-1].content)["properties"]
    assert (
        props["status"],
        props["classification"],
        props["classificationReason"],
        props["classificationComment"],
    ) == ("Closed", "BenignPositive", "SuspiciousButExpected", "expected admin activity")


# --- D1: unknown enum values ------------------------------------------------------------------------------------
def test_D1_unknown_enum_values_keep_the_page_and_every_graph_page_sends_prefer(httpx_mock, connector):
    first = f"{GRAPH}/security/incidents?$orderby=lastUpdateDateTime%20asc&$top=50&$expand=alerts"
    second = f"{GRAPH}/security/incidents?$skip=50"
    alert = {"id": "da1", "evidence": [{"@odata.type": "#microsoft.graph.security.userEvidence", "verdict": 5}]}
    httpx_mock.add_response(
        url=first,
        json={
            "value": [
                {
                    "id": "1",
                    "status": "awaitingAction",
                    "lastUpdateDateTime": "2025-11-20T10:00:00Z",
                    "alerts": [alert],
                },
                {"id": "2", "status": "fooBar", "lastUpdateDateTime": "2025-11-20T10:00:01Z"},
            ],
            "@odata.nextLink": second,
        },
    )
    httpx_mock.add_response(
        url=second, json={"value": [{"id": "3", "status": "resolved", "lastUpdateDateTime": "2025-11-20T10:00:02Z"}]}
    )
    got = list(stream(connector).defender().incidents(with_alerts=True))
    assert [g.status for g in got] == ["awaitingAction", "fooBar", "resolved"]
    assert got[0].status is GraphIncidentStatus.AWAITING_ACTION
    assert got[1].status.is_known is False and got[1].status.raw == "fooBar"
    verdict = got[0].alerts[0].evidence[0].verdict
    assert isinstance(verdict, GraphEvidenceVerdict) and verdict.raw == 5 and not verdict.is_known
    assert [r.headers["Prefer"] for r in httpx_mock.get_requests()] == ["include-unknown-enum-members"] * 2


def test_D1_unknown_sentinel_status_is_kept_in_the_stream(httpx_mock, connector):
    httpx_mock.add_response(url=LIST, json={"value": [incident("i1", lm(0), status="fooBar")]})
    (item,) = list(stream(connector).provider(None))
    assert item.incident.status == "fooBar" and item.incident.status.is_known is False
    assert isinstance(item.incident.status, IncidentStatus)


# --- checkpoints across runs at the HTTP level -----------------------------------------------------------------
def test_resume_asks_from_the_watermark_and_skips_the_boundary(httpx_mock, connector):
    cp = Checkpoint.from_json(
        {"v": 1, "watermark": "2025-11-20T11:50:00Z", "seen": [["i1", "2025-11-20T11:56:00Z", '"x"']], "pass": None}
    )
    url = LIST.replace(
        "$orderby", "$filter=properties/lastModifiedTimeUtc%20ge%202025-11-20T11:50:00.0000000Z&$orderby"
    )
    httpx_mock.add_response(
        url=url,
        headers={"Date": "Thu, 20 Nov 2025 12:00:00 GMT"},
        json={"value": [incident("i2", "2025-11-20T11:58:00Z"), incident("i1", "2025-11-20T11:56:00Z", etag='"x"')]},
    )
    run = iter(stream(connector).provider(None).since(cp))
    assert [i.id for i in run] == ["i2"]
    assert run.checkpoint.to_json() == {
        "v": 2,
        "identity": {
            "workspace": WS,
            "kind": "arm/incidents",
            "filters": {
                "providers": [],
                "severities": [],
                "statuses": [],
                "owners": [],
                "labels": [],
                "created": [None, None],
                "modified": [None, None],
            },
        },
        "watermark": "2025-11-20T11:55:00.0000000Z",
        "pass": None,
        "seen": [
            ["i1", "2025-11-20T11:56:00.0000000Z", '"x"'],
            ["i2", "2025-11-20T11:58:00.0000000Z", '"i2-2025-11-20T11:58:00Z"'],
        ],
    }


def test_a_host_clock_ahead_of_the_service_does_not_skip_changes(httpx_mock, connector):
    # The host clock runs 20 minutes ahead (NOW is 12:00 on the host, 11:40 at the service). Without the service's
    # Date, the watermark would become 11:55 and the change made at 11:45 service time (listed next poll) be lost.
    httpx_mock.add_response(
        headers={"Date": "Thu, 20 Nov 2025 11:40:00 GMT"},
        json={"value": [incident("i1", "2025-11-20T11:39:00Z")]},
    )
    first = iter(stream(connector).provider(None))
    assert [i.id for i in first] == ["i1"]
    assert first.checkpoint.watermark == datetime(2025, 11, 20, 11, 35, tzinfo=UTC)  # service time - lag
    assert [s[0] for s in first.checkpoint.seen] == ["i1"]
    httpx_mock.add_response(
        headers={"Date": "Thu, 20 Nov 2025 11:46:00 GMT"},
        json={"value": [incident("i2", "2025-11-20T11:45:00Z"), incident("i1", "2025-11-20T11:39:00Z")]},
    )
    second = iter(stream(connector).provider(None).since(first.checkpoint))
    assert [i.id for i in second] == ["i2"]  # i1 is the same change: skipped
    q = dict(parse_qsl(urlsplit(urls(httpx_mock)[1]).query))
    assert q["$filter"] == "properties/lastModifiedTimeUtc ge 2025-11-20T11:35:00.0000000Z"


def test_a_service_clock_ahead_of_the_host_keeps_the_host_bound_and_a_bad_date_is_ignored(httpx_mock, connector):
    httpx_mock.add_response(headers={"Date": "Thu, 20 Nov 2025 12:30:00 GMT"}, json={"value": []})
    assert iter_checkpoint(stream(connector)).watermark == NOW - timedelta(minutes=5)
    # No usable Date and nothing served: no evidence of the service's time, so the watermark does not move (the
    # host clock alone is never trusted).
    httpx_mock.add_response(headers={"Date": "yesterday-ish"}, json={"value": []})
    assert iter_checkpoint(stream(connector)).watermark is None


def iter_checkpoint(s):
    run = iter(s)
    list(run)
    return run.checkpoint
