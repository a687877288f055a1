"""Every public entry point, one row per argument slot, and the adversarial values thrown at them.

Shared by the CI fuzz (``tests/fuzz/test_fuzz_entry_points.py``) and the long run (``bench/fuzz_entry_points.py``).
A row calls one public method with one drawn value in one argument (the others realistic) and then touches
the result the way a caller would (renders a query, iterates a stream a few items, reads ``str``), so an error a
bad value causes later, on first use, is caught too.

The rule checked (issue 10): nothing but a ``SentinelError`` subclass escapes, and a call that raises
``InvalidInputError`` sent no request (the emulator records every request it receives).
"""

from __future__ import annotations

import asyncio
import decimal
import inspect
import itertools
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

import m365sentinel as ms
from m365sentinel import aio, kql
from m365sentinel._transport import arm_request
from m365sentinel.emulator import Emulator
from m365sentinel.kql import fn

NOW = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
TENANT = "3051983e-95f9-49b7-b0f7-375aa90ad0ed"


class World:
    """One emulator and the objects a caller holds: connector, stream, incident handle, Defender side, stores."""

    def __init__(self) -> None:
        self.emu = Emulator(now=NOW, seed=3, incidents=30)
        self.tmp = Path(tempfile.mkdtemp(prefix="m365s-fuzz-"))
        self.connector = ms.Connector(
            self.emu.workspace_resource_id,
            credential=self.emu.credential(),
            transport=self.emu.transport(),
            sleep=lambda _s: None,
        )
        self.stream = self.connector.incidents().clock(self.emu.clock.now).page(5).max_items(3).prefetch(False)
        names = self.emu.incident_control().names()
        self.incident_id = names[0]
        self.handle = self.connector.incidents().get(self.incident_id)
        self.defender = self.connector.incidents().defender()
        self.memory_store = ms.MemoryCheckpointStore()
        self.query = kql.table("SecurityIncident").where(kql.col("Severity") == "High")
        # The async face (m365sentinel.aio) on the same emulator, driven by one event loop for the whole run.
        self.loop = asyncio.new_event_loop()
        self.aconnector = aio.Connector(
            self.emu.workspace_resource_id,
            credential=self.emu.async_credential(),
            transport=self.emu.async_transport(),
            sleep=lambda _s: None,
        )
        self.astream = self.aconnector.incidents().clock(self.emu.clock.now).page(5).max_items(3).prefetch(False)
        self.ahandle = self.aconnector.incidents().get(self.incident_id)
        self.adefender = self.aconnector.incidents().defender()

    def requests(self) -> int:
        return len(self.emu.requests)

    def close(self) -> None:
        self.connector.close()
        self.loop.run_until_complete(self.aconnector.close())
        self.loop.close()
        self.emu.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


@dataclass(frozen=True)
class EntryPoint:
    """``name`` (``Owner.method(slot)``), ``call(world, value)``, realistic values mixed into the draws."""

    name: str
    call: Callable[[World, Any], Any]
    valid: tuple[Any, ...] = ()
    accept: Callable[[Any], bool] | None = None  # values outside what the row tests (e.g. legitimately huge work)

    @property
    def method(self) -> str:
        return self.name.split("(")[0]


def touch(result: Any, limit: int = 3) -> None:
    """Use a result as a caller would: render queries, iterate a few items, format it."""
    if hasattr(result, "__aiter__"):  # the async face: iterated by ``atouch``
        pass
    elif isinstance(result, kql.Query):
        result.to_kql()
    elif isinstance(result, Iterator | ms.IncidentStream):
        for item in itertools.islice(result, limit):
            str(item)
    str(result)


async def atouch(result: Any, limit: int = 3) -> Any:
    """``touch`` for the async face: await a result, iterate a few items of an async iterator (then close it)."""
    if inspect.isawaitable(result):
        result = await result
    if hasattr(result, "__aiter__"):
        run = result.__aiter__()
        try:
            for _ in range(limit):
                str(await run.__anext__())
        except StopAsyncIteration:
            pass
        finally:
            if hasattr(run, "aclose"):
                await run.aclose()
    touch(result)
    return result


# --- adversarial values ---------------------------------------------------------------------------------------
_NASTY_TEXT = (
    "",
    " ",
    "\t",
    "\ud800",
    "a\udfffb",
    "a\x00b",
    "\x1b[31m",
    "a\nb",
    "\r\n",
    "\x7f",
    "\u202e",
    "'",
    '"',
    "\\",
    "' or 1==1 //",
    "../../x",
    "%2e%2e",
    "a/b",
    "a?b#c",
    "😀",
    "nan",
    "inf",
    "-1",
    "0",
    "1e309",
    "P14D",
    "PT-1S",
    "2025-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.9999999Z",
    "x" * 5000,
    "Closed",
    "TruePositive",
    "AuditLogs",
)


class _Weird:
    def __repr__(self) -> str:
        return "<weird>"


def adversarial() -> st.SearchStrategy[Any]:
    """Values a caller may pass by mistake: wrong types, edge numbers, control characters, lone surrogates."""
    text = st.one_of(
        st.sampled_from(_NASTY_TEXT),
        st.text(max_size=12),
        st.text(
            st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=["Cc", "Cs", "Zl", "Cf"]), max_size=4
        ),
    )
    numbers = st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([0, -1, 1, 2**31, 2**63, 10**30]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([math.inf, -math.inf, math.nan, 0.0, -0.0, 1e-320]),
        st.sampled_from([decimal.Decimal("NaN"), decimal.Decimal("1e999"), complex(1, 1)]),
    )
    times = st.sampled_from(
        [
            datetime(2025, 1, 1),  # naive
            datetime.min.replace(tzinfo=UTC),
            datetime.max.replace(tzinfo=UTC),
            datetime(2025, 11, 20, tzinfo=UTC),
            date(2025, 1, 1),
            timedelta.max,
            timedelta.min,
            timedelta(0),
            timedelta(days=-1),
            timedelta(days=14),
            timedelta(microseconds=1),
        ]
    )
    odd = st.sampled_from(
        [None, True, False, b"bytes", bytearray(b"x"), object(), _Weird(), Ellipsis, int, print, uuid.UUID(int=0)]
    )
    scalar = st.one_of(odd, text, numbers, times)
    containers = st.one_of(
        st.lists(scalar, max_size=3),
        st.lists(scalar, max_size=3).map(tuple),
        st.dictionaries(text, scalar, max_size=3),
        st.frozensets(st.one_of(text, st.integers()), max_size=2),
        st.lists(scalar, max_size=2).map(iter),
    )
    return st.one_of(scalar, containers)


def values_for(ep: EntryPoint) -> st.SearchStrategy[Any]:
    strategies = [adversarial() if ep.accept is None else adversarial().filter(ep.accept)]
    if ep.valid:
        strategies.append(st.sampled_from(ep.valid))
    return st.one_of(*strategies)


def _small(v: Any) -> bool:
    """Not a legitimately huge amount of work (a count of 10**30 is a valid request no machine finishes)."""
    return not (isinstance(v, int) and not isinstance(v, bool) and v > 50)


# --- the catalogue --------------------------------------------------------------------------------------------
def _ws(w: World) -> str:
    return w.emu.workspace_resource_id


def _connector(w: World, **kw: Any) -> Any:
    args: dict[str, Any] = {"credential": w.emu.credential(), "transport": w.emu.transport()}
    args.update(kw)
    with ms.Connector(args.pop("workspace", _ws(w)), **args) as c:
        return c.incidents().get(w.incident_id).get()


def _session(w: World, **kw: Any) -> Any:
    args: dict[str, Any] = {"credential": w.emu.credential(), "transport": w.emu.transport()}
    args.update(kw)
    with ms.Session(**args) as s:
        return s.connector(_ws(w)).incidents().get(w.incident_id).get()


def _session_connector(w: World, **kw: Any) -> Any:
    with ms.Session(credential=w.emu.credential(), transport=w.emu.transport()) as s:
        return s.connector(kw.pop("workspace", _ws(w)), **kw).incidents().get(w.incident_id).get()


