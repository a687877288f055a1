"""Benchmark: a 200,000-row Log Analytics result to a pandas DataFrame, beside azure-monitor-query's recipe.

Run: ``python -m bench.to_pandas [--rows N] [--repeat K]`` (needs pandas: the ``pandas`` extra).

Both sides start from the same response bytes (the 7-column result of ``bench/query_result.py``) and end with a
DataFrame:

- sdk: ``QueryResult.from_json(data).to_pandas()``: typed columns (``datetime64[us, UTC]``, nullable ``Int64``,
  ``Float64``, ``boolean``, ``string``; dynamic cells decoded to Python objects);
- azure: the recipe azure-monitor-query documents, ``pd.DataFrame(data=table.rows, columns=table.columns)``, over
  the ``LogsTable`` its client builds from the same JSON (``json.loads`` + ``LogsTable._from_generated``, as
  ``LogsQueryClient.query_workspace`` does); its dynamic cells stay JSON text. Skipped when azure-monitor-query is
  not installed (a bench-only install: ``pip install azure-monitor-query``; never a dependency of the SDK).

Runs alternate between the sides in one process; the median of ``--repeat`` runs is reported with the ratio.
Target: the SDK's typed frame in no more time than the recipe's (ratio <= 1.0).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench.query_result import generate


def _sdk(data: bytes) -> Any:
    from m365sentinel.models import QueryResult

    return QueryResult.from_json(data).to_pandas()


def _azure_recipe() -> Callable[[bytes], Any] | None:
    try:
        from azure.monitor.query import LogsTable  # type: ignore[import-not-found]
    except ImportError:
        return None
    import pandas as pd

    def run(data: bytes) -> Any:
        table = LogsTable._from_generated(json.loads(data)["tables"][0])  # what LogsQueryClient builds per table
        return pd.DataFrame(data=table.rows, columns=table.columns)  # the documented recipe

    return run


def _time(fn: Callable[[bytes], Any], data: bytes) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    frame = fn(data)
    return time.perf_counter() - t0, frame


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5, help="runs per side; the median is reported")
    args = ap.parse_args(argv)
    try:
        import pandas  # noqa: F401
    except ImportError:
        print("skipped: pandas is not installed (pip install 'm365sentinel[pandas]')")
        return 0
    sides: dict[str, Callable[[bytes], Any]] = {"sdk": _sdk}
    azure = _azure_recipe()
    if azure is not None:
        sides["azure"] = azure
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "result.json")
        size = generate(path, args.rows)
        with open(path, "rb") as fh:
            data = fh.read()
    print(f"query result: {args.rows:,} rows, {size / 1e6:.1f} MB, 7 columns; bytes -> pandas DataFrame")
    times: dict[str, list[float]] = {name: [] for name in sides}
    dtypes: dict[str, str] = {}
    for _ in range(args.repeat):
        for name, fn in sides.items():
            seconds, frame = _time(fn, data)
            times[name].append(seconds)
            dtypes[name] = ", ".join(str(t) for t in frame.dtypes)
            del frame
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name in sides:
        print(f"{name:>6}: median {medians[name]:.3f} s of {args.repeat}  dtypes: {dtypes[name]}")
    if "azure" not in medians:
        print(" azure: skipped (azure-monitor-query not installed; pip install azure-monitor-query)")
        return 0
    ratio = medians["sdk"] / medians["azure"]
    print(f"sdk / azure recipe: x{ratio:.2f}; target <= 1.0: {'met' if ratio <= 1.0 else 'NOT met'}")
    return 0 if ratio <= 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
