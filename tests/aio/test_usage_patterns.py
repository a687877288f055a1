"""The async face used as a demanding caller would, on the emulator: concurrent queries on one connector, a
cancelled ``async for``, ``follow()`` stopped by an event mid-wait, a session closed under running requests, a
sync credential given to aio, and one SQLite checkpoint shared by both faces."""

from __future__ import annotations

import asyncio
import pickle
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import m365sentinel as ms
from m365sentinel import aio
from m365sentinel.emulator import Emulator

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
GUARD = 30.0  # seconds: only a hang reaches it (no timing is asserted)


@pytest.fixture
def emu():
    e = Emulator(now=NOW, seed=5, incidents=12)
    yield e
    e.close()


class YieldingTransport(httpx.AsyncBaseTransport):
    """The emulator's async transport, yielding to the event loop before each answer (as a network would), so
    that requests really are in flight together."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.in_flight = 0
        self.started = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.started.set()
        try:
            for _ in range(3):
                await asyncio.sleep(0)
            return await self.inner.handle_async_request(request)
        finally:
            self.in_flight -= 1


def _aconnector(emu: Emulator, **kw) -> aio.Connector:
    kw.setdefault("transport", emu.async_transport())
    return aio.Connector(emu.workspace_resource_id, credential=emu.async_credential(), **kw)


def _names(stream) -> list[str]:
    return [item.incident.name for item in stream]


def test_many_concurrent_queries_on_one_connector_each_get_their_own_answer_and_share_tokens(emu):
    async def main() -> list[int]:
        transport = YieldingTransport(emu.async_transport())
        async with aio.Session(credential=emu.async_credential(), transport=transport, clock=emu.time) as session:
            connector = session.connector(emu.workspace_resource_id)
            results = await asyncio.gather(*(connector.query(f"print n = {i}", timespan="P1D") for i in range(40)))
            emu.faults.expire_tokens()  # every request of the next burst is refused once: one renewal for all
            results += await asyncio.gather(*(connector.query(f"print n = {i}", timespan="P1D") for i in range(10)))
        return [r.tables[0].rows[0][0] for r in results]

    assert asyncio.run(main()) == list(range(40)) + list(range(10))
    assert dict(emu.token_requests) == {"https://management.azure.com": 1, "https://api.loganalytics.io": 2}


def test_a_cancelled_async_for_commits_only_what_was_handled_and_the_connector_stays_usable(emu):
    store = ms.MemoryCheckpointStore()
    handled: list[str] = []

    async def main() -> list[str]:
        async with _aconnector(emu, transport=YieldingTransport(emu.async_transport())) as connector:
            stream = connector.incidents().clock(emu.clock.now).page(5).since(store)

            async def consume() -> None:
                async for item in stream:
                    if len(handled) == 7:  # mid-page (pages of 5): cancelled while handling the 8th
                        await asyncio.Event().wait()
                    handled.append(item.incident.name)
                    item.commit()

            task = asyncio.create_task(consume())
            while len(handled) < 7:
                await asyncio.sleep(0)
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, GUARD)
            return [item.incident.name async for item in stream]

    rest = asyncio.run(main())
    with ms.Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as sync:
        every = _names(sync.incidents().clock(emu.clock.now))
    assert len(handled) == 7 and sorted(handled + rest) == sorted(every) and len(every) == 13


@pytest.mark.parametrize("kind", ["asyncio", "threading"])
def test_follow_stopped_by_an_event_set_during_its_wait_ends_the_wait(emu, kind):
    """The interval is an hour: only an event that ends the wait lets this finish before the hang guard."""

    async def main() -> list[str]:
        stop = asyncio.Event() if kind == "asyncio" else threading.Event()
        seen: list[str] = []
        async with _aconnector(emu) as connector:
            follow = connector.incidents().clock(emu.clock.now).follow(interval=3600, stop=stop)

            async def consume() -> None:
                async for item in follow:
                    seen.append(item.incident.name)
                    if len(seen) == 13:  # the last one: set once follow waits (from a thread for threading.Event)
                        if kind == "asyncio":
                            asyncio.get_running_loop().call_later(0.2, stop.set)
                        else:
                            threading.Timer(0.2, stop.set).start()

            await asyncio.wait_for(consume(), GUARD)
            assert (await connector.status()).onboarded is True  # still usable
        return seen

    assert len(set(asyncio.run(main()))) == 13


def test_closing_a_session_while_requests_run_gives_each_a_result_or_a_typed_error(emu):
    async def main() -> list[object]:
        transport = YieldingTransport(emu.async_transport())
        session = aio.Session(credential=emu.async_credential(), transport=transport)
        connector = session.connector(emu.workspace_resource_id)
        calls = [
            asyncio.ensure_future(connector.query(f"print n = {i}", timespan=timedelta(days=1))) for i in range(20)
        ]
        await transport.started.wait()
        await session.close()
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), GUARD)
        with pytest.raises(ms.ClientClosedError):
            await connector.status()
        with pytest.raises(ms.ClientClosedError):
            session.connector(emu.workspace_resource_id)
        return outcomes

    outcomes = asyncio.run(main())
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert failed and all(type(o) is ms.ClientClosedError for o in failed), failed
    assert all(isinstance(o, ms.models.QueryResult) for o in outcomes if o not in failed)


@pytest.mark.parametrize("how", ["alone", "session", "mapping"])
def test_a_sync_credential_given_to_aio_is_a_typed_error_naming_it(emu, how):
    sync = emu.credential()
    with pytest.raises(ms.InvalidInputError, match=r"needs an async credential .*got the sync EmulatorCredential"):
        if how == "alone":
            aio.Connector(emu.workspace_resource_id, credential=sync)
        elif how == "session":
            aio.Session(credential=sync)
        else:
            aio.Session(credential={ms.Audience.ARM: emu.async_credential(), ms.Audience.GRAPH: sync})


def test_an_async_credential_given_to_the_sync_face_is_a_typed_error(emu):
    with pytest.raises(ms.InvalidInputError, match="EmulatorAsyncCredential"):
        ms.Connector(emu.workspace_resource_id, credential=emu.async_credential())
    with pytest.raises(ms.InvalidInputError, match="EmulatorAsyncCredential"):
        ms.Session(credential=emu.async_credential())


@pytest.mark.parametrize("first", ["sync", "async"])
def test_a_stream_resumes_on_the_other_face_from_the_same_sqlite_checkpoint(emu, tmp_path, first):
    path = tmp_path / "cp.db"

    def sync_pass(limit: int | None) -> list[str]:
        store = ms.SQLiteCheckpointStore(path)
        with ms.Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as c:
            names = []
            for item in c.incidents().clock(emu.clock.now).page(5).since(store):
                if len(names) == limit:
                    break
                names.append(item.incident.name)
                item.commit()
        store.close()
        return names

    async def async_pass(limit: int | None) -> list[str]:
        store = ms.SQLiteCheckpointStore(path)
        async with _aconnector(emu) as c:
            names = []
            async for item in c.incidents().clock(emu.clock.now).page(5).since(store):
                if len(names) == limit:
                    break
                names.append(item.incident.name)
                item.commit()
        store.close()
        return names

    if first == "sync":
        head, tail = sync_pass(6), asyncio.run(async_pass(None))
    else:
        head, tail = asyncio.run(async_pass(6)), sync_pass(None)
    again = sync_pass(None) + asyncio.run(async_pass(None))
    with ms.Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as sync:
        every = _names(sync.incidents().clock(emu.clock.now))
    assert len(head) == 6 and sorted(head + tail) == sorted(every) and again == []


def test_a_connector_used_from_a_second_event_loop_is_a_typed_error_and_its_own_loop_still_works(emu):
    """One ``asyncio.run`` per call with a connector made outside: the async client belongs to the loop it first
    ran in (httpx's pool and the token locks are bound to it), so another loop gets a typed error, not a
    RuntimeError from asyncio's internals, and no request goes out."""
    connector = _aconnector(emu, transport=YieldingTransport(emu.async_transport()))

    async def many() -> list[int]:
        results = await asyncio.gather(*(connector.query(f"print n = {i}", timespan="P1D") for i in range(3)))
        return [r.tables[0].rows[0][0] for r in results]

    with asyncio.Runner() as first:
        assert first.run(many()) == [0, 1, 2]
        sent = len(emu.requests)
        with pytest.raises(ms.EventLoopError, match="used in one event loop") as info:
            asyncio.run(many())
        assert len(emu.requests) == sent
        assert first.run(many()) == [0, 1, 2]
        first.run(connector.close())
    assert type(pickle.loads(pickle.dumps(info.value))) is ms.EventLoopError


def test_one_plan_applied_from_two_tasks_at_once_writes_once_and_both_get_its_result(emu):
    async def main() -> tuple[object, object, int, int]:
        async with _aconnector(emu, transport=YieldingTransport(emu.async_transport())) as connector:
            plan = await connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True).plan()
            before = len([r for r in emu.requests if r.is_write])
            first, second = await asyncio.gather(plan.apply(), plan.apply(), return_exceptions=True)
            return first, second, len([r for r in emu.requests if r.is_write]) - before, len(plan.changes)

    first, second, writes, changes = asyncio.run(main())
    assert isinstance(first, ms.ApplyResult) and second is first
    assert changes > 0 and writes == changes
