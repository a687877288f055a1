"""Shared by the benchmarks: fresh-interpreter runs, interleaved rounds, medians, peak RSS and verdict lines.

The machine is shared and noisy: every figure is the median of several fresh interpreters, and the modes of one
benchmark are interleaved round by round so that background load hits them alike. Each mode is printed beside
the floor measured in the same run.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence


def peak_rss_mib() -> float:
    """This process's peak RSS in MiB.

    ``VmHWM`` is reset by exec (a new address space); ``ru_maxrss`` is not on Linux: a child started from a big
    parent would report the parent's peak. ``ru_maxrss`` (KiB on Linux) is the fallback elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(module: str, *args: str) -> dict[str, float]:
    """Run ``python -m module *args`` in a fresh interpreter; its last stdout line is a JSON object of figures."""
    out = subprocess.run(
        [sys.executable, "-m", module, *args], check=True, capture_output=True, text=True
    ).stdout.strip()
    result: dict[str, float] = json.loads(out.splitlines()[-1])
    return result


def interleaved(
    modes: Sequence[str], repeat: int, run: Callable[[str], dict[str, float]]
) -> dict[str, dict[str, float]]:
    """``run(mode)`` ``repeat`` times per mode, round by round; the median of each figure per mode."""
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for _ in range(repeat):
        for mode in modes:
            runs[mode].append(run(mode))
    return {m: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for m, rs in runs.items()}


def verdict(name: str, value: float, floor: float, target: float, unit: str = "s") -> bool:
    """Print ``name: value (floor F) = ratio x (target <= T x): met`` and return whether it is met."""
    ratio = value / floor
    ok = ratio <= target
    print(
        f"  {name}: {value:.3f} {unit} beside the floor's {floor:.3f} {unit} = {ratio:.2f}x "
        f"(target <= {target}x): {'met' if ok else 'NOT met'}"
    )
    return ok
