"""Benchmark: a 200,000-row (~95 MB) Log Analytics answer read into ``QueryResult``, every row read.

Run: ``python -m bench.query_result [--rows N] [--repeat K] [--http | --tls]``. Each figure is the median of K fresh
interpreters (modes interleaved round by round), printed beside the floor measured in the same run, with a verdict.

What each mode does, timed from the bytes (read from the file before timing, so all hold the same bytes) to the
last row read (every row unpacked into its 7 cells, as a handler reading its columns does). With ``--http`` or
``--tls`` the same answer comes from the emulator's Log Analytics route over loopback HTTP or HTTPS (a throwaway
certificate made at run time, trusted through each client's own SSL settings), and the timed region starts BEFORE
the client is created (``Connector`` / ``httpx.Client``, SSL context included): the answer's transfer and every
fixed cost of a run count on both sides; imports and the credential are outside.

- floor: ``json.loads``, then column by column in place: ``parse_datetime`` on every datetime cell and
  ``json.loads`` on every dynamic cell (the values the SDK hands out: a hand-written loop must decode them too);
  over the network, one ``httpx.Client.post`` to the query route first (the workspace GUID known);
- sdk: ``QueryResult.from_json`` on the same bytes, then ``for row in table.rows`` (datetimes, longs, reals,
  bools typed; dynamic cells decoded once); over the network, ``Connector.query`` (which first resolves the
  workspace GUID: one ARM GET);
- floor-text (information): the floor without decoding the dynamic cells (they stay JSON text);
- sdk-columns (information): ``from_json``, then every column read with ``table.column(name)``;
- azure (information): ``azure.monitor.query``'s own table parsing, when that package is installed.

Time is wall-clock; CPU time (``process_time``) is printed too, as it moves less with the machine's
load. Peak RSS is each child's ``VmHWM``. Targets (issue 17): sdk time <= 1.2x floor, peak RSS <= 1.2x floor.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from bench._measure import child, compile_package, interleaved, loopback_tls, peak_rss_mib, verdict


def generate(path: str, rows: int, seed: int = 7) -> int:
    """Write a query answer with datetime, string, long, real, dynamic, bool and guid columns; return its size."""
    rnd = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    columns = [
        {"name": "TimeGenerated", "type": "datetime"},
        {"name": "Computer", "type": "string"},
        {"name": "Count", "type": "long"},
        {"name": "Score", "type": "real"},
        {"name": "AdditionalFields", "type": "dynamic"},
        {"name": "IsBillable", "type": "bool"},
        {"name": "DeviceId", "type": "guid"},
    ]
    hosts = [f"host-{n:04d}.corp.contoso.com" for n in range(500)]
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"tables":[{"name":"PrimaryResult","columns":')
        f.write(json.dumps(columns))
        f.write(',"rows":[')
        for n in range(rows):
            t = start + timedelta(seconds=n * 3, microseconds=rnd.randrange(1_000_000))
            ts = t.strftime("%Y-%m-%dT%H:%M:%S.%f") + str(rnd.randrange(10)) + "Z"  # 7 digits, as Kusto sends
            if n % 50 == 0:
                ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
            dyn = json.dumps(
                {
                    "ProcessId": rnd.randrange(1 << 16),
                    "CommandLine": "powershell.exe -NoProfile -EncodedCommand " + "A" * rnd.randrange(60, 140),
                    "Tags": ["edr", "mde", f"t{n % 13}"],
                    "Nested": {"Sha256": f"{rnd.getrandbits(256):064x}", "Signed": bool(n % 2)},
                }
            )
            row = [
                None if n % 97 == 0 else ts,
                None if n % 101 == 0 else rnd.choice(hosts),
                None if n % 89 == 0 else rnd.randrange(1 << 40),
                "NaN" if n % 211 == 0 else (None if n % 83 == 0 else rnd.random() * 1000),
                None if n % 103 == 0 else dyn,
                None if n % 107 == 0 else bool(n % 3),
                str(uuid.UUID(int=rnd.getrandbits(128))),
            ]
            if n:
                f.write(",")
            f.write(json.dumps(row, separators=(",", ":")))
        f.write("]}]}")
    return os.path.getsize(path)


MODES = ("floor", "sdk", "floor-text", "sdk-columns")


def _read_rows(rows: Any) -> int:
    n = 0
    for row in rows:
        _t, _host, _count, _score, _fields, _billable, _device = row
        n += 1
    return n


def _floor(data: bytes, *, decode_dynamic: bool) -> int:
    from m365sentinel.models import parse_datetime

    doc = json.loads(data)
    n = 0
    for table in doc["tables"]:
        rows = table["rows"]
        # Column by column, the tightest loop plain Python allows, so the floor is not padded.
        for i, c in enumerate(table["columns"]):
            if c["type"] == "datetime":
                for row in rows:
                    v = row[i]
                    if v is not None:
                        row[i] = parse_datetime(v)
            elif c["type"] == "dynamic" and decode_dynamic:
                loads = json.loads
                for row in rows:
                    v = row[i]
                    if v.__class__ is str:
                        try:  # noqa: SIM105 (as the SDK: no context manager per cell)
                            row[i] = loads(v)
                        except ValueError:
                            pass
        n += _read_rows(rows)
    return n


class _Token:
    """A credential for the out-of-process emulator: a well-formed emulator token for the origin asked for."""

    def __init__(self) -> None:
        from azure.core.credentials import AccessToken

        self._make = AccessToken

    def get_token(self, *scopes: str, **kw: Any) -> Any:
        return self._make(f"emu-{urlsplit(scopes[0]).netloc}-bench", 4_102_444_800)


def _served(mode: str, url: str, workspace: str, customer_id: str, ca: str | None) -> dict[str, float]:
    """``mode`` over the loopback server at ``url``: from creating the client to the last row read."""
    import ssl
    import time

    import httpx

    from m365sentinel.models import parse_datetime  # noqa: F401 (the floor's parser, loaded before timing)

    if mode in ("floor", "floor-text"):
        auth = {"Authorization": f"Bearer emu-{urlsplit(url).netloc}-bench"}
        t0, c0 = time.perf_counter(), time.process_time()
        verify: Any = True if ca is None else ssl.create_default_context(cafile=ca)
        with httpx.Client(verify=verify, headers=auth, timeout=300) as client:
            response = client.post(
                f"{url}/v1/workspaces/{customer_id}/query", json={"query": "Bench", "timespan": "P1D"}
            )
            response.raise_for_status()
            n = _floor(response.content, decode_dynamic=mode == "floor")
    else:
        from m365sentinel import Cloud, Connector

        credential, cloud = _Token(), Cloud.custom(arm=url, log_analytics=url, graph=url)
        t0, c0 = time.perf_counter(), time.process_time()
        transport = None if ca is None else httpx.HTTPTransport(verify=ssl.create_default_context(cafile=ca))
        with Connector(workspace, credential=credential, cloud=cloud, transport=transport, timeout=300) as connector:
            result = connector.query("Bench", timespan=timedelta(days=1))
            n = _read_result(result, mode)
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "peak_mib": peak_rss_mib(), "rows": n}


def _read_result(result: Any, mode: str) -> int:
    n = 0
    for table in result.tables:
        if mode == "sdk":
            n += _read_rows(table.rows)
        else:
            n += min(len(table.column(c.name)) for c in table.columns)
    return n


def _child(mode: str, path: str) -> None:
    import time

    with open(path, "rb") as fh:
        data = fh.read()
    if mode in ("floor", "floor-text"):
        t0, c0 = time.perf_counter(), time.process_time()
        n = _floor(data, decode_dynamic=mode == "floor")
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    elif mode in ("sdk", "sdk-columns"):
        from m365sentinel.models import QueryResult

        t0, c0 = time.perf_counter(), time.process_time()
        n = _read_result(QueryResult.from_json(data), mode)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    elif mode == "azure":
        from azure.monitor.query import LogsTable  # type: ignore[import-not-found]

        t0, c0 = time.perf_counter(), time.process_time()
        doc = json.loads(data)
        tables = [LogsTable._from_generated(t) for t in doc["tables"]]  # what LogsQueryClient does per table
        n = sum(_read_rows(t.rows) for t in tables)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps({"seconds": elapsed, "cpu": cpu, "peak_mib": peak_rss_mib(), "rows": n}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5, help="fresh processes per mode; the median is reported")
    over = ap.add_mutually_exclusive_group()
    over.add_argument("--http", action="store_true", help="the answer from the emulator over loopback HTTP")
    over.add_argument("--tls", action="store_true", help="the answer from the emulator over loopback HTTPS")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--served", nargs=5, metavar=("MODE", "URL", "WS", "CUSTOMER", "CA"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    if args.served:
        mode, url, workspace, customer_id, ca = args.served
        print(json.dumps(_served(mode, url, workspace, customer_id, ca or None)))
        return 0
    modes: tuple[str, ...] = MODES
    if not (args.http or args.tls):
        try:
            import azure.monitor.query  # type: ignore[import-not-found]  # noqa: F401

            modes = (*MODES, "azure")
        except ImportError:
            pass
    compile_package()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "result.json")
        size = generate(path, args.rows)
        where = "loopback HTTPS" if args.tls else "loopback HTTP" if args.http else "bytes in memory"
        print(
            f"query result: {args.rows:,} rows, {size / 1e6:.1f} MB, 7 columns, from {where}; every row read; "
            f"median of {args.repeat} fresh interpreters per mode, interleaved"
        )
        if args.http or args.tls:
            print(
                "timed: from before the client (Connector / httpx.Client, its SSL context included) is created to "
                "the last row read; imports and the credential are outside"
            )
            results = _over_loopback(modes, args.repeat, path, tmp, tls=args.tls)
        else:
            results = interleaved(modes, args.repeat, lambda m: child("bench.query_result", "--child", m, path))
    floor = results["floor"]
    for mode, r in results.items():
        assert r["rows"] == args.rows, (mode, r)
        print(
            f"{mode:>11}: {r['seconds']:.3f} s (CPU {r['cpu']:.3f} s)  peak RSS {r['peak_mib']:.0f} MiB  "
            f"time x{r['seconds'] / floor['seconds']:.2f}  CPU x{r['cpu'] / floor['cpu']:.2f}  "
            f"RSS x{r['peak_mib'] / floor['peak_mib']:.2f}"
        )
    sdk = results["sdk"]
    ok = verdict("sdk time", sdk["seconds"], floor["seconds"], 1.2)
    ok = verdict("sdk CPU time", sdk["cpu"], floor["cpu"], 1.2) and ok
    ok = verdict("sdk peak RSS", sdk["peak_mib"], floor["peak_mib"], 1.2, "MiB") and ok
    # The SDK hands out decoded dynamic cells (decoded once, then kept): beside a floor that leaves them as text,
    # for information (not the exit code).
    text = results["floor-text"]
    verdict("sdk CPU time beside floor-text (information)", sdk["cpu"], text["cpu"], 1.2)
    verdict("sdk peak RSS beside floor-text (information)", sdk["peak_mib"], text["peak_mib"], 1.2, "MiB")
    return 0 if ok else 1


def _over_loopback(
    modes: tuple[str, ...], repeat: int, path: str, tmp: str, *, tls: bool
) -> dict[str, dict[str, float]]:
    """The modes against the emulator, its query route answering the file's bytes (encoded once, sent as they are)."""
    from m365sentinel.emulator import Emulator

    with open(path, "rb") as fh:
        data = fh.read()
    emu = Emulator(now=datetime(2026, 3, 2, 9, tzinfo=UTC), dataset=False, strict_tokens=False)
    emu.faults.add("POST */query", status=200, body=data, times=10**6)
    server_tls, ca = loopback_tls(tmp) if tls else (None, "")
    try:
        with emu.serve(tls=server_tls) as server:
            ids = (server.url, emu.workspace_resource_id, emu.customer_id, ca)
            return interleaved(modes, repeat, lambda m: child("bench.query_result", "--served", m, *ids))
    finally:
        emu.close()


if __name__ == "__main__":
    raise SystemExit(main())
