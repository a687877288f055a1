"""Cross-workspace queries over a fleet, end to end on the emulator (both faces): batches, tags, splits, failures."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from m365sentinel import Cloud, Fleet, InvalidInputError, QueryError, SerializationError, Session, aio, kql
from m365sentinel._fleet_query import batch_flow, cross_workspace_kql
from m365sentinel.emulator import Emulator

NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)
QUERY = 'SecurityAlert | where AlertSeverity == "High" | project AlertName'
QUERY_PATH = "/v1/workspaces/"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """25 workspaces in 3 tenants; workspace n holds n % 3 + 1 high alerts named w<n>-<k> (and one low one)."""
    e = Emulator(now=NOW, dataset=False, workspaces=25, tenants=3)
    for n, rid in enumerate(e.workspace_resource_ids):
        state = e.workspace_state(rid)
        if "SecurityAlert" not in state.table_names():
            state.create_table("SecurityAlert")
        rows = [
            {"TimeGenerated": NOW - timedelta(minutes=k + 1), "AlertName": f"w{n}-{k}", "AlertSeverity": "High"}
            for k in range(n % 3 + 1)
        ]
        state.add_rows("SecurityAlert", [*rows, {"TimeGenerated": NOW, "AlertName": "low", "AlertSeverity": "Low"}])
    yield e
    e.close()


@pytest.fixture(autouse=True)
def _clean(emu: Emulator) -> None:
    emu.faults.clear()
    emu.requests.clear()


def _run(emu: Emulator, face: str, query: Any = QUERY, **kwargs: Any) -> Any:
    ids = emu.workspace_resource_ids
    if face == "sync":
        with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time) as session:
            return Fleet(ids, session=session, concurrency=4).query(query, timespan=timedelta(days=1), **kwargs)

    async def go() -> Any:
        async with aio.Session(
            credential=emu.async_credential(), transport=emu.async_transport(), clock=emu.time
        ) as session:
            return await aio.Fleet(ids, session=session, concurrency=4).query(
                query, timespan=timedelta(days=1), **kwargs
            )

    return asyncio.run(go())


def _queries(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and r.path.startswith(QUERY_PATH)]


def _names(result: Any) -> list[str]:
    return sorted(row[0] for row in result.result.primary.rows)


FACES = pytest.mark.parametrize("face", ["sync", "async"])


@FACES
def test_every_workspace_rows_tagged_in_batches_of_ten(emu: Emulator, face: str) -> None:
    result = _run(emu, face)
    cids = [emu.workspace_state(r)._ws.customer_id for r in emu.workspace_resource_ids]
    posts = _queries(emu)
    assert len(posts) == 3 and [b.outcome for b in result.batches] == ["ok"] * 3
    bodies = sorted((p.path.split("/")[3], tuple(p.body["workspaces"])) for p in posts)
    expected = sorted((c[0], tuple(c[1:])) for c in (cids[0:10], cids[10:20], cids[20:25]))
    assert bodies == expected
    sent = next(p.body for p in posts if p.path.split("/")[3] == cids[20])
    assert sent["query"] == cross_workspace_kql(QUERY, cids[20:25]) and sent["timespan"] == "P1D"
    for n, (r, cid) in enumerate(zip(result.results, cids, strict=True)):
        assert r.ok and r.customer_id == cid
        assert _names(r) == [f"w{n}-{k}" for k in range(n % 3 + 1)]
        assert {row[1] for row in r.result.primary.rows} == {cid}
    combined = result.combined.primary
    assert [c.name for c in combined.columns] == ["AlertName", "WorkspaceId"]
    assert len(combined) == sum(n % 3 + 1 for n in range(25)) == 49
    assert {(row[0], row[1]) for row in combined.rows} == {
        (f"w{n}-{k}", cids[n]) for n in range(25) for k in range(n % 3 + 1)
    }


@FACES
def test_a_batch_refused_as_too_large_is_split_in_halves(emu: Emulator, face: str) -> None:
    emu.faults.cross_workspace_limit(4)
    result = _run(emu, face)
    split = sorted(len(b.customer_ids) for b in result.batches if b.outcome == "split: too many workspaces")
    assert split == [5, 5, 5, 5, 5, 10, 10]  # 10 -> 5 + 5 -> 2 + 3 each; the last 5 -> 2 + 3
    assert sorted(len(b.customer_ids) for b in result.batches if b.outcome == "ok") == [2] * 5 + [3] * 5
    assert len(_queries(emu)) == 17
    assert all(r.ok for r in result.results) and len(result.combined.primary) == 49


@FACES
def test_a_failed_workspace_is_its_error_while_the_others_answer(emu: Emulator, face: str) -> None:
    cids = [emu.workspace_state(r)._ws.customer_id for r in emu.workspace_resource_ids]
    emu.faults.fail_workspace_queries(cids[3])
    result = _run(emu, face)
    first = [b for b in result.batches if cids[0] in b.customer_ids]
    assert [(b.outcome, len(b.customer_ids)) for b in first] == [
        ("workspace failed: asked again without it", 10),
        ("ok", 9),
    ]
    assert cids[3] not in first[1].customer_ids and len(_queries(emu)) == 4
    assert [r.ok for r in result.results] == [n != 3 for n in range(25)]
    failed = result.results[3].error
    assert isinstance(failed, QueryError) and failed.code == "InsufficientAccessError"
    assert cids[3] in str(failed)
    assert _names(result.results[4]) == ["w4-0", "w4-1"]
    assert len(result.combined.primary) == 49 - 1


@FACES
def test_a_size_limit_partial_is_asked_again_in_smaller_batches(emu: Emulator, face: str) -> None:
    emu.faults.query_size_limit(12)  # 10 workspaces hold 19 or 20 rows; 5 hold 9
    result = _run(emu, face)
    assert sorted(len(b.customer_ids) for b in result.batches if b.outcome == "split: size limit") == [10, 10]
    assert sorted(len(b.customer_ids) for b in result.batches if b.outcome == "ok") == [5, 5, 5, 5, 5]
    assert all(r.ok for r in result.results)
    assert [len(r.result.primary) for r in result.results] == [n % 3 + 1 for n in range(25)]


def test_a_refusal_naming_no_workspace_is_every_workspace_error(emu: Emulator) -> None:
    result = _run(emu, "sync", "SecurityAlert | where NoSuchColumn == 1")
    assert [b.outcome for b in result.batches] == ["failed"] * 3 and len(_queries(emu)) == 3
    assert all(isinstance(r.error, QueryError) for r in result.results)
    assert len(result.combined.primary) == 0


def _answer(body: dict[str, Any], cids: list[str]) -> tuple[dict[str, Any], list[Any]]:
    """``batch_flow`` over ``cids`` answered 200 with ``body`` (then, if asked again, with no rows)."""
    flow = batch_flow(Cloud.resolve("AzureCloud"), QUERY, "P1D", cids)
    step = next(flow)
    try:
        while True:
            answer = httpx.Response(200, json=body, request=httpx.Request("POST", step.spec.url))
            body = {"tables": [{"name": "PrimaryResult", "columns": [], "rows": []}]}
            step = flow.send(answer)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def test_a_partial_answer_naming_a_workspace_keeps_the_others_rows() -> None:
    cids = ["11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"]
    columns = [{"name": "AlertName", "type": "string"}, {"name": "WorkspaceId", "type": "string"}]
    detail = {"code": "InsufficientAccessError", "message": "no access", "resources": [cids[1]]}
    body = {
        "tables": [{"name": "PrimaryResult", "columns": columns, "rows": [["a", cids[0]]]}],
        "error": {"code": "PartialError", "message": "There were some errors", "details": [detail]},
    }
    out, records = _answer(body, cids)
    assert [r.outcome for r in records] == ["partial"]
    assert out[cids[0]]["rows"] == [["a", cids[0]]]
    assert isinstance(out[cids[1]], QueryError) and out[cids[1]].code == "InsufficientAccessError"


def test_a_row_tagged_with_another_workspace_fails_the_batch() -> None:
    cids = ["11111111-1111-1111-1111-111111111111"]
    columns = [{"name": "AlertName", "type": "string"}, {"name": "WorkspaceId", "type": "string"}]
    stray = "33333333-3333-3333-3333-333333333333"
    out, records = _answer({"tables": [{"name": "PrimaryResult", "columns": columns, "rows": [["a", stray]]}]}, cids)
    assert [r.outcome for r in records] == ["failed"]
    assert isinstance(out[cids[0]], SerializationError) and stray in str(out[cids[0]])


def test_a_partial_answer_naming_no_workspace_fails_the_batch(emu: Emulator) -> None:
    emu.faults.partial_query_result(1)  # E_QUERY_RESULT_SET_TOO_LARGE for a batch of one: its own error
    with Session(credential=emu.credential(), transport=emu.transport(), clock=emu.time) as session:
        fleet = Fleet(emu.workspace_resource_ids[:1], session=session)
        result = fleet.query(QUERY, timespan=timedelta(days=1))
    assert [b.outcome for b in result.batches] == ["failed"]
    assert isinstance(result.results[0].error, QueryError)
    assert len(result.combined.primary) == 0


@pytest.mark.parametrize(
    "bad",
    [
        "let x = 1; SecurityAlert",
        "SecurityAlert | join (SecurityIncident) on $left.AlertName == $right.Title",
        "SecurityAlert | where AlertName in ((SecurityIncident | project Title))",
        "union SecurityAlert, SecurityIncident",
        'workspace("x").SecurityAlert',
        "SecurityAlert | render timechart",
        "print 1",
    ],
)
def test_queries_that_cannot_be_tagged_are_refused_before_any_request(emu: Emulator, bad: str) -> None:
    with pytest.raises(InvalidInputError, match="cannot tag its rows by workspace"):
        _run(emu, "sync", bad)
    assert emu.requests == []


@pytest.mark.parametrize("size", [0, 101, True, "10"])
def test_batch_size_out_of_range_is_refused(emu: Emulator, size: Any) -> None:
    with pytest.raises(InvalidInputError, match="batch_size"):
        _run(emu, "sync", batch_size=size)
    assert emu.requests == []


@pytest.mark.kqlparser
@pytest.mark.parametrize(
    "query",
    [QUERY, "SecurityIncident", "['SecurityAlert'] | summarize count() by AlertSeverity // per severity"],
)
def test_the_tagged_query_parses_clean(kql_parser: Any, query: str) -> None:
    ids = ["11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"]
    for batch in (ids, ids[:1]):
        columns = kql_parser.assert_clean(cross_workspace_kql(query, batch), batch)
        assert columns[-1] == ("WorkspaceId", "string")


def test_a_builder_query_is_tagged_like_its_text() -> None:
    query = kql.table("SecurityAlert").where(kql.col("AlertSeverity") == "High").project("AlertName")
    assert cross_workspace_kql(query.to_kql(), ["11111111-1111-1111-1111-111111111111"]) == (
        "union\n"
        '(workspace("11111111-1111-1111-1111-111111111111").SecurityAlert\n'
        f"{query.to_kql().split(chr(10), 1)[1]}\n"
        '| extend WorkspaceId = "11111111-1111-1111-1111-111111111111")'
    )
