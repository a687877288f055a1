"""`python -m bench` (or `make bench`): every benchmark, each printing its figures and ratios from one run."""

from __future__ import annotations

import importlib

BENCHES = (
    "import_time",
    "query_result",
    "to_pandas",
    "kql_build",
    "incident_stream",
    "session",
    "fleet",
    "fleet_budget",
)
for name in BENCHES:  # soak_incidents: run alone
    print(f"\n=== bench.{name}")
    try:
        module = importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as exc:
        print(f"(not available: {exc})")
        continue
    module.main()
