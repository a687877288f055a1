"""The analytics rule templates and sample queries the SDK ships or reads in its tests (shared by
tests/content/test_parse_clean.py and bench/content_parse.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "reference/samples"


def queries() -> Iterator[tuple[str, str, str]]:
    """``(source, name, kql)`` of every template and sample query: the emulator's Defender XDR solution (from the
    content repository's YAML), the official alertRuleTemplates examples, the YAML files, the sample queries."""
    import yaml

    from m365sentinel._content import sample_queries

    solution = json.loads(files("m365sentinel.emulator._data").joinpath("defender_xdr_solution.json").read_text())
    for t in solution["templates"]:
        yield "emulator solution", t["properties"]["displayName"], t["properties"]["query"]
    for name in ("GetAlertRuleTemplates.json", "GetAlertRuleTemplateById.json"):
        body = json.loads((SAMPLES / "arm_rest_examples/2025-09-01/alertRuleTemplates" / name).read_text())
        body = body["responses"]["200"]["body"]
        for item in body.get("value", [body]):
            if "query" in item["properties"]:
                yield f"example {name}", item["properties"]["displayName"], item["properties"]["query"]
    for path in sorted((SAMPLES / "analytic_rules").rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        yield "content repository YAML", doc["name"], doc["query"]
    for s in sample_queries():
        yield "sample queries", s.title, s.to_kql()
