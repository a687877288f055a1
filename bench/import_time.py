"""`import m365sentinel` vs importing its runtime dependencies (httpx, attrs, cattrs, tenacity) themselves.

Median of 5 fresh interpreters each (target: at most 1.2x). azure-identity, the emulator and its engine are
imported only when used, so they are not part of either figure.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 5


def _fresh(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> dict[str, float]:
    base = _fresh("pass")
    deps = statistics.median(_fresh("import httpx, attrs, cattrs, tenacity") for _ in range(RUNS)) - base
    ours = statistics.median(_fresh("import m365sentinel") for _ in range(RUNS)) - base
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
    print(f"import httpx+attrs+cattrs+tenacity: {deps * 1000:7.1f} ms (median of {RUNS}, interpreter start removed)")
    print(f"import m365sentinel:                {ours * 1000:7.1f} ms")
    print(f"ratio: {ours / deps:.2f}x (target <= 1.2x); heavy modules imported eagerly: {heavy}")
    return {"deps_ms": deps * 1000, "ours_ms": ours * 1000, "ratio": ours / deps}


if __name__ == "__main__":
    main()