def _fleet(w: World, operation: Any = "status", **kw: Any) -> Any:
    with ms.Session(credential=w.emu.credential(), transport=w.emu.transport()) as s:
        fleet = ms.Fleet(kw.pop("workspaces", [_ws(w)]), session=s, **kw)
        return fleet.incidents_and_alerts().run(operation).to_json()


def _fleet_incidents(w: World, apply: Callable[[Any], Any]) -> None:
    with ms.Session(credential=w.emu.credential(), transport=w.emu.transport()) as s:
        run = apply(ms.Fleet([_ws(w)], session=s).incidents()).run()
        with run:
            touch(run)


def _fleet_query(w: World, **kw: Any) -> Any:
    args: dict[str, Any] = {"query": "SecurityIncident | take 1", "timespan": "P1D", **kw}
    with ms.Session(credential=w.emu.credential(), transport=w.emu.transport()) as s:
        return str(ms.Fleet([_ws(w)], session=s).query(args.pop("query"), **args))


def _stream(w: World, apply: Callable[[Any], Any]) -> None:
    touch(apply(w.stream))


def _follow(w: World, **kw: Any) -> None:
    args: dict[str, Any] = {"interval": 0, "stop": lambda: False, "sleep": lambda _s: None}
    args.update(kw)
    touch(w.stream.follow(**args), limit=4)


def _inside(w: World, path: Any) -> Any:
    """A drawn path made relative to the world's temporary folder (the fuzz writes nowhere else); other values
    as they are."""
    if isinstance(path, str) and path != ":memory:":
        return w.tmp / ("db-" + path.replace("/", "_"))
    return path


def _no_port(v: Any) -> bool:
    """Not a real port number (the fuzz binds only port 0: any free one)."""
    return not (isinstance(v, int) and 1 <= v <= 65535)


_SCALAR_FUNCTIONS = ("isempty", "isnotempty", "isnull", "isnotnull", "parse_json", "todatetime", "tolower", "tostring")
_AGGREGATES = ("avg", "max", "min", "sum", "make_list", "countif", "arg_min", "coalesce", "toupper")


def _one_argument_functions() -> list[EntryPoint]:
    """``fn.<name>(value)`` for the functions of one argument, in a print or a summarize."""
    rows = [
        EntryPoint(f"fn.{n}(value)", lambda w, v, n=n: kql.print_(x=getattr(fn, n)(v)), ("Title", 1))
        for n in _SCALAR_FUNCTIONS
    ]
    rows += [
        EntryPoint(f"fn.{n}(value)", lambda w, v, n=n: w.query.summarize(x=getattr(fn, n)(v)), ("IncidentNumber",))
        for n in _AGGREGATES
    ]
    return rows


def _bare(use: Callable[[Emulator], Any]) -> Any:
    """``use`` on a fresh emulator without a dataset, closed afterwards."""
    emu = Emulator(now=NOW, dataset=False)
    try:
        return use(emu)
    finally:
        emu.close()


def _commit_first(w: World, store: Any) -> None:
    for item in w.stream.since(store):
        item.commit()
        break


def _run_checkpoint(w: World) -> None:
    run = w.stream.run()
    touch(run)
    run.checkpoint.dumps()


def _cas(store: Any, v: Any, which: str) -> Any:
    cp = ms.Checkpoint.starting_at(NOW)
    loaded = store.load()
    version = loaded.version if loaded else None
    return store.compare_and_swap(v, cp) if which == "expected" else store.compare_and_swap(version, v)


BLOB_URLS = ("https://myaccount.blob.core.windows.net", "http://127.0.0.1:10000/devstoreaccount1")


def _blob(cls: Any, url: Any, container: Any, blob: Any = "c.json", **kw: Any) -> None:
    store = cls(url, container, blob, **kw)
    closing = store.close()
    if closing is not None:  # the async store
        asyncio.run(closing)


GUIDS = ("d0cfe6b2-9ac0-4464-9919-dccaee2e48c0", "{D0CFE6B2-9AC0-4464-9919-DCCAEE2E48C0}")
AWARE = (datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 11, 19, tzinfo=UTC))
TABLES = ("DeviceProcessEvents", "SecurityIncident", "DeviceEvents")
COLS = ("Severity", "Title", "TimeGenerated", "IncidentNumber")
RULE_YAML = (
    "id: 5c3f1e2a-0000-4000-8000-000000000001\nname: Fuzz rule\nseverity: Low\nkind: NRT\n"
    "query: DeviceEvents | take 1\nversion: 1.0.0\n"
)
SPANS = (timedelta(days=14), "P14D", (AWARE[0], AWARE[1]))
EMU_WS = (  # the emulator's default workspace
    "/subscriptions/53915955-482e-4f83-8388-c2010e69008d/resourceGroups/rg-sentinel/providers/"
    "Microsoft.OperationalInsights/workspaces/law-sentinel"
)
_SPEC = arm_request(ms.Cloud.resolve("AzureCloud"), "GET", EMU_WS, "2023-09-01")


def _handle_rows(prefix: str, handle: Callable[[World], Any]) -> list[EntryPoint]:
    """The ``IncidentHandle`` rows, one table for both faces (``prefix`` "aio." and the async handle)."""
    E = EntryPoint
    update = (  # keyword, realistic values, the other keywords of the call
        ("title", ("New title",), {}),
        ("description", ("text\nmore",), {}),
        ("severity", ("High", "informational"), {}),
        ("status", ("Active", "New"), {}),
        ("owner", ("a@b.example", GUIDS[0], None), {}),
        ("labels", (("VIP",), "VIP"), {}),
        ("add_labels", (("VIP",),), {}),
        ("remove_labels", (("VIP",),), {}),
        ("max_attempts", (1, 4), {"title": "T"}),
        ("base", (), {"title": "T"}),
        ("mirror_to_defender", (), {"title": "T"}),
    )
    close = (
        ("classification", ("Undetermined", "truepositive"), {}),
        ("reason", ("InaccurateData",), {"classification": "FalsePositive"}),
        ("comment", (), {"classification": "Undetermined"}),
    )
    name = f"{prefix}IncidentHandle"
    return [
        *(
            E(f"{name}.update({k})", lambda w, v, k=k, more=more: handle(w).update(**more, **{k: v}), ok)
            for k, ok, more in update
        ),
        *(
            E(f"{name}.close({k})", lambda w, v, k=k, more=more: handle(w).close(**more, **{k: v}), ok)
            for k, ok, more in close
        ),
        E(f"{name}.add_comment(message)", lambda w, v: handle(w).add_comment(v), ("looked at it",)),
        E(f"{name}.add_comment(comment_id)", lambda w, v: handle(w).add_comment("m", comment_id=v), GUIDS),
        E(f"{name}.alerts()", lambda w, v: handle(w).alerts()),
        E(f"{name}.entities()", lambda w, v: handle(w).entities()),
        E(f"{name}.comments()", lambda w, v: handle(w).comments()),
    ]


