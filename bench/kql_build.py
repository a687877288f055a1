"""Build+render the source document's time chart with the builder vs an f-string producing the same text.

Run: ``python -m bench.kql_build`` (from the repository root). Issue 3's target: at most 100x.
Not a test: timings depend on the machine.

The machine may be shared and noisy, so the two are measured in interleaved rounds (each round times the
builder, then the f-string, close together) and the figures printed are medians over the rounds: the median
per-round ratio, and the median time of each. Also printed: the Python function calls per build+render
(cProfile; deterministic), and the same chart written as a chain of public fluent calls, for comparison.
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import timeit
from collections.abc import Callable

from m365sentinel import kql
from m365sentinel.kql import fn

TABLE = "DeviceEvents"
ROUNDS = 15


def build_with_kql() -> str:
    return kql.table_timechart(TABLE).to_kql()


def build_with_fluent_chain() -> str:
    """The same chart through the public fluent API, one call per pipe (what a user would write by hand)."""
    import datetime as dt

    day, window = dt.timedelta(days=1), dt.timedelta(days=14)
    src = kql.table(TABLE)
    now = kql.var("Now")
    t = src.c.TimeGenerated
    counts = src.where(t >= now - window, t < now).summarize(Count=fn.count(), by=fn.bin_at(t, day, now))
    tg, count = kql.col("TimeGenerated"), kql.col("Count")
    chart = (
        kql.range_("TimeGenerated", now - window, now - day, day)
        .extend(Count=0)
        .union(counts, isfuzzy=True)
        .summarize(Count=fn.max(count), by=fn.bin_at(tg, day, now))
        .sort_by(tg.asc())
        .project(Value=fn.iff(fn.isnull(count), 0, count), Time=tg, Legend="Events")
    )
    return chart.paren().render("timechart").let("Now", fn.now()).to_kql()


def build_with_fstring() -> str:
    table, days, step, legend = TABLE, 14, "1d", "Events"
    return (
        "let Now = now();\n"
        f"(range TimeGenerated from Now - {days}d to Now - {step} step {step}\n"
        "| extend Count = 0\n"
        "| union isfuzzy=true (\n"
        f"    {table}\n"
        f"    | where TimeGenerated >= Now - {days}d and TimeGenerated < Now\n"
        f"    | summarize Count = count() by bin_at(TimeGenerated, {step}, Now)\n"
        ")\n"
        f"| summarize Count = max(Count) by bin_at(TimeGenerated, {step}, Now)\n"
        "| sort by TimeGenerated asc\n"
        f'| project Value = iff(isnull(Count), 0, Count), Time = TimeGenerated, Legend = "{legend}")\n'
        "| render timechart"
    )


def _per_call(fn_: Callable[[], str], number: int) -> float:
    return timeit.Timer(fn_).timeit(number=number) / number


def _calls(fn_: Callable[[], str], n: int = 200) -> float:
    """Python function calls (incl. builtins) per call of ``fn_``, counted by cProfile."""
    fn_()  # warm caches that persist by design (schema registry, name quoting)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        fn_()
    prof.disable()
    return pstats.Stats(prof).total_calls / n  # type: ignore[attr-defined,no-any-return]


def measure(builder: Callable[[], str], rounds: int = ROUNDS) -> tuple[float, float, float]:
    """(median builder seconds, median f-string seconds, median per-round ratio) over interleaved rounds."""
    b_times, f_times, ratios = [], [], []
    for _ in range(rounds):
        b = _per_call(builder, 300)
        f = _per_call(build_with_fstring, 30_000)
        b_times.append(b)
        f_times.append(f)
        ratios.append(b / f)
    return statistics.median(b_times), statistics.median(f_times), statistics.median(ratios)


def main() -> float:
    expected = build_with_fstring()
    if build_with_kql() != expected or build_with_fluent_chain() != expected:
        raise SystemExit("the builder and the f-string disagree; fix the benchmark first")
    builder, fstring, ratio = measure(build_with_kql)
    print(f"kql.table_timechart: {builder * 1e6:9.1f} us per build+render  ({_calls(build_with_kql):.0f} calls)")
    print(f"f-string:            {fstring * 1e6:9.3f} us per render")
    verdict = "met" if ratio <= 100 else "NOT met"
    print(f"ratio:               {ratio:9.1f}x  (median of {ROUNDS} interleaved rounds; target <= 100x): {verdict}")
    chain, _, chain_ratio = measure(build_with_fluent_chain, rounds=5)
    print(
        f"fluent chain:        {chain * 1e6:9.1f} us per build+render  ({_calls(build_with_fluent_chain):.0f} calls), "
        f"ratio {chain_ratio:.1f}x (for comparison; not the target)"
    )
    return ratio


if __name__ == "__main__":
    main()
