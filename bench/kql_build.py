"""Build+render the source document's time chart with the builder vs an f-string producing the same text.

Run: ``python -m bench.kql_build`` (from the repository root). Prints both timings and their ratio
(issue 3's target: at most 100x). Not a test: timings depend on the machine.
"""

from __future__ import annotations

import timeit

from m365sentinel import kql

TABLE = "DeviceEvents"


def build_with_kql() -> str:
    return kql.table_timechart(TABLE).to_kql()


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


def _best(fn: object, number: int) -> float:
    timer = timeit.Timer(fn)  # type: ignore[arg-type]
    return min(timer.repeat(repeat=5, number=number)) / number


def main() -> float:
    if build_with_kql() != build_with_fstring():
        raise SystemExit("the builder and the f-string disagree; fix the benchmark first")
    builder = _best(build_with_kql, 2_000)
    fstring = _best(build_with_fstring, 200_000)
    ratio = builder / fstring
    print(f"kql builder: {builder * 1e6:9.1f} us per build+render")
    print(f"f-string:    {fstring * 1e6:9.3f} us per render")
    print(f"ratio:       {ratio:9.1f}x  (target <= 100x)")
    return ratio


if __name__ == "__main__":
    main()
