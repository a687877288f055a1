"""`python -m bench` (or `make bench`): every benchmark, each printing its figures beside its floor and a verdict per
target; a summary of the verdicts at the end (exit status 1 when a target is not met).

Each runs as ``python -m bench.<name> [args]`` in its own interpreter, as it would alone. Issue 17's shapes are
included: incidents over loopback HTTP (100,000) and HTTPS (20,000), the query answer from bytes and over HTTPS.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

RUNS: tuple[tuple[str, ...], ...] = (
    ("import_time",),
    ("query_result",),
    ("query_result", "--tls"),
    ("to_pandas",),
    ("kql_build",),
    ("incident_stream",),
    ("incident_stream", "--incidents", "20000", "--tls"),
    ("session",),
    ("fleet",),
    ("fleet_budget",),
)  # soak_incidents, fleet_incidents, fuzz_entry_points: run alone
VERDICT = re.compile(r"\b(met|PASS|FAIL)\b")


def _failed(line: str) -> bool:
    """A verdict line whose target is not met (lines marked "information" are not targets)."""
    return ("NOT met" in line or "FAIL" in line) and "information" not in line


def main() -> int:
    summary: list[str] = []
    for name, *args in RUNS:
        title = " ".join([f"bench.{name}", *args])
        print(f"\n=== {title}", flush=True)
        if importlib.util.find_spec(f"bench.{name}") is None:
            print("(not available)")
            continue
        with subprocess.Popen(
            [sys.executable, "-m", f"bench.{name}", *args], stdout=subprocess.PIPE, text=True, bufsize=1
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line, end="", flush=True)
                if VERDICT.search(line):
                    summary.append(f"{title}: {line.strip()}")
        if proc.returncode not in (0, 1):  # 1: a target not met (its lines say which)
            summary.append(f"{title}: exited with status {proc.returncode} FAIL")
    print("\n=== verdicts")
    print("\n".join(summary))
    return 1 if any(_failed(line) for line in summary) else 0


if __name__ == "__main__":
    raise SystemExit(main())