def catalogue() -> tuple[EntryPoint, ...]:
    """Every public entry point (one row per argument slot)."""
    E = EntryPoint
    ci = ms.Connector
    rows = [
        # --- m365sentinel top level -------------------------------------------------------------------------
        E("Connector(workspace)", lambda w, v: _connector(w, workspace=v)),
        E("Connector(credential)", lambda w, v: _connector(w, credential=v), accept=lambda v: v is not None),
        E("Connector(tenant_id)", lambda w, v: _connector(w, tenant_id=v), GUIDS),
        E("Connector(cloud)", lambda w, v: _connector(w, cloud=v), ("AzureCloud", "AzureUSGovernment", "AzureChina")),
        E("Connector(graph)", lambda w, v: _connector(w, graph=v), ("Global", "GCC", "DoD")),
        E("Connector(api_versions)", lambda w, v: _connector(w, api_versions=v)),
        E("Connector(retry)", lambda w, v: _connector(w, retry=v)),
        E("Connector(timeout)", lambda w, v: _connector(w, timeout=v), (1, 30.0)),
        E("Connector(transport)", lambda w, v: ci(_ws(w), credential=w.emu.credential(), transport=v)),
        E("Connector(sleep)", lambda w, v: _connector(w, sleep=v)),
        E("Session(credential)", lambda w, v: _session(w, credential=v), accept=lambda v: v is not None),
        E("Session(tenant_id)", lambda w, v: _session(w, tenant_id=v), GUIDS),
        E("Session(cloud)", lambda w, v: _session(w, cloud=v), ("AzureCloud", "AzureUSGovernment")),
        E("Session(clock)", lambda w, v: _session(w, clock=v), (lambda: 1_900_000_000.0,)),
        E("Session.connector(workspace)", lambda w, v: _session_connector(w, workspace=v)),
        E("Session.connector(tenant_id)", lambda w, v: _session_connector(w, tenant_id=v), GUIDS),
        E("Session.connector(api_versions)", lambda w, v: _session_connector(w, api_versions=v)),
        E("Fleet(workspaces)", lambda w, v: _fleet(w, workspaces=v)),
        E("Fleet(concurrency)", lambda w, v: _fleet(w, concurrency=v), (1, 4)),
        E("Fleet(credentials)", lambda w, v: _fleet(w, credentials=v), ({},)),
        E("Fleet(progress)", lambda w, v: _fleet(w, progress=v), (None, lambda d, t, r: None)),
        E("Fleet.run(operation)", lambda w, v: _fleet(w, operation=v), ("status", "plan")),
        E("Fleet.query(query)", lambda w, v: _fleet_query(w, query=v), ("SecurityIncident | take 1",)),
        E("Fleet.query(timespan)", lambda w, v: _fleet_query(w, timespan=v), ("P1D",)),
        E("Fleet.query(batch_size)", lambda w, v: _fleet_query(w, batch_size=v), (1, 10)),
        E("parse_workspaces(text)", lambda w, v: ms.parse_workspaces(v)),
        E("Fleet.incidents().since(stores)", lambda w, v: _fleet_incidents(w, lambda f: f.since(v)), (None,)),
        E("Fleet.incidents().buffer(items)", lambda w, v: _fleet_incidents(w, lambda f: f.buffer(v)), (1, 100)),
        E("Fleet.incidents().max_items(n)", lambda w, v: _fleet_incidents(w, lambda f: f.max_items(v)), (1, 2)),
        E("WorkspaceId.parse(value)", lambda w, v: str(ms.WorkspaceId.parse(v))),
        E("Cloud.resolve(name)", lambda w, v: ms.Cloud.resolve(v), ("AzureCloud", "azureusgovernment")),
        E("Cloud.resolve(graph)", lambda w, v: ms.Cloud.resolve("AzureCloud", graph=v), ("GCC", "Global")),
        E(
            "Cloud.custom(arm)",
            lambda w, v: ms.Cloud.custom(arm=v, log_analytics="https://la.example", graph="https://g.example"),
            ("https://arm.example", "http://127.0.0.1:8080", "http://[::1]:1"),
        ),
        E(
            "Cloud.custom(name)",
            lambda w, v: ms.Cloud.custom(
                arm="https://a.example", log_analytics="https://l.example", graph="https://g.example", name=v
            ),
        ),
        E("RetryPolicy(max_attempts)", lambda w, v: ms.RetryPolicy(max_attempts=v), (1, 4, 10)),
        E("RetryPolicy(max_retry_after)", lambda w, v: ms.RetryPolicy(max_retry_after=v), (0, 60.0)),
        E("RetryPolicy(backoff_initial)", lambda w, v: ms.RetryPolicy(backoff_initial=v), (0.5,)),
        E("RetryPolicy(backoff_max)", lambda w, v: ms.RetryPolicy(backoff_max=v), (8.0,)),
        E("RetryPolicy(jitter)", lambda w, v: ms.RetryPolicy(jitter=v), (0.5,)),
        E("ApiVersions(incidents)", lambda w, v: ms.ApiVersions(incidents=v), ("2025-09-01", "2025-10-01-preview")),
        E("ApiVersions(security_insights_preview)", lambda w, v: ms.ApiVersions(security_insights_preview=v)),
        E("HuntingTable.from_name(name)", lambda w, v: ms.HuntingTable.from_name(v), TABLES),
        E("HuntingTable.col(name)", lambda w, v: ms.HuntingTable.DeviceEvents.col(v), ("ActionType",)),
        E("provider_names()", lambda w, v: ms.provider_names()),
        # Chart writers: every draw is refused before drawing (no valid values: matplotlib would make rows slow).
        E("write_png(report)", lambda w, v: ms.write_png(v, w.tmp / "x.png")),
        E(
            "write_svg(path)",
            lambda w, v: ms.write_svg(ms.VerificationReport(days=14, lines=()), v),
            accept=lambda v: not (isinstance(v, str | os.PathLike) and os.fspath(v).lower().endswith(".svg")),
        ),
        E("Checkpoint.from_json(data)", lambda w, v: ms.Checkpoint.from_json(v), ('{"v":1}', {"v": 1})),
        E("Checkpoint.starting_at(when)", lambda w, v: ms.Checkpoint.starting_at(v), AWARE),
        E("FileCheckpointStore(path)", lambda w, v: ms.FileCheckpointStore(v).load()),
        E("SQLiteCheckpointStore(path)", lambda w, v: ms.SQLiteCheckpointStore(_inside(w, v)).close()),
        E(
            "MemoryCheckpointStore.compare_and_swap(expected)",
            lambda w, v: _cas(ms.MemoryCheckpointStore(), v, "expected"),
        ),
        E("MemoryCheckpointStore.compare_and_swap(checkpoint)", lambda w, v: _cas(ms.MemoryCheckpointStore(), v, "cp")),
        E(
            "FileCheckpointStore.compare_and_swap(checkpoint)",
            lambda w, v: _cas(ms.FileCheckpointStore(w.tmp / "cp.json"), v, "cp"),
        ),
        E(
            "SQLiteCheckpointStore.compare_and_swap(expected)",
            lambda w, v: _cas(ms.SQLiteCheckpointStore(w.tmp / "cp.db"), v, "expected"),
        ),
        # Blob stores (issue 14): constructed and closed only, no request (a valid value would reach out).
        E("BlobCheckpointStore(account_url)", lambda w, v: _blob(ms.BlobCheckpointStore, v, "cp", "c.json"), BLOB_URLS),
        E("BlobCheckpointStore(container)", lambda w, v: _blob(ms.BlobCheckpointStore, BLOB_URLS[0], v, "c.json")),
        E("BlobCheckpointStore(blob)", lambda w, v: _blob(ms.BlobCheckpointStore, BLOB_URLS[0], "cp", v)),
        E(
            "BlobCheckpointStore(lease_seconds)",
            lambda w, v: _blob(ms.BlobCheckpointStore, BLOB_URLS[0], "cp", "c.json", lease_seconds=v),
            (None, 15, 60),
        ),
        E(
            "BlobCheckpointStore.from_connection_string(connection_string)",
            lambda w, v: ms.BlobCheckpointStore.from_connection_string(v, "cp").close(),
            ("UseDevelopmentStorage=true",),
        ),
        E("AsyncBlobCheckpointStore(container)", lambda w, v: _blob(ms.AsyncBlobCheckpointStore, BLOB_URLS[0], v)),
        # --- Connector: fluent desired state, plan/apply, reads ---------------------------------------------
        E(
            "Connector.incidents_and_alerts(turn_off)",
            lambda w, v: w.connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=v).plan(),
            (True, False),
        ),
        E("Connector.incidents_and_alerts(alerts)", lambda w, v: w.connector.incidents_and_alerts(alerts=v).plan()),
        E("Connector.entities(active_directory)", lambda w, v: w.connector.entities(active_directory=v).plan()),
        E(
            "Connector.entities(ueba_data_sources)",
            lambda w, v: w.connector.entities(ueba_data_sources=v).plan(),
            (("AuditLogs",), ("SigninLogs", "AzureActivity"), "AuditLogs"),
        ),
        E("Connector.events(tables)", lambda w, v: w.connector.events(v).plan(), TABLES),
        E(
            "Connector.events(retention_days)",
            lambda w, v: w.connector.events("DeviceEvents", retention_days=v).plan(),
            (30, 90),
        ),
        E(
            "Connector.events(total_retention_days)",
            lambda w, v: w.connector.events("DeviceEvents", total_retention_days=v).plan(),
            (365,),
        ),
        E("Connector.query(query)", lambda w, v: w.connector.query(v, timespan=timedelta(days=1)), ("Usage | take 1",)),
        E("Connector.query(timespan)", lambda w, v: w.connector.query("print 1", timespan=v), SPANS),
        E(
            "Connector.run_hunting_query(kql)",
            lambda w, v: w.connector.run_hunting_query(v, timespan=timedelta(days=1)),
            ("DeviceEvents | take 1",),
        ),
        E(
            "Connector.run_hunting_query(timespan)",
            lambda w, v: w.connector.run_hunting_query("print 1", timespan=v),
            SPANS,
        ),
        E("Connector.solution()", lambda w, v: w.connector.solution().plan()),
        E("Connector.analytics_rules(rules)", lambda w, v: w.connector.analytics_rules(v).plan(), (RULE_YAML,)),
        E(
            "Connector.analytics_rules(enabled)",
            lambda w, v: w.connector.analytics_rules(RULE_YAML, enabled=v),
            (True, False),
        ),
        E(
            "Connector.list_rule_templates(connector_id)",
            lambda w, v: w.connector.list_rule_templates(connector_id=v),
            ("MicrosoftThreatProtection", "AWS"),
        ),
        E("AnalyticsRule.from_yaml(text)", lambda w, v: ms.AnalyticsRule.from_yaml(v), (RULE_YAML,)),
        E("RuleTemplate.from_json(item)", lambda w, v: ms.RuleTemplate.from_json(v)),
        E("sample_queries()", lambda w, v: ms.sample_queries()),
        E("Connector.verify(days)", lambda w, v: w.connector.verify(days=v), (1, 14)),
        E("Connector.status()", lambda w, v: w.connector.status()),
        E("Connector.plan().apply()", lambda w, v: w.connector.incidents_and_alerts().plan().apply()),
        E("Connector.apply()", lambda w, v: w.connector.entities().apply()),
        E("Connector.disconnect()", lambda w, v: w.connector.disconnect()),
        E("Connector.incidents()", lambda w, v: touch(w.connector.incidents().page(5).max_items(2))),
        E("Connector.list_tables()", lambda w, v: w.connector.list_tables()),
        # --- IncidentStream: fluent, terminal -------------------------------------------------------------
        E("IncidentStream.since(checkpoint)", lambda w, v: _stream(w, lambda s: s.since(v)), AWARE),
        E(
            "IncidentStream.since(initial)",
            lambda w, v: _stream(w, lambda s: s.since(ms.MemoryCheckpointStore(), initial=v)),
            AWARE,
        ),
        E("IncidentStream.with_alerts(source)", lambda w, v: _stream(w, lambda s: s.with_alerts(source=v))),
        E("IncidentStream.with_entities(source)", lambda w, v: _stream(w, lambda s: s.with_entities(source=v))),
        E("IncidentStream.severity(values)", lambda w, v: _stream(w, lambda s: s.severity(v)), ("High", "low")),
        E("IncidentStream.status(values)", lambda w, v: _stream(w, lambda s: s.status(v)), ("New", "Active")),
        E("IncidentStream.owner(values)", lambda w, v: _stream(w, lambda s: s.owner(v)), ("a@b.example",)),
        E("IncidentStream.labels(values)", lambda w, v: _stream(w, lambda s: s.labels(v)), ("VIP",)),
        E("IncidentStream.provider(names)", lambda w, v: _stream(w, lambda s: s.provider(v)), ("Microsoft XDR",)),
        E(
            "IncidentStream.created_between(start)",
            lambda w, v: _stream(w, lambda s: s.created_between(v, None)),
            AWARE,
        ),
        E(
            "IncidentStream.modified_between(end)",
            lambda w, v: _stream(w, lambda s: s.modified_between(None, v)),
            AWARE,
        ),
        E("IncidentStream.max_items(n)", lambda w, v: _stream(w, lambda s: s.max_items(v)), (1, 2)),
        E("IncidentStream.page(size)", lambda w, v: _stream(w, lambda s: s.page(v)), (1, 1000)),
        E("IncidentStream.lag(value)", lambda w, v: _stream(w, lambda s: s.lag(v)), (timedelta(minutes=5),)),
        E("IncidentStream.prefetch(enabled)", lambda w, v: _stream(w, lambda s: s.prefetch(v)), (True,)),
        E("IncidentStream.clock(now)", lambda w, v: _stream(w, lambda s: s.clock(v)), (lambda: NOW,)),
        E("IncidentStream.follow(interval)", lambda w, v: _follow(w, interval=v), (0, 0.5)),
        E("IncidentStream.follow(stop)", lambda w, v: _follow(w, stop=v)),
        E("IncidentStream.follow(sleep)", lambda w, v: _follow(w, sleep=v)),
        E("StreamedIncident.commit()", lambda w, v: _commit_first(w, ms.MemoryCheckpointStore())),
        E("IncidentRun.checkpoint", lambda w, v: _run_checkpoint(w)),
        E("Checkpoint.dumps()", lambda w, v: ms.Checkpoint.from_json(ms.Checkpoint.starting_at(NOW).dumps())),
        E("IncidentStream.get(incident_id)", lambda w, v: w.connector.incidents().get(v).get(), GUIDS),
        E("IncidentStream.reconcile(grace)", lambda w, v: w.stream.reconcile(grace=v), (timedelta(minutes=1),)),
        E("IncidentStream.reconcile(repair)", lambda w, v: w.stream.reconcile(repair=v), (False,)),
        # --- IncidentHandle ---------------------------------------------------------------------------------
        *_handle_rows("", lambda w: w.handle),
        # --- Defender (Graph) side ----------------------------------------------------------------------------
        E("DefenderIncidents.incidents(since)", lambda w, v: touch(w.defender.incidents(since=v)), AWARE),
        E("DefenderIncidents.incidents(with_alerts)", lambda w, v: touch(w.defender.incidents(with_alerts=v))),
        E("DefenderIncidents.alerts(since)", lambda w, v: touch(w.defender.alerts(since=v)), AWARE),
        E("DefenderIncidents.get(incident_id)", lambda w, v: w.defender.get(v), ("1", "900001")),
        E("DefenderIncidents.patch(incident_id)", lambda w, v: w.defender.patch(v, {"status": "active"}), ("1",)),
        E("DefenderIncidents.patch(body)", lambda w, v: w.defender.patch("900001", v), ({"status": "active"},)),
        # --- kql ----------------------------------------------------------------------------------------------
        E("kql.table(name)", lambda w, v: kql.table(v), TABLES),
        E("kql.col(name)", lambda w, v: kql.table("SecurityIncident").where(kql.col(v) == 1), COLS),
        E("kql.lit(value)", lambda w, v: kql.print_(x=kql.lit(v))),
        E("kql.literal(value)", lambda w, v: kql.literal(v), ("St. John's", 1, NOW)),
        E("kql.null(kind)", lambda w, v: kql.print_(x=kql.null(v)), ("long", "string")),
        E("kql.var(name)", lambda w, v: kql.print_(x=kql.var(v))),
        E("kql.left(name)", lambda w, v: w.query.join(kql.table("SecurityAlert"), kql.left(v) == kql.right("x"))),
        E("kql.raw_unsafe(text)", lambda w, v: kql.print_(x=kql.raw_unsafe(v))),
        E("kql.raw_query_unsafe(text)", lambda w, v: kql.raw_query_unsafe(v)),
        E("kql.union(queries)", lambda w, v: kql.union(v), TABLES),
        E("kql.union(withsource)", lambda w, v: kql.union("SecurityIncident", withsource=v)),
        E("kql.datatable(columns)", lambda w, v: kql.datatable(v, []), ((("A", "string"),),)),
        E("kql.datatable(rows)", lambda w, v: kql.datatable([("A", "string")], v), ((("x",),),)),
        E("kql.print_(items)", lambda w, v: kql.print_(v)),
        E("kql.function(parameters)", lambda w, v: w.query.let("f", kql.function(v, kql.col("x")))),
        E("kql.quote_identifier(name)", lambda w, v: kql.quote_identifier(v), ("a b", "1day")),
        E("kql.parse_timespan(text)", lambda w, v: kql.parse_timespan(v), ("1d", "00:05:00")),
        E("kql.schema_for(table)", lambda w, v: kql.schema_for(v), TABLES),
        E("kql.range_(step)", lambda w, v: kql.range_("x", 1, 10, v), (1, timedelta(days=1))),
        E("kql.timechart(days)", lambda w, v: kql.timechart(w.query, days=v), (14,)),
        E("kql.timechart(step)", lambda w, v: kql.timechart(w.query, days=14, step=v), ("1d", timedelta(days=1))),
        E("kql.timechart(legend)", lambda w, v: kql.timechart(w.query, days=14, legend=v), ("Events",)),
        E("kql.incident_timechart(providers)", lambda w, v: kql.incident_timechart(v), (["Microsoft XDR"],)),
        E("kql.alert_timechart(products)", lambda w, v: kql.alert_timechart(v), (["Microsoft Defender for Endpoint"],)),
        E("kql.table_timechart(table_name)", lambda w, v: kql.table_timechart(v), TABLES),
        E("kql.incidents_by_provider(names)", lambda w, v: kql.incidents_by_provider(v), (["x"],)),
        E("kql.alerts_by_product(names)", lambda w, v: kql.alerts_by_product(v), (["x"],)),
        E("kql.last_data_received(tables)", lambda w, v: kql.last_data_received(v), (list(TABLES),)),
        E("kql.daily_volume(days)", lambda w, v: kql.daily_volume(["DeviceEvents"], days=v), (14,)),
        E("kql.billable_volume(tables)", lambda w, v: kql.billable_volume(v), (None, ["DeviceEvents"])),
        E("kql.check_portability(query)", lambda w, v: kql.check_portability(v), ("DeviceEvents | take 1",)),
        E(
            "kql.check_portability(selected_tables)",
            lambda w, v: kql.check_portability("DeviceEvents | take 1", selected_tables=v),
            (["DeviceEvents"],),
        ),
        E("Query.where(predicate)", lambda w, v: w.query.where(v), (kql.col("Title") == "x",)),
        E("Query.extend(named)", lambda w, v: w.query.extend(x=v), (1, "a")),
        E("Query.project(items)", lambda w, v: w.query.project(v), COLS),
        E("Query.project_away(names)", lambda w, v: w.query.project_away(v), COLS),
        E("Query.project_rename(pairs)", lambda w, v: w.query.project_rename(v), ({"A": "Title"},)),
        E("Query.summarize(by)", lambda w, v: w.query.summarize(fn.count(), by=v), COLS),
        E("Query.sort_by(keys)", lambda w, v: w.query.sort_by(v), COLS),
        E("Query.sort_by(order)", lambda w, v: w.query.sort_by("Title", order=v), ("asc", "desc")),
        E("Query.top(n)", lambda w, v: w.query.top(v, "Title"), (1, 10)),
        E("Query.take(n)", lambda w, v: w.query.take(v), (1, 10)),
        E("Query.distinct(items)", lambda w, v: w.query.distinct(v), COLS),
        E("Query.mv_expand(items)", lambda w, v: w.query.mv_expand(v), ("Labels",)),
        E("Query.parse(pattern)", lambda w, v: w.query.parse("Title", v), ("x",)),
        E("Query.join(right)", lambda w, v: w.query.join(v, "IncidentNumber"), (kql.table("SecurityAlert"),)),
        E("Query.join(on)", lambda w, v: w.query.join(kql.table("SecurityIncident"), v), COLS),
        E(
            "Query.join(kind)",
            lambda w, v: w.query.join(kql.table("SecurityIncident"), "Title", kind=v),
            ("leftouter",),
        ),
        E("Query.lookup(on)", lambda w, v: w.query.lookup(kql.table("SecurityIncident"), v), COLS),
        E("Query.union(queries)", lambda w, v: w.query.union(v), TABLES),
        E("Query.let(name)", lambda w, v: w.query.let(v, 1), ("Threshold",)),
        E("Query.let(value)", lambda w, v: w.query.let("x", v), (1, kql.table("SecurityAlert"))),
        E("Query.with_timespan(timespan)", lambda w, v: w.query.with_timespan(v), (timedelta(days=1),)),
        E("Query.with_columns(columns)", lambda w, v: w.query.with_columns(v), ((("A", "string"),),)),
        E("Query.render(visualization)", lambda w, v: w.query.render(v), ("timechart", "barchart")),
        E("Query.render(properties)", lambda w, v: w.query.render("timechart", title=v), ("T",)),
        E("Query.pipe_raw_unsafe(text)", lambda w, v: w.query.pipe_raw_unsafe(v), ("take 1",)),
        E("Query.col(name)", lambda w, v: w.query.col(v), COLS),
        E("Expr.__eq__(other)", lambda w, v: w.query.where(kql.col("Title") == v), ("x",)),
        E("Expr.__lt__(other)", lambda w, v: w.query.where(kql.col("TimeGenerated") < v), AWARE),
        E("Expr.has(term)", lambda w, v: w.query.where(kql.col("Title").has(v)), ("x",)),
        E("Expr.matches_regex(pattern)", lambda w, v: w.query.where(kql.col("Title").matches_regex(v)), ("a.*",)),
        E("Expr.in_(values)", lambda w, v: w.query.where(kql.col("Title").in_(v)), (["a", "b"],)),
        E("Expr.between(low)", lambda w, v: w.query.where(kql.col("IncidentNumber").between(v, 10)), (1,)),
        E("Expr.as_(name)", lambda w, v: w.query.project(kql.col("Title").as_(v)), ("T",)),
        E("Expr.asc(nulls)", lambda w, v: w.query.sort_by(kql.col("Title").asc(v)), ("first", "last")),
        E("Expr.__and__(other)", lambda w, v: w.query.where((kql.col("Title") == "x") & v)),
        E("Expr.__add__(other)", lambda w, v: w.query.extend(x=kql.col("IncidentNumber") + v), (1,)),
        E("fn.call(name)", lambda w, v: kql.print_(x=fn.call(v, 1)), ("strlen",)),
        E("fn.ago(span)", lambda w, v: kql.print_(x=fn.ago(v)), (timedelta(days=1), "1d")),
        E("fn.bin(size)", lambda w, v: kql.print_(x=fn.bin(kql.lit(NOW), v)), (timedelta(days=1),)),
        E("fn.format_datetime(fmt)", lambda w, v: kql.print_(x=fn.format_datetime(kql.lit(NOW), v)), ("yyyy",)),
        E("fn.arg_max(by)", lambda w, v: w.query.summarize(fn.arg_max(v, "*")), ("TimeGenerated",)),
        E("fn.percentile(pct)", lambda w, v: w.query.summarize(fn.percentile("IncidentNumber", v)), (50, 99.9)),
        E("fn.strcat(values)", lambda w, v: kql.print_(x=fn.strcat(v, "a")), ("a",)),
        E("fn.iff(condition)", lambda w, v: kql.print_(x=fn.iff(v, 1, 2)), (kql.lit(True),)),
        E("fn.now(offset)", lambda w, v: kql.print_(x=fn.now(v)), (timedelta(hours=-1),)),
        E("fn.bin_at(fixed_point)", lambda w, v: kql.print_(x=fn.bin_at(kql.lit(NOW), "1d", v)), (NOW,)),
        E("fn.dcount(value)", lambda w, v: w.query.summarize(fn.dcount(v)), COLS),
        E("fn.make_set(value)", lambda w, v: w.query.summarize(fn.make_set(v)), COLS),
        *_one_argument_functions(),
        E("kql.schema_registry()", lambda w, v: kql.schema_registry()),
        # Detection engineering (issue 11): the translator and the operators added with it.
        E("kql.to_sentinel(query)", lambda w, v: kql.to_sentinel(v), ("DeviceEvents | where Timestamp > ago(1d)",)),
        E("kql.to_defender(query)", lambda w, v: kql.to_defender(v), ("DeviceEvents | take 1",)),
        E("kql.materialize(query)", lambda w, v: w.query.let("m", kql.materialize(v)), (kql.table("SecurityAlert"),)),
        E("kql.toscalar(query)", lambda w, v: kql.print_(x=kql.toscalar(v)), (kql.table("SecurityAlert").count(),)),
        E("kql.nested(count)", lambda w, v: w.query.top_nested(kql.nested(v, "Title", fn.count())), (3,)),
        E("kql.nested(of)", lambda w, v: w.query.top_nested(kql.nested(3, v, fn.count())), COLS),
        E("Query.top_nested(levels)", lambda w, v: w.query.top_nested(v)),
        E("Query.invoke(function)", lambda w, v: w.query.invoke(v), ("f",)),
        E("kql.scan_step(name)", lambda w, v: w.query.scan(kql.scan_step(v, kql.col("Title") == "x")), ("s1",)),
        E("Query.scan(steps)", lambda w, v: w.query.scan(v)),
        E("Query.mv_expand(types)", lambda w, v: w.query.mv_expand("Labels", types=v), ({"Labels": "string"},)),
        E("Query.project_reorder(names)", lambda w, v: w.query.project_reorder(v), COLS),
        E("Query.sample(n)", lambda w, v: w.query.sample(v), (5,)),
        E("Query.evaluate(plugin)", lambda w, v: w.query.evaluate(v), ("bag_unpack",)),
        E(
            "Query.serialize(named)",
            lambda w, v: w.query.serialize(n=v),
            (fn.row_number(),) if hasattr(fn, "row_number") else (),
        ),
        E("HuntingTable.query()", lambda w, v: ms.HuntingTable.from_name("DeviceEvents").query().where(kql.lit(v))),
        # --- models -------------------------------------------------------------------------------------------
        E("models.parse_datetime(text)", lambda w, v: ms.models.parse_datetime(v), ("2025-01-01T00:00:00Z",)),
        E("models.parse_timespan(text)", lambda w, v: ms.models.parse_timespan(v), ("00:05:00", "1.00:00:00")),
        E("models.format_datetime(value)", lambda w, v: ms.models.format_datetime(v), AWARE),
        E("models.format_iso_duration(value)", lambda w, v: ms.models.format_iso_duration(v), (timedelta(days=1),)),
        E("models.QueryResult.from_json(data)", lambda w, v: ms.models.QueryResult.from_json(v), ('{"tables":[]}',)),
        E("models.Incident.from_json(data)", lambda w, v: ms.models.Incident.from_json(v), ({"name": "x"},)),
        E("models.structure(data)", lambda w, v: ms.models.structure(v, ms.models.Incident), ({"name": "x"},)),
        E("models.freeze(value)", lambda w, v: ms.models.thaw(ms.models.freeze(v)), ({"a": [1]},)),
        E("models.GraphIncident.from_json(data)", lambda w, v: ms.models.GraphIncident.from_json(v), ({"id": "1"},)),
        E("models.incidents_table(incidents)", lambda w, v: ms.models.incidents_table(v).to_dicts(), ([],)),
        # --- emulator -----------------------------------------------------------------------------------------
        E("Emulator(incidents)", lambda w, v: Emulator(now=NOW, incidents=v, dataset=False).close(), (0,), _small),
        E("Emulator(now)", lambda w, v: Emulator(now=v, dataset=False).close(), AWARE),
        E("Emulator(xdr_share)", lambda w, v: Emulator(now=NOW, xdr_share=v, dataset=False).close(), (0.5,)),
        E("Emulator.serve(host)", lambda w, v: _bare(lambda e: e.serve(host=v).close()), ("127.0.0.1", "::1")),
        E("Emulator.serve(port)", lambda w, v: _bare(lambda e: e.serve(port=v).close()), (0,), _no_port),
        E("Emulator.serve(tls)", lambda w, v: _bare(lambda e: e.serve(tls=v).close()), (None,)),
        E("Emulator.advance(delta)", lambda w, v: _bare(lambda e: e.advance(v)), (timedelta(0),)),
        E("Faults.server_error(times)", lambda w, v: _bare(lambda e: e.faults.server_error(v)), (1,)),
        E("Faults.add(route)", lambda w, v: _bare(lambda e: e.faults.add(v)), ("*/incidents*",)),
        E("Faults.drop_connection(times)", lambda w, v: _bare(lambda e: e.faults.drop_connection(v))),
        E("Faults.query_limits(concurrency)", lambda w, v: _bare(lambda e: e.faults.query_limits(concurrency=v)), (5,)),
        E("Faults.query_limits(window)", lambda w, v: _bare(lambda e: e.faults.query_limits(window=v)), (30.0,)),
        E("Faults.query_limits(enabled)", lambda w, v: _bare(lambda e: e.faults.query_limits(v)), (True, False)),
        E("Emulator.directory_user(upn)", lambda w, v: _bare(lambda e: e.directory_user(v, tenant=TENANT)), ("u@x",)),
        E("Emulator.directory_user(tenant)", lambda w, v: _bare(lambda e: e.directory_user("u", tenant=v)), (TENANT,)),
        E(
            "Emulator.directory_user(member_of)",
            lambda w, v: _bare(lambda e: e.directory_user("u", tenant=TENANT, member_of=v)),
            ([TENANT],),
        ),
        E("Emulator.credential(user)", lambda w, v: _bare(lambda e: e.credential(v)), (None,)),
        E(
            "IncidentControl.modify_incident(name)",
            lambda w, v: w.emu.incident_control().modify_incident(v, severity="High"),
            ("unknown-id",),
        ),
        E(
            "IncidentControl.modify_incident(properties)",
            lambda w, v: w.emu.incident_control().modify_incident(w.incident_id, severity=v),
            ("High",),
        ),
        E("Faults.server_error(status)", lambda w, v: _bare(lambda e: e.faults.server_error(1, v))),
        E(
            "IncidentControl.create_incident(title)",
            lambda w, v: _bare(lambda e: e.incident_control().create_incident(title=v)),
            ("T",),
        ),
        E(
            "IncidentControl.create_incidents(count)",
            lambda w, v: _bare(lambda e: e.incident_control().create_incidents(v)),
            (1, 3),
            accept=_small,
        ),
    ]
    return (*rows, *aio_catalogue())


