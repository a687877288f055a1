"""Soak test of IncidentStream on the emulator (issue 4, "Done means").

Run: ``python -m bench.soak_incidents [--incidents 5000] [--seed 4]``; CI runs ``run(500)`` as a test
(tests/incidents/test_soak.py).

A fixed-seed driver creates ``incidents`` Defender incidents and modifies them while a consumer streams them with a
SQLite checkpoint store (or the one given: the tests also soak a ``BlobCheckpointStore`` on Azurite), committing
after handling each item. Injected: 429s (with and without Retry-After), 5xx,
dropped connections, one token expiry; and, with ``misbehave=True`` (the default), the service misbehaving in random
combinations switched on and off along the way (issue 10): lists ignoring ``$orderby`` or ``$filter``, incidents
deleted during a pass, no ``Date`` header or a skewed one, a ``nextLink`` back to itself, Log Analytics results cut
at a size limit (the stream runs ``with_alerts()`` and ``audit()``). The consumer is killed at random points
(between handling and commit, or right after a commit) and restarted from the store. Checked, relative to
committed checkpoints:

1. the latest state of every incident reached the consumer and was committed;
2. nothing whose handling was committed is delivered again;
3. what was in flight at a kill (handled, not committed) is delivered again, or a newer state of it is;
4. no exception other than a ``SentinelError`` reaches the consumer (an untyped one ends the soak at once).

Incidents deleted on purpose are left out of 1. The misbehaviours stay on while the soak winds down, except the
one-shot ones (a cycle, a deletion), which are cleared: the latest states must arrive from a misbehaving service.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.faces import Face
from m365sentinel._errors import SentinelError
from m365sentinel._incidents import CheckpointStore, SQLiteCheckpointStore
from m365sentinel.emulator import Emulator

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Key = tuple[str, datetime, "str | None"]


@dataclass
class SoakReport:
    incidents: int
    changes: int
    delivered: int
    duplicates_of_committed: int
    kills: int
    crashes: int
    faults_injected: int
    misbehaviours: int
    deleted: int
    requests: int
    seconds: float
    missing_latest: list[str] = field(default_factory=list)
    redelivered_after_commit: list[Key] = field(default_factory=list)
    in_flight_lost: list[Key] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing_latest or self.redelivered_after_commit or self.in_flight_lost)

    def __str__(self) -> str:
        return (
            f"soak: {self.incidents} incidents, {self.changes} changes (creates + edits), {self.delivered} deliveries, "
            f"{self.kills} consumer kills, {self.crashes} consumer crashes on exhausted retries, "
            f"{self.faults_injected} injected faults, {self.misbehaviours} misbehaviour switches, {self.deleted} "
            f"incidents deleted mid-pass, {self.requests} requests, {self.seconds:.1f} s\n"
            f"  latest state missing: {len(self.missing_latest)}; committed then delivered again: "
            f"{len(self.redelivered_after_commit)}; in-flight at a kill never delivered again: "
            f"{len(self.in_flight_lost)}"
            f" -> {'OK' if self.ok else 'FAILED'}"
        )


def _key(item) -> Key:  # type: ignore[no-untyped-def]
    inc = item.incident
    return (inc.name, inc.last_modified_time_utc, inc.etag)


def run(
    incidents: int = 5000,
    *,
    seed: int = 4,
    page: int = 100,
    db: str | None = None,
    misbehave: bool = True,
    prefetch: bool = True,
    face: str = "sync",
    store: CheckpointStore | None = None,
) -> SoakReport:
    """One soak. ``prefetch=False`` makes a seed replay exactly: with it on, the next page is fetched in a worker
    thread while the driver edits incidents, so which edits a page sees depends on thread timing. ``face``:
    ``"sync"`` or ``"async"`` (``m365sentinel.aio`` driven through ``bench.faces``: the same consumer code).
    ``store``: the checkpoint store to soak (empty; e.g. a ``BlobCheckpointStore``), a SQLite one in ``db`` by
    default."""
    rng = random.Random(seed)
    started = time.perf_counter()
    emu = Emulator(now=NOW, seed=seed, dataset=False)
    ctl = emu.incident_control()
    ctl.graph.rate_limit.enabled = False
    tmp = tempfile.TemporaryDirectory() if db is None and store is None else None
    if store is None:
        store = SQLiteCheckpointStore(db or str(Path(tmp.name) / "soak.sqlite3"), synchronous="NORMAL")  # type: ignore[union-attr]
    faces = Face(face)
    connector = faces.connector(emu.workspace_resource_id, emu=emu, sleep=lambda s: None)
    stream = connector.incidents().since(store).page(page).clock(emu.clock.now).prefetch(prefetch)
    if misbehave:
        stream = stream.audit().with_alerts()

    committed: set[Key] = set()
    delivered_total = 0
    dup_committed: list[Key] = []
    in_flight: list[Key] = []
    names: list[str] = []
    changes = kills = crashes = faults = misbehaviours = 0
    expired = False

    def mutate(steps: int) -> None:
        nonlocal changes
        for _ in range(steps):
            if len(names) < incidents and (not names or rng.random() < 0.6):
                names.append(
                    ctl.create_incident(
                        title=f"soak {len(names)}", severity=rng.choice(["High", "Medium", "Low", "Informational"])
                    )["name"]
                )
            elif names:
                name = rng.choice(names)
                if name.lower() not in live():
                    continue  # deleted by the service during a pass
                choice = rng.random()
                if choice < 0.4:
                    ctl.modify_incident(
                        name, status="Active", owner={"userPrincipalName": f"u{rng.randrange(9)}@x.test"}
                    )
                elif choice < 0.7:
                    ctl.modify_incident(name, labels=[{"labelName": f"l{rng.randrange(5)}", "labelType": "User"}])
                elif choice < 0.85:
                    ctl.modify_incident(
                        name,
                        status="Closed",
                        classification="BenignPositive",
                        classificationReason="SuspiciousButExpected",
                    )
                else:
                    ctl.modify_incident(name, status="New")  # reopened (case B5a)
            changes += 1
            if rng.random() < 0.5:
                ctl.tick(rng.choice([0.0, 0.5, 1.0, 2.0]))

    def live() -> set[str]:
        return {n.lower() for n in ctl.names()}

    def misbehaviour() -> None:
        nonlocal misbehaviours
        f = emu.faults
        kind = rng.randrange(7)
        if kind == 0:
            f.unordered_lists(rng.random() < 0.7, seed=rng.randrange(1000))
        elif kind == 1:
            f.ignore_filter(rng.random() < 0.6)
        elif kind == 2:
            f.delete_during_pass(1, after_pages=1)
        elif kind == 3:
            f.omit_date_header(rng.random() < 0.6)
        elif kind == 4:
            f.skew_date(rng.choice([-90.0, -30.0, 0.0, 30.0, 90.0]))
        elif kind == 5:
            f.next_link_cycle(times=1, route="*/incidents")
        else:
            f.query_size_limit(rng.choice([None, 20]))
        misbehaviours += 1

    def inject() -> None:
        nonlocal faults, expired
        if misbehave and rng.random() < 0.5:
            misbehaviour()
            return
        r = rng.random()
        route = "*/incidents"
        if r < 0.25:
            emu.faults.add(route, status=429, headers={"Retry-After": "1"})
        elif r < 0.4:
            emu.faults.add(route, status=429, headers={})
        elif r < 0.6:
            emu.faults.server_error(status=rng.choice([500, 502, 503, 504]), route=route)
        elif r < 0.8:
            emu.faults.drop_connection(route=route)
        elif not expired and len(names) > incidents // 2:
            emu.faults.expire_tokens()
            expired = True
        else:
            return
        faults += 1

    def consume(budget: int, kill_at: int | None) -> bool:
        """Handle up to ``budget`` items; ``kill_at``: abandon the run at that item (True when a pass completed)."""
        nonlocal delivered_total, kills, crashes
        run_ = iter(stream)
        count = 0
        try:
            for item in run_:
                key = _key(item)
                delivered_total += 1
                if key in committed:
                    dup_committed.append(key)
                count += 1
                if kill_at is not None and count == kill_at:
                    kills += 1
                    if rng.random() < 0.5:
                        in_flight.append(key)  # handled, killed before commit: must come again
                    else:
                        item.commit()
                        committed.add(key)
                    run_.close()
                    return False
                item.commit()
                committed.add(key)
                if rng.random() < 0.3:
                    mutate(rng.randrange(1, 4))  # changes land while the stream runs
                if rng.random() < 0.05:
                    inject()
                if count >= budget:
                    run_.close()
                    return False
        except SentinelError:  # typed: the consumer restarts from its store (anything else ends the soak)
            crashes += 1
            return False
        return True

    while len(names) < incidents:
        mutate(rng.randrange(5, 40))
        inject()
        kill = rng.randrange(1, 12) if rng.random() < 0.5 else None
        consume(rng.randrange(20, 400), kill)
    # Quiesce: no more edits; poll until a complete pass delivers nothing new after the lag has passed.
    emu.advance(timedelta(minutes=6))
    persistent = (emu.faults.shuffle_seed, emu.faults.filter_ignored, emu.faults.date_omitted, emu.faults.date_skew)
    emu.faults.clear()  # one-shot faults (429s, cycles, deletions) end; the service's misbehaviours go on
    if misbehave:
        shuffle, ignored, no_date, skew = persistent
        emu.faults.unordered_lists(shuffle is not None, seed=shuffle or 0)
        emu.faults.ignore_filter(ignored)
        emu.faults.omit_date_header(no_date)
        emu.faults.skew_date(skew)
    # Only a fresh pass counts: a resumed one finishes the pass that was cut short, and changes newer than where it
    # stopped belong to the next pass.
    for _ in range(200):
        before = delivered_total
        stored = store.load()
        fresh = stored is None or stored.checkpoint.pending is None
        if consume(10**9, None) and delivered_total == before and fresh:
            break
        emu.advance(timedelta(minutes=6))

    alive = live()
    deleted = [n for n in names if n.lower() not in alive]
    latest = {n: ctl.incident(n) for n in names if n.lower() in alive}
    committed_by_id: dict[str, list[Key]] = {}
    for k in committed:
        committed_by_id.setdefault(k[0], []).append(k)
    missing = []
    for n, res in latest.items():
        from m365sentinel.models import parse_datetime

        want = (res["name"], parse_datetime(res["properties"]["lastModifiedTimeUtc"]), res["etag"])
        if want not in committed:
            missing.append(n)
    lost = []
    for k in in_flight:
        if k[0].lower() not in alive:
            continue  # deleted by the service since: there is nothing left to deliver
        again = [c for c in committed_by_id.get(k[0], []) if c[1] > k[1] or c == k]
        if not again:
            lost.append(k)
    report = SoakReport(
        incidents=len(names),
        changes=changes,
        delivered=delivered_total,
        duplicates_of_committed=len(dup_committed),
        kills=kills,
        crashes=crashes,
        faults_injected=faults,
        misbehaviours=misbehaviours,
        deleted=len(deleted),
        requests=len(emu.requests),
        seconds=time.perf_counter() - started,
        missing_latest=missing,
        redelivered_after_commit=dup_committed,
        in_flight_lost=lost,
    )
    connector.close()
    faces.close()
    emu.close()
    if tmp is not None:
        tmp.cleanup()
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--no-misbehave", action="store_true", help="only the 429/5xx/reset/token/kill faults")
    parser.add_argument("--face", choices=["sync", "async"], default="sync")
    args = parser.parse_args(argv)
    report = run(args.incidents, seed=args.seed, misbehave=not args.no_misbehave, face=args.face)
    print(report)
    if not report.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
