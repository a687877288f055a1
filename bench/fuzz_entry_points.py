"""Long property-based fuzz over every public entry point (issue 10).

Run: ``python -m bench.fuzz_entry_points --minutes 20`` (from the repository root).

Throws hypothesis-drawn adversarial values (wrong types, edge numbers, control characters, lone surrogates,
naive/extreme datetimes, ...) at each row of ``tests/fuzz/entry_points.py`` in round-robin, each round with a fresh
seed, until the time is up. Both faces: the ``aio.*`` rows are awaited on the world's event loop (``--only aio.``
runs the async face alone). Prints inputs tried, entry points covered, untyped exceptions (anything but a
``SentinelError``) and InvalidInputErrors raised after a request was sent, each with one example. Exit status 1 when
either count is not zero. The CI run of the same catalogue is ``tests/fuzz`` (bounded, derandomized).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fuzz.entry_points import EntryPoint, World, catalogue, classify, values_for
from hypothesis import HealthCheck, given, settings


def _runner(ep: EntryPoint, world: World, examples: int, record: Callable[..., None]) -> Callable[[], None]:
    """One hypothesis run of ``examples`` draws against ``ep`` (a fresh random seed each time)."""

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(values_for(ep))
    def run(value: Any) -> None:
        kind, exc = classify(world, ep, value)
        record(ep, value, kind, exc)

    return run  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0, help="how long to run (default 20)")
    ap.add_argument("--examples", type=int, default=50, help="draws per entry point per round (default 50)")
    ap.add_argument("--verbose", action="store_true", help="print each entry point's time per round")
    ap.add_argument("--only", default="", help="run only entry points whose name contains this text")
    args = ap.parse_args(argv)

    rows = [ep for ep in catalogue() if args.only in ep.name]
    world = World()
    os.chdir(world.tmp)  # whatever a drawn value makes the SDK write lands in the run's temporary folder
    deadline = time.monotonic() + args.minutes * 60
    tried = 0
    outcomes: collections.Counter[str] = collections.Counter()
    covered: set[str] = set()
    findings: dict[tuple[str, str, str], str] = {}
    rounds = 0
    start = time.monotonic()

    def record(ep: EntryPoint, value: Any, kind: str, exc: BaseException | None) -> None:
        nonlocal tried
        tried += 1
        outcomes[kind] += 1
        key = (ep.name, kind, type(exc).__name__)
        if kind in ("untyped", "sent") and key not in findings:
            tb = "".join(traceback.format_exception(exc)[-3:]).strip() if exc else ""
            findings[key] = f"value={value!r:.120}\n      {tb[-600:]}"

    while time.monotonic() < deadline:
        rounds += 1
        for ep in rows:
            if time.monotonic() >= deadline:
                break

            run = _runner(ep, world, args.examples, record)
            t0 = time.monotonic()
            try:
                run()
            except Exception as exc:
                findings[(ep.name, "harness", type(exc).__name__)] = str(exc)[:300]
            covered.add(ep.name)
            if args.verbose:
                print(f"  {time.monotonic() - t0:6.2f}s {ep.name}", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - start
    world.close()
    untyped = sum(1 for k in findings if k[1] == "untyped")
    print(f"fuzz_entry_points: {elapsed / 60:.1f} min, {rounds} rounds")
    print(f"  inputs tried:            {tried}")
    print(f"  entry points covered:    {len(covered)} slots over {len({r.method for r in rows})} methods")
    print(f"  outcomes:                {dict(outcomes)}")
    print(f"  untyped exceptions:      {outcomes['untyped']} ({untyped} distinct places)")
    print(f"  InvalidInputError after a request was sent: {outcomes['sent']}")
    for (name, kind, exc_name), example in sorted(findings.items()):
        print(f"  - {kind} {exc_name} in {name}: {example}")
    return 1 if outcomes["untyped"] or outcomes["sent"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