# --- the async face (m365sentinel.aio): the same slots, awaited ---------------------------------------------------
async def _aconnector(w: World, **kw: Any) -> Any:
    args: dict[str, Any] = {"credential": w.emu.async_credential(), "transport": w.emu.async_transport()}
    args.update(kw)
    async with aio.Connector(args.pop("workspace", _ws(w)), **args) as c:
        return await c.incidents().get(w.incident_id).get()


async def _asession(w: World, **kw: Any) -> Any:
    args: dict[str, Any] = {"credential": w.emu.async_credential(), "transport": w.emu.async_transport()}
    args.update(kw)
    async with aio.Session(**args) as s:
        return await s.connector(_ws(w)).incidents().get(w.incident_id).get()


async def _asession_connector(w: World, **kw: Any) -> Any:
    async with aio.Session(credential=w.emu.async_credential(), transport=w.emu.async_transport()) as s:
        return await s.connector(kw.pop("workspace", _ws(w)), **kw).incidents().get(w.incident_id).get()


async def _aclosed(w: World, use: Callable[[Any], Any]) -> Any:
    """``use`` on a fresh connector (the world's stays open), closed afterwards."""
    async with aio.Connector(_ws(w), credential=w.emu.async_credential(), transport=w.emu.async_transport()) as c:
        return await atouch(use(c))


