"""Issue 14, "Done means": consumer PROCESSES sharing one blob checkpoint on Azurite, streaming from an emulator
served on a loopback port (tests/incidents/blob_consumer.py is the consumer; its log is the evidence).

1. Two consumers competing (compare-and-swap only): no change committed twice, nothing committed delivered
   again, the loser's commit raises CheckpointConflictError, the latest state of every incident committed.
2. With a lease: one active consumer, a standby that takes over within the lease period after the active one is
   SIGKILLed; nothing committed lost or delivered again, the item in flight at the kill delivered again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from m365sentinel.emulator import Emulator
from m365sentinel.emulator._server import LoopbackServer
from m365sentinel.models import parse_datetime

CONSUMER = Path(__file__).with_name("blob_consumer.py")


@pytest.fixture
def served():
    emu = Emulator(seed=14, dataset=False, strict_tokens=False)  # live clock: consumers run on the wall clock
    emu.incident_control().graph.rate_limit.enabled = False
    server = LoopbackServer(emu._core, "127.0.0.1", 0).start()
    yield emu, server.url
    server.close()
    emu.close()


def _start(tmp_path, name, emu, url, azurite, container, *, lease, handle_seconds, retry_seconds=0.05):
    cfg = {
        "url": url,
        "workspace": emu.workspace_resource_id,
        "connection_string": azurite.connection_string,
        "container": container,
        "blob": "incidents.json",
        "lease_seconds": lease,
        "log": str(tmp_path / f"{name}.log"),
        "stop": str(tmp_path / "stop"),
        "handle_seconds": handle_seconds,
        "retry_seconds": retry_seconds,
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(cfg))
    out = open(tmp_path / f"{name}.out", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, str(CONSUMER), str(path)], stdout=out, stderr=subprocess.STDOUT)
    proc.out = out  # type: ignore[attr-defined]
    return proc


def _events(tmp_path, name):
    path = tmp_path / f"{name}.log"
    if not path.exists():
        return []
    return [json.loads(line) | {"p": name} for line in path.read_text().splitlines() if line.endswith("}")]


def _finish(tmp_path, procs, timeout=90):
    (tmp_path / "stop").touch()
    for proc in procs:
        try:
            proc.wait(timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.out.close()
    for proc in procs:
        assert proc.returncode in (0, -signal.SIGKILL), (tmp_path / "a.out").read_text()


def _wait_until(tmp_path, procs, condition, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition(_events(tmp_path, "a") + _events(tmp_path, "b")):
        for proc in procs:
            assert proc.poll() is None, proc.args
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _latest(emu):
    ctl = emu.incident_control()
    latest = set()
    for name in ctl.names():
        res = ctl.incident(name)
        stamp = parse_datetime(res["properties"]["lastModifiedTimeUtc"]).isoformat()
        latest.add((res["name"], stamp, res["etag"]))
    return latest


def _check(events):
    """The guarantees, from the processes' logs. Returns (commits by process, conflicts)."""
    runs: dict[str, int] = {}  # process -> start time of its current run (its load)
    committed_at: dict[tuple, int] = {}
    committers: dict[tuple, list[str]] = {}
    redelivered = []
    run_of: dict[tuple, int] = {}  # (process, key) -> run start of its delivery
    for ev in sorted(events, key=lambda e: e["t"]):
        key = tuple(ev["k"]) if ev["k"] else None
        if ev["e"] == "load":
            runs[ev["p"]] = ev["t"]
        elif ev["e"] == "deliver":
            run_start = runs[ev["p"]]
            done = committed_at.get(key)
            # Committed before this run loaded the store (any process), or earlier in this same run: a repeat.
            if done is not None and (
                done < run_start or ((ev["p"], key) in run_of and run_of[ev["p"], key] == run_start)
            ):
                redelivered.append((ev["p"], key))
            run_of[ev["p"], key] = run_start
        elif ev["e"] == "commit":
            committers.setdefault(key, []).append(ev["p"])
            committed_at.setdefault(key, ev["t"])
    twice = {k: who for k, who in committers.items() if len(who) > 1}
    assert twice == {}  # no change committed twice
    assert redelivered == []  # nothing committed delivered again
    return committers


