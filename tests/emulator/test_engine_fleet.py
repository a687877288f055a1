"""The query engine serving many workspaces: each keeps its tables (no reload when another asks), sees only its
own, answers from several threads at once, and repeats an answer only for the same question on the same data."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from m365sentinel.emulator._engine import Engine, QueryFailed, _Memo, _result_key
from m365sentinel.emulator._tables import TableStore

NOW = datetime(2025, 11, 20, 12, tzinfo=UTC)
SCHEMA = [("TimeGenerated", "datetime"), ("Name", "string")]


def _store(*names: str, table: str = "Things") -> TableStore:
    store = TableStore()
    store.create(table, SCHEMA)
    store.append(table, [{"TimeGenerated": NOW - timedelta(hours=1), "Name": n} for n in names])
    return store


def _names(engine: Engine, store: TableStore, query: str = "Things | order by Name asc") -> list[str]:
    table = engine.run(store, query, now=NOW)
    return [row[1] for row in table["rows"]]


@pytest.fixture
def engine() -> Iterator[Engine]:
    e = Engine()
    yield e
    e.close()


def test_switching_workspaces_loads_each_table_once(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[Any] = []
    original = Engine._load
    monkeypatch.setattr(Engine, "_load", lambda self, *a: loads.append(a[0]) or original(self, *a))
    a, b = _store("a1", "a2"), _store("b1")
    for _ in range(3):
        assert _names(engine, a) == ["a1", "a2"]
        assert _names(engine, b) == ["b1"]
    assert len(loads) == 2  # one per workspace, not one per switch


def test_a_workspace_never_sees_another_workspaces_table(engine: Engine) -> None:
    a, b = _store("a1", table="OnlyInA"), _store("b1")
    assert engine.run(a, "OnlyInA | count", now=NOW)["rows"] == [[1]]
    with pytest.raises(QueryFailed) as failed:
        engine.run(b, "OnlyInA | count", now=NOW)
    assert failed.value.kind == "SemanticError"
    assert "OnlyInA" in failed.value.message


def test_changed_rows_are_reloaded_and_answered(engine: Engine) -> None:
    a = _store("a1")
    assert _names(engine, a) == ["a1"]
    a.append("Things", [{"TimeGenerated": NOW, "Name": "a0"}])
    assert _names(engine, a) == ["a0", "a1"]
    a.drop("Things")
    with pytest.raises(QueryFailed):
        engine.run(a, "Things | count", now=NOW)


def test_same_question_on_the_same_rows_is_answered_once(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[str] = []
    original = Engine._execute
    monkeypatch.setattr(Engine, "_execute", lambda self, *a: runs.append(a[3]) or original(self, *a))
    a = _store("x", "y")
    b = TableStore()  # a fleet member: the same row objects in its own table
    b.create("Things", SCHEMA)
    b.rows["Things"] = list(a.rows["Things"])
    assert _names(engine, a) == ["x", "y"]
    assert _names(engine, b) == ["x", "y"]
    assert runs == ["Things | order by Name asc"]
    b.append("Things", [{"TimeGenerated": NOW, "Name": "z"}])  # other rows: asked again
    assert _names(engine, b) == ["x", "y", "z"]
    assert engine.run(a, "Things | count", now=NOW, start=NOW - timedelta(minutes=5), end=NOW)["rows"] == [[0]]
    assert len(runs) == 3
    for _ in range(2):  # a failure is not kept: asked again, run again
        with pytest.raises(QueryFailed):
            engine.run(a, "Things | where NoSuchColumn == 1", now=NOW)
    assert len(runs) == 5


@pytest.mark.parametrize("query", ["T | extend r = rand()", "T | extend g = new_guid()", "T | sample 3"])
def test_answers_that_may_differ_are_never_cached(query: str) -> None:
    assert _result_key(query, NOW, None, None, (), []) is None
    assert _result_key("T | count", NOW, None, None, (), []) is not None


def test_answers_from_many_threads_are_each_workspaces_own(engine: Engine) -> None:
    stores = [_store(*(f"w{i}-{j}" for j in range(i + 1))) for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda s: _names(engine, s), stores * 3))
    assert answers == [[f"w{i}-{j}" for j in range(i + 1)] for i in range(8)] * 3


def test_memo_computes_a_key_once_while_others_wait() -> None:
    memo: _Memo[str] = _Memo(4)
    entered, release = threading.Event(), threading.Event()
    second_computed: list[bool] = []
    results: list[str] = []

    def slow() -> str:
        entered.set()
        release.wait()
        return "first"

    first = threading.Thread(target=lambda: results.append(memo.get("k", slow, lambda v: True)))
    first.start()
    entered.wait()
    second = threading.Thread(
        target=lambda: results.append(memo.get("k", lambda: second_computed.append(True) or "second", lambda v: True))
    )
    second.start()
    release.set()
    first.join()
    second.join()
    assert results == ["first", "first"]
    assert second_computed == []


def test_memo_keeps_no_error_and_only_what_keep_allows() -> None:
    memo: _Memo[int] = _Memo(2)

    def boom() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError):
        memo.get("k", boom, lambda v: True)
    assert memo.get("k", lambda: 1, lambda v: False) == 1
    assert memo.get("k", lambda: 2, lambda v: True) == 2  # 1 was not kept
    assert memo.get("k", lambda: 3, lambda v: True) == 2
    memo.get("a", lambda: 4, lambda v: True)
    memo.get("b", lambda: 5, lambda v: True)  # size 2: the oldest ("k") goes
    assert memo.get("k", lambda: 6, lambda v: True) == 6
