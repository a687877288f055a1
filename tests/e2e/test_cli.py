"""The CLI's main job on the emulator (what `make demo` runs), and plan --json for drift checks."""

from __future__ import annotations

import json
import re

from m365sentinel.cli import main


def test_onboard_emulator_prints_plan_apply_empty_plan_incidents_and_series(capsys):
    assert main(["onboard", "--emulator", "--tables", "DeviceEvents"]) == 0
    out = capsys.readouterr().out
    assert out.count("create dataConnectors/") == 2  # once in the plan, once in the apply result
    assert out.count("update alertRules/") == 10
    assert "Second plan (must be empty):" in out and "No changes: the workspace already matches." in out
    assert re.search(r"^  \d+ incidents \(latest state of each\)$", out, re.M)
    totals = re.findall(r"^  total (\d+) over 14 days$", out, re.M)
    assert len(totals) == 2 and int(totals[0]) == 240  # the emulator's Defender incidents of the last 14 days
    assert "let Now = now();" in out and "| render timechart" in out


def test_plan_json_exit_code_says_whether_a_change_is_due(capsys):
    assert main(["plan", "--emulator", "--json", "--exit-code"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["empty"] is False and [c["action"] for c in doc["changes"]][:1] == ["create"]
    assert main(["plan", "--emulator", "--json"]) == 0


def test_bad_workspace_is_reported_before_any_request(capsys):
    assert main(["status", "--workspace", "not-a-resource-id"]) == 1
    err = capsys.readouterr().err
    assert "InvalidInputError" in err and "'not-a-resource-id'" in err