def test_two_consumer_processes_compete_on_one_blob_checkpoint(tmp_path, served, azurite):
    emu, url = served
    ctl = emu.incident_control()
    names = [ctl.create_incident(title=f"p{i}")["name"] for i in range(30)]
    container = azurite.new_container()
    procs = [_start(tmp_path, p, emu, url, azurite, container, lease=None, handle_seconds=0.01) for p in ("a", "b")]
    _wait_until(tmp_path, procs, lambda ev: {e["p"] for e in ev if e["e"] == "load"} == {"a", "b"})
    for i in range(60):  # edits land while both consume
        if i % 4 == 0:
            names.append(ctl.create_incident(title=f"q{i}")["name"])
        else:
            ctl.modify_incident(names[(i * 7) % len(names)], labels=[{"labelName": f"l{i}", "labelType": "User"}])
        time.sleep(0.05)
    time.sleep(1.0)
    _finish(tmp_path, procs)
    events = _events(tmp_path, "a") + _events(tmp_path, "b")
    committers = _check(events)
    conflicts = {p: sum(1 for e in events if e["p"] == p and e["e"] == "conflict") for p in ("a", "b")}
    commits = {p: sum(1 for who in committers.values() if who == [p]) for p in ("a", "b")}
    print(f"competing: commits {commits}, conflicts {conflicts}, changes {len(committers)}")
    assert conflicts["a"] + conflicts["b"] >= 1  # they did compete: the loser's commit raised the conflict
    assert all(any(e["p"] == p and e["e"] == "deliver" for e in events) for p in ("a", "b"))  # both consumed
    assert _latest(emu) - set(committers) == set()  # the latest state of every incident was committed


@pytest.mark.slow
def test_a_standby_takes_over_the_lease_after_the_active_consumer_is_killed(tmp_path, served, azurite):
    lease = 15
    emu, url = served
    ctl = emu.incident_control()
    for i in range(60):
        ctl.create_incident(title=f"p{i}")
    container = azurite.new_container()
    a = _start(tmp_path, "a", emu, url, azurite, container, lease=lease, handle_seconds=0.25)
    deadline = time.monotonic() + 30
    while not any(e["e"] == "commit" for e in _events(tmp_path, "a")):  # a holds the lease
        assert time.monotonic() < deadline and a.poll() is None, (tmp_path / "a.out").read_text()
        time.sleep(0.1)
    b = _start(tmp_path, "b", emu, url, azurite, container, lease=lease, handle_seconds=0.0, retry_seconds=0.2)
    time.sleep(lease * 0.6)  # past half the lease: a has renewed it, b stayed standby
    os.kill(a.pid, signal.SIGKILL)
    killed = time.monotonic_ns()
    a.wait()
    deadline = time.monotonic() + 2 * lease
    while not any(e["e"] == "commit" for e in _events(tmp_path, "b")):
        assert time.monotonic() < deadline and b.poll() is None, (tmp_path / "b.out").read_text()
        time.sleep(0.1)
    time.sleep(1.0)
    _finish(tmp_path, [a, b])
    events = _events(tmp_path, "a") + _events(tmp_path, "b")
    committers = _check(events)
    b_events = [e for e in events if e["p"] == "b"]
    b_deliveries = [e["t"] for e in b_events if e["e"] == "deliver"]
    takeover = (min(b_deliveries) - killed) / 1e9
    a_commits = sum(1 for e in events if e["p"] == "a" and e["e"] == "commit")
    print(f"lease {lease} s: a committed {a_commits} before SIGKILL, b took over {takeover:.1f} s after it")
    assert min(b_deliveries) > killed  # b handled nothing while a was alive (a renewed its lease)
    assert a_commits >= 10 and any(e["e"] == "conflict" for e in b_events)  # b waited as a standby
    assert takeover <= lease + 2  # the lease lapsed and b took over within the lease period (+ its polling)
    a_delivered = {tuple(e["k"]) for e in events if e["p"] == "a" and e["e"] == "deliver"}
    # A kill between a's commit() and its "commit" log line leaves one change committed without that line: the one
    # "committing" and never "commit"ted in the logs. It may rightly not come again (the store has it).
    a_committing = {tuple(e["k"]) for e in events if e["p"] == "a" and e["e"] == "committing"}
    ambiguous = a_committing - set(committers)
    assert len(ambiguous) <= 1
    in_flight = a_delivered - set(committers) - ambiguous
    b_delivered = {tuple(e["k"]) for e in b_events if e["e"] == "deliver"}
    assert in_flight <= b_delivered  # what a had in hand at the kill came again
    assert _latest(emu) == set(committers) | ambiguous  # every incident committed exactly once, none lost
