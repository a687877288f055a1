"""Every analytics rule template and sample query the SDK ships or reads in its tests, parsed by Microsoft's KQL
parser against Sentinel's schemas (the census of bench/content_parse.py, asserted), and the sample queries run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from content.content_queries import SAMPLES, queries
from m365sentinel import Connector
from m365sentinel._content import AnalyticsRule, sample_queries

# The one exception: a template of the real solution that reads a table Sentinel never receives (DeviceTvm*); the
# SDK refuses a rule from it before any write (tests/content/test_rules.py).
NOT_SENTINEL = "Execution of software vulnerable to webp buffer overflow of CVE-2023-4863"


def test_every_template_and_sample_query_parses_clean(kql_parser: Any, capsys: Any) -> None:
    counts: dict[str, list[int]] = {}
    unclean = []
    for source, name, text in queries():
        ok = kql_parser.check(text)["diagnostics"] == []
        counts.setdefault(source, [0, 0])
        counts[source][0] += ok
        counts[source][1] += 1
        if not ok:
            unclean.append((source, name))
    with capsys.disabled():
        print("\n" + "\n".join(f"{s}: {c} of {n} parse clean" for s, (c, n) in counts.items()))
    assert {s: tuple(c) for s, c in counts.items()} == {
        "emulator solution": (9, 10),
        "example GetAlertRuleTemplates.json": (1, 1),
        "example GetAlertRuleTemplateById.json": (1, 1),
        "content repository YAML": (9, 10),
        "sample queries": (4, 4),
    }
    assert unclean == [("emulator solution", NOT_SENTINEL), ("content repository YAML", NOT_SENTINEL)]


def test_every_shipped_template_but_one_makes_a_valid_rule() -> None:
    made = []
    for path in sorted((SAMPLES / "analytic_rules").rglob("*.yaml")):
        try:
            made.append(AnalyticsRule.from_yaml(path.read_text(encoding="utf-8")).display_name)
        except ValueError as exc:
            assert NOT_SENTINEL in str(exc) and "table-not-streamed" in str(exc)
    assert len(made) == 9


def test_sample_queries_run_on_the_emulator() -> None:
    from m365sentinel.emulator import Emulator

    emu = Emulator(now=datetime(2026, 11, 20, 12, tzinfo=UTC), seed=0)
    with Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as c:
        results = [c.query(s.query, timespan=s.timespan).primary for s in sample_queries()]
    emu.close()
    assert [t.column_names[:3] for t in results] == [
        ("AlertLink", "AlertName", "AlertSeverity"),
        ("Timestamp", "DeviceName", "RegistryKey"),
        ("Timestamp", "DeviceName", "InitiatingProcessFileName"),
        ("Timestamp", "DeviceName", "FileName"),
    ]
    assert [len(t) for t in results] == [63, 0, 0, 0]  # the dataset has Defender alerts, no such device events