def _afollow(w: World, **kw: Any) -> Any:
    args: dict[str, Any] = {"interval": 0, "stop": lambda: False, "sleep": lambda _s: None}
    args.update(kw)
    return w.astream.follow(**args)


async def _arun_aclose(w: World) -> None:
    run = w.astream.run()
    await run.__anext__()
    await run.aclose()
    run.checkpoint.dumps()


async def _acommit_first(w: World) -> None:
    async for item in w.astream.since(ms.MemoryCheckpointStore()):
        item.commit()
        break


def _aclient(w: World, **kw: Any) -> aio.AsyncHttpClient:
    args: dict[str, Any] = {"credential": w.emu.async_credential(), "transport": w.emu.async_transport()}
    args.update(kw)
    return aio.AsyncHttpClient(args.pop("cloud", ms.Cloud.resolve("AzureCloud")), **args)


async def _aclient_use(w: World, use: Callable[[aio.AsyncHttpClient], Any]) -> Any:
    async with _aclient(w) as http:
        return await atouch(use(http))


async def _afleet(w: World, *, use: Callable[[Any], Any] | None = None, **kw: Any) -> Any:
    async with aio.Session(credential=w.emu.async_credential(), transport=w.emu.async_transport()) as s:
        fleet = aio.Fleet(kw.pop("workspaces", [_ws(w)]), session=s, **kw)
        report = await (use(fleet) if use is not None else fleet.incidents_and_alerts().status())
        return report.to_json()


