"""`import m365sentinel` vs importing its runtime dependencies (httpx, attrs, cattrs) themselves.

Median of 11 fresh interpreters each, interleaved (target: at most 1.2x). azure-identity, the emulator and its
engine, the KQL builder and the models are imported only when used, so they are not part of either figure.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

from bench._measure import compile_package, verdict

RUNS = 11  # interleaved, so background load hits both sides alike

_TIMED = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"


def _fresh(modules: str) -> float:
    """Seconds spent importing ``modules`` in a new interpreter (interpreter start-up excluded)."""
    out = subprocess.run([sys.executable, "-c", _TIMED.format(modules)], check=True, capture_output=True, text=True)
    return float(out.stdout)


def main() -> dict[str, float]:
    compile_package()
    deps_runs, ours_runs = [], []
    for _ in range(RUNS):
        deps_runs.append(_fresh("httpx, attrs, cattrs"))
        ours_runs.append(_fresh("m365sentinel"))
    deps, ours = statistics.median(deps_runs), statistics.median(ours_runs)
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, m365sentinel; print(sorted(m for m in ('azure.identity', "
            "'m365sentinel.emulator', 'duckdb', 'duckdb_kql') if m in sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"import httpx+attrs+cattrs: {deps * 1000:7.1f} ms (median of {RUNS} fresh interpreters)")
    print(f"import m365sentinel:                {ours * 1000:7.1f} ms")
    verdict("import m365sentinel", ours * 1000, deps * 1000, 1.2, "ms")
    print(f"  heavy modules imported eagerly: {heavy}")
    return {"deps_ms": deps * 1000, "ours_ms": ours * 1000, "ratio": ours / deps}


if __name__ == "__main__":
    main()
