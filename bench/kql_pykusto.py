"""KQL build + render: this SDK's builder beside pykusto, in the same run (medians of interleaved rounds).

Run: ``python -m bench.kql_pykusto``. pykusto is a bench-only dependency and is not in any extra: pykusto 0.2.0
pins ``pandas<=1.2.4``, which has no wheel for current Pythons, so install it without its pins:
``pip install --no-deps pykusto==0.2.0 azure-kusto-data==3.1.0 && pip install pandas ijson redo``.
Not a test: timings depend on the machine.

Two shapes, written as a user would with each library's public fluent API:
- ``chart``: the source document's time chart pipeline as far as pykusto can express it (pykusto has no
  ``range``, ``union`` or ``let``): ``where`` (two bounds) ``| summarize Count = count() by bin_at(...)
  | sort by ... asc | project Value = iff(isnull(Count), 0, Count), Time = ..., Legend = "Events"``;
- ``short``: ``where TimeGenerated > ago(1d) | summarize count() by bin(TimeGenerated, 1h)``.
Our builder also checks every column against the table schema (pykusto's ``Query()`` has no schema).
Targets (issue 11): at least 2x pykusto's speed on both.
"""

from __future__ import annotations

import datetime as dt
import statistics
import timeit
from collections.abc import Callable

from m365sentinel import kql
from m365sentinel.kql import fn

ROUNDS = 15
DAY, WINDOW, HOUR = dt.timedelta(days=1), dt.timedelta(days=14), dt.timedelta(hours=1)


def ours_chart() -> str:
    q = kql.table("DeviceEvents")
    t, now = q.c.TimeGenerated, fn.now()
    count = kql.col("Count")
    return (
        q.where(t >= now - WINDOW, t < now)
        .summarize(Count=fn.count(), by=fn.bin_at(t, DAY, now))
        .sort_by(kql.col("TimeGenerated").asc())
        .project(Value=fn.iff(fn.isnull(count), 0, count), Time=kql.col("TimeGenerated"), Legend="Events")
        .to_kql()
    )


def ours_short() -> str:
    q = kql.table("DeviceEvents")
    t = q.c.TimeGenerated
    return q.where(t > fn.ago(DAY)).summarize(fn.count(), by=fn.bin(t, HOUR)).to_kql()


def _pykusto() -> tuple[Callable[[], str], Callable[[], str]]:
    from pykusto import Functions as f
    from pykusto import Order, Query
    from pykusto import column_generator as col

    def chart() -> str:
        t, now = col.TimeGenerated, f.now()
        return (
            Query()
            .where((t >= now - WINDOW) & (t < now))
            .summarize(Count=f.count())
            .by(f.bin_at(t, DAY, now))
            .sort_by(col.TimeGenerated, Order.ASC)
            .project(Value=f.iff(f.is_null(col.Count), 0, col.Count), Time=col.TimeGenerated, Legend="Events")
            .render()
        )

    def short() -> str:
        return (
            Query()
            .where(col.TimeGenerated > f.ago(DAY))
            .summarize(f.count())
            .by(f.bin(col.TimeGenerated, HOUR))
            .render()
        )

    return chart, short


def _per_call(fn_: Callable[[], str], number: int) -> float:
    return timeit.Timer(fn_).timeit(number=number) / number


def compare(ours: Callable[[], str], theirs: Callable[[], str], number: int = 2000) -> tuple[float, float, float]:
    """(our median µs, pykusto median µs, median per-round speed-up) over interleaved rounds."""
    ours(), theirs()  # warm caches
    a, b, ratios = [], [], []
    for _ in range(ROUNDS):
        x, y = _per_call(ours, number), _per_call(theirs, number)
        a.append(x)
        b.append(y)
        ratios.append(y / x)
    return statistics.median(a) * 1e6, statistics.median(b) * 1e6, statistics.median(ratios)


def main() -> None:
    try:
        chart, short = _pykusto()
    except ImportError:
        print("pykusto is not installed (see this module's docstring)")
        return
    print("KQL build+render vs pykusto 0.2.0 (same run, medians of", ROUNDS, "interleaved rounds)")
    for name, ours, theirs in (("chart", ours_chart, chart), ("short", ours_short, short)):
        us, them, ratio = compare(ours, theirs)
        verdict = "meets" if ratio >= 2.0 else "misses"
        print(f"  {name:6} ours {us:7.1f} µs  pykusto {them:7.1f} µs  speed-up {ratio:4.2f}x ({verdict} the 2x target)")
    print("  sample texts:")
    print("   ", ours_short().replace("\n", " "), "||", short())


if __name__ == "__main__":
    main()