async def _afleet_incidents(w: World, apply: Callable[[Any], Any]) -> None:
    async with aio.Session(credential=w.emu.async_credential(), transport=w.emu.async_transport()) as s:
        await atouch(apply(aio.Fleet([_ws(w)], session=s).incidents()))


def aio_catalogue() -> tuple[EntryPoint, ...]:
    """Every callable of ``m365sentinel.aio.__all__`` and their public methods, awaited (names ``aio.*``)."""
    E = EntryPoint
    rows = [
        E("aio.Connector(workspace)", lambda w, v: _aconnector(w, workspace=v)),
        E("aio.Connector(credential)", lambda w, v: _aconnector(w, credential=v), accept=lambda v: v is not None),
        E("aio.Connector(tenant_id)", lambda w, v: _aconnector(w, tenant_id=v), GUIDS),
        E("aio.Connector(cloud)", lambda w, v: _aconnector(w, cloud=v), ("AzureCloud", "AzureUSGovernment")),
        E("aio.Connector(graph)", lambda w, v: _aconnector(w, graph=v), ("Global", "GCC")),
        E("aio.Connector(api_versions)", lambda w, v: _aconnector(w, api_versions=v)),
        E("aio.Connector(retry)", lambda w, v: _aconnector(w, retry=v)),
        E("aio.Connector(timeout)", lambda w, v: _aconnector(w, timeout=v), (1, 30.0)),
        # None is the real network (the default transport): never drawn, the fuzz sends only to the emulator.
        E("aio.Connector(transport)", lambda w, v: _aconnector(w, transport=v), accept=lambda v: v is not None),
        E("aio.Connector(sleep)", lambda w, v: _aconnector(w, sleep=v)),
        E("aio.Session(credential)", lambda w, v: _asession(w, credential=v), accept=lambda v: v is not None),
        E("aio.Session(tenant_id)", lambda w, v: _asession(w, tenant_id=v), GUIDS),
        E("aio.Session(cloud)", lambda w, v: _asession(w, cloud=v), ("AzureCloud", "AzureUSGovernment")),
        E("aio.Session(timeout)", lambda w, v: _asession(w, timeout=v), (1,)),
        E("aio.Session(clock)", lambda w, v: _asession(w, clock=v), (lambda: 1_900_000_000.0,)),
        E("aio.Session.connector(workspace)", lambda w, v: _asession_connector(w, workspace=v)),
        E("aio.Session.connector(tenant_id)", lambda w, v: _asession_connector(w, tenant_id=v), GUIDS),
        E("aio.Session.connector(api_versions)", lambda w, v: _asession_connector(w, api_versions=v)),
        E(
            "aio.Session.close()",
            lambda w, v: aio.Session(credential=w.emu.async_credential(), transport=w.emu.async_transport()).close(),
        ),
        E(
            "aio.Connector.incidents_and_alerts(turn_off)",
            lambda w, v: w.aconnector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=v).plan(),
            (True, False),
        ),
        E(
            "aio.Connector.incidents_and_alerts(alerts)",
            lambda w, v: w.aconnector.incidents_and_alerts(alerts=v).plan(),
        ),
        E(
            "aio.Connector.entities(ueba_data_sources)",
            lambda w, v: w.aconnector.entities(ueba_data_sources=v).plan(),
            (("AuditLogs",),),
        ),
        E("aio.Connector.events(tables)", lambda w, v: w.aconnector.events(v).plan(), TABLES),
        E(
            "aio.Connector.events(retention_days)",
            lambda w, v: w.aconnector.events("DeviceEvents", retention_days=v).plan(),
            (30,),
        ),
        E("aio.Connector.solution()", lambda w, v: w.aconnector.solution().plan()),
        E("aio.Connector.analytics_rules(rules)", lambda w, v: w.aconnector.analytics_rules(v).plan(), (RULE_YAML,)),
        E(
            "aio.Connector.query(query)",
            lambda w, v: w.aconnector.query(v, timespan=timedelta(days=1)),
            ("Usage | take 1",),
        ),
        E("aio.Connector.query(timespan)", lambda w, v: w.aconnector.query("print 1", timespan=v), SPANS),
        E(
            "aio.Connector.run_hunting_query(kql)",
            lambda w, v: w.aconnector.run_hunting_query(v, timespan="P1D"),
            ("DeviceEvents | take 1",),
        ),
        E(
            "aio.Connector.run_hunting_query(timespan)",
            lambda w, v: w.aconnector.run_hunting_query("print 1", timespan=v),
            SPANS,
        ),
        E(
            "aio.Connector.list_rule_templates(connector_id)",
            lambda w, v: w.aconnector.list_rule_templates(connector_id=v),
            ("MicrosoftThreatProtection",),
        ),
        E("aio.Connector.verify(days)", lambda w, v: w.aconnector.verify(days=v), (1, 14)),
        E("aio.Connector.status()", lambda w, v: w.aconnector.status()),
        E("aio.Connector.plan()", lambda w, v: w.aconnector.incidents_and_alerts().plan()),
        E("aio.Plan.apply()", lambda w, v: _aclosed(w, lambda c: _then_apply(c.incidents_and_alerts().plan()))),
        E("aio.Connector.apply()", lambda w, v: w.aconnector.entities().apply()),
        E("aio.Connector.disconnect()", lambda w, v: _aclosed(w, lambda c: c.disconnect())),
        E("aio.Connector.list_tables()", lambda w, v: w.aconnector.list_tables()),
        E("aio.Connector.incidents()", lambda w, v: w.aconnector.incidents().page(5).max_items(2)),
        E("aio.Connector.close()", lambda w, v: _aclosed(w, lambda c: c.close())),
        # --- aio.IncidentStream ------------------------------------------------------------------------------
        E("aio.IncidentStream.since(checkpoint)", lambda w, v: w.astream.since(v), AWARE),
        E(
            "aio.IncidentStream.since(initial)",
            lambda w, v: w.astream.since(ms.MemoryCheckpointStore(), initial=v),
            AWARE,
        ),
        E("aio.IncidentStream.with_alerts(source)", lambda w, v: w.astream.with_alerts(source=v)),
        E("aio.IncidentStream.with_entities(source)", lambda w, v: w.astream.with_entities(source=v)),
        E("aio.IncidentStream.severity(values)", lambda w, v: w.astream.severity(v), ("High",)),
        E("aio.IncidentStream.status(values)", lambda w, v: w.astream.status(v), ("New",)),
        E("aio.IncidentStream.owner(values)", lambda w, v: w.astream.owner(v), ("a@b.example",)),
        E("aio.IncidentStream.labels(values)", lambda w, v: w.astream.labels(v), ("VIP",)),
        E("aio.IncidentStream.provider(names)", lambda w, v: w.astream.provider(v), ("Microsoft XDR",)),
        E("aio.IncidentStream.created_between(start)", lambda w, v: w.astream.created_between(v, None), AWARE),
        E("aio.IncidentStream.modified_between(end)", lambda w, v: w.astream.modified_between(None, v), AWARE),
        E("aio.IncidentStream.max_items(n)", lambda w, v: w.astream.max_items(v), (1, 2)),
        E("aio.IncidentStream.page(size)", lambda w, v: w.astream.page(v), (1, 1000)),
        E("aio.IncidentStream.lag(value)", lambda w, v: w.astream.lag(v), (timedelta(minutes=5),)),
        E("aio.IncidentStream.prefetch(enabled)", lambda w, v: w.astream.prefetch(v), (True,)),
        E("aio.IncidentStream.audit(enabled)", lambda w, v: w.astream.audit(v), (True,)),
        E("aio.IncidentStream.clock(now)", lambda w, v: w.astream.clock(v), (lambda: NOW,)),
        E("aio.IncidentStream.follow(interval)", lambda w, v: _afollow(w, interval=v), (0, 0.5)),
        E("aio.IncidentStream.follow(stop)", lambda w, v: _afollow(w, stop=v), (asyncio.Event(),)),
        E("aio.IncidentStream.follow(sleep)", lambda w, v: _afollow(w, sleep=v)),
        E("aio.IncidentStream.run()", lambda w, v: w.astream.run()),
        E("aio.IncidentRun.aclose()", lambda w, v: _arun_aclose(w)),
        E("aio.StreamedIncident.commit()", lambda w, v: _acommit_first(w)),
        E("aio.IncidentStream.identity()", lambda w, v: w.astream.identity()),
        E("aio.IncidentStream.get(incident_id)", lambda w, v: w.aconnector.incidents().get(v).get(), GUIDS),
        E("aio.IncidentStream.defender()", lambda w, v: w.astream.defender().get("1")),
        E("aio.IncidentStream.reconcile(grace)", lambda w, v: w.astream.reconcile(grace=v), (timedelta(minutes=1),)),
        E("aio.IncidentStream.reconcile(repair)", lambda w, v: w.astream.reconcile(repair=v), (False,)),
        # --- aio.IncidentHandle ------------------------------------------------------------------------------
        E("aio.IncidentHandle.get()", lambda w, v: w.ahandle.get()),
        *_handle_rows("aio.", lambda w: w.ahandle),
        # --- aio.DefenderIncidents -----------------------------------------------------------------------------
        E("aio.DefenderIncidents.incidents(since)", lambda w, v: w.adefender.incidents(since=v), AWARE),
        E("aio.DefenderIncidents.incidents(with_alerts)", lambda w, v: w.adefender.incidents(with_alerts=v)),
        E("aio.DefenderIncidents.alerts(since)", lambda w, v: w.adefender.alerts(since=v), AWARE),
        E("aio.DefenderIncidents.get(incident_id)", lambda w, v: w.adefender.get(v), ("1", "900001")),
        E("aio.DefenderIncidents.patch(incident_id)", lambda w, v: w.adefender.patch(v, {"status": "active"}), ("1",)),
        E("aio.DefenderIncidents.patch(body)", lambda w, v: w.adefender.patch("900001", v), ({"status": "active"},)),
        # --- aio.AsyncHttpClient -------------------------------------------------------------------------------
        E("aio.AsyncHttpClient(cloud)", lambda w, v: _aclient(w, cloud=v).aclose()),
        E("aio.AsyncHttpClient(credential)", lambda w, v: _aclient(w, credential=v).aclose()),
        E("aio.AsyncHttpClient(timeout)", lambda w, v: _aclient(w, timeout=v).aclose(), (5.0,)),
        E("aio.AsyncHttpClient.send(spec)", lambda w, v: _aclient_use(w, lambda h: h.send(v)), (_SPEC,)),
        E("aio.AsyncHttpClient.send_json(spec)", lambda w, v: _aclient_use(w, lambda h: h.send_json(v)), (_SPEC,)),
        E("aio.AsyncHttpClient.run(flow)", lambda w, v: _aclient_use(w, lambda h: h.run(v))),
        E("aio.AsyncHttpClient.iterate(flow)", lambda w, v: _aclient_use(w, lambda h: h.iterate(v))),
        E("aio.AsyncHttpClient.aclose()", lambda w, v: _aclient(w).aclose()),
        E(
            "aio.AsyncHttpClient.with_credential(credential)",
            lambda w, v: _aclient_use(w, lambda h: h.with_credential(v, tenant_id=None).send_json(_SPEC)),
            accept=lambda v: v is not None,
        ),
        E(
            "aio.AsyncHttpClient.with_credential(tenant_id)",
            lambda w, v: _aclient_use(
                w, lambda h: h.with_credential(w.emu.async_credential(), tenant_id=v).send_json(_SPEC)
            ),
            GUIDS,
        ),
        # Fleet (issue 13): one workspace of the world's emulator, every terminal call and fluent part.
        E("aio.Fleet(workspaces)", lambda w, v: _afleet(w, workspaces=v)),
        E("aio.Fleet(concurrency)", lambda w, v: _afleet(w, concurrency=v), (1, 4)),
        E("aio.Fleet(credentials)", lambda w, v: _afleet(w, credentials=v), ({},)),
        E("aio.Fleet(progress)", lambda w, v: _afleet(w, progress=v), (None, lambda d, t, r: None)),
        E("aio.Fleet.run(operation)", lambda w, v: _afleet(w, use=lambda f: f.run(v)), ("status", "plan")),
        E("aio.Fleet.plan()", lambda w, v: _afleet(w, use=lambda f: f.plan())),
        E("aio.Fleet.incidents().since(stores)", lambda w, v: _afleet_incidents(w, lambda f: f.since(v)), (None,)),
        E("aio.Fleet.incidents().buffer(items)", lambda w, v: _afleet_incidents(w, lambda f: f.buffer(v)), (1, 100)),
        E(
            "aio.Fleet.query(query)",
            lambda w, v: _afleet(w, use=lambda f: f.query(v, timespan="P1D")),
            ("SecurityIncident | take 1",),
        ),
        E(
            "aio.Fleet.query(batch_size)",
            lambda w, v: _afleet(w, use=lambda f: f.query("SecurityIncident | take 1", timespan="P1D", batch_size=v)),
            (1, 10),
        ),
        E("aio.Fleet.apply()", lambda w, v: _afleet(w, use=lambda f: f.apply())),
        E("aio.Fleet.status()", lambda w, v: _afleet(w, use=lambda f: f.status())),
        E("aio.Fleet.verify(days)", lambda w, v: _afleet(w, use=lambda f: f.verify(days=v)), (1, 14)),
        E(
            "aio.Fleet.incidents_and_alerts(turn_off)",
            lambda w, v: _afleet(
                w, use=lambda f: f.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=v).plan()
            ),
            (True, False),
        ),
        E(
            "aio.Fleet.entities(active_directory)",
            lambda w, v: _afleet(w, use=lambda f: f.entities(active_directory=v).plan()),
        ),
        E("aio.Fleet.events(tables)", lambda w, v: _afleet(w, use=lambda f: f.events(v).plan()), TABLES),
        E("aio.Fleet.solution()", lambda w, v: _afleet(w, use=lambda f: f.solution().plan())),
        E(
            "aio.Fleet.analytics_rules(rules)",
            lambda w, v: _afleet(w, use=lambda f: f.analytics_rules(v).plan()),
            (RULE_YAML,),
        ),
        E("aio.Plan.to_dict()", lambda w, v: _aclosed(w, lambda c: _to_dict(c.solution().plan()))),
    ]
    return tuple(rows)


async def _then_apply(plan: Any) -> Any:
    return await (await plan).apply()


async def _to_dict(plan: Any) -> Any:
    return (await plan).to_dict()


def classify(w: World, ep: EntryPoint, value: Any) -> tuple[str, BaseException | None]:
    """Run one call: ``("ok" | "typed" | "untyped" | "sent", exception)``; ``sent``: InvalidInputError after a
    request went out."""
    before = w.requests()
    try:
        result = ep.call(w, value)
        if ep.name.startswith("aio."):
            result = w.loop.run_until_complete(atouch(result))
        touch(result)
    except ms.InvalidInputError as exc:
        return ("sent" if w.requests() != before else "typed"), exc
    except ms.SentinelError as exc:
        return "typed", exc
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        return "untyped", exc
    return "ok", None
