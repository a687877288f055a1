"""Shared by the benchmarks: fresh-interpreter runs, interleaved rounds, medians, peak RSS and verdict lines.

The machine is shared and noisy: every figure is the median of several fresh interpreters, and the modes of one
benchmark are interleaved round by round so that background load hits them alike. Each mode is printed beside
the floor measured in the same run.
"""

from __future__ import annotations

import json
import os
import resource
import ssl
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


def compile_package() -> None:
    """Write m365sentinel's bytecode before measuring.

    pip compiles installed packages; an editable checkout run under ``PYTHONDONTWRITEBYTECODE`` (as on the CI
    machines) would compile every module from source in every fresh interpreter, a cost no user pays. Compare like
    with like: bytecode on both sides."""
    import compileall
    from pathlib import Path

    import m365sentinel

    compileall.compile_dir(str(Path(m365sentinel.__file__).parent), quiet=1)


def loopback_tls(directory: str) -> tuple[ssl.SSLContext, str]:
    """A throwaway CA and a certificate for 127.0.0.1 (``trustme``, the test extra): the server-side context to
    serve with, and the path of the CA's PEM file that clients trust (``ssl.create_default_context(cafile=)``)."""
    import trustme

    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    path = os.path.join(directory, "loopback-ca.pem")
    ca.cert_pem.write_to_path(path)
    return server, path
