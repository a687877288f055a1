"""The CLI's main job on the emulator (what `make demo` runs), plan --json for drift checks, verify, tables."""

from __future__ import annotations

import json
import re

import pytest

from m365sentinel.cli import main

TEN = ("DeviceInfo", "DeviceNetworkInfo", "DeviceProcessEvents", "DeviceNetworkEvents", "DeviceFileEvents",
       "DeviceRegistryEvents", "DeviceLogonEvents", "DeviceImageLoadEvents", "DeviceEvents", "DeviceFileCertificateInfo")


def test_onboard_emulator_covers_the_three_parts_and_ends_all_ingesting(capsys, tmp_path):
    png = tmp_path / "chart.png"
    assert main(["onboard", "--emulator", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    plan, rest = out.split("Applied:", 1)
    assert plan.count("create dataConnectors/") == 1
    assert plan.count("update alertRules/") == 5
    assert "create settings/EntityAnalytics" in plan and "create settings/Ueba" in plan
    assert [t for t in TEN if f"update tables/{t} " in plan] == list(TEN)
    assert plan.count('properties.retentionInDays: 90 -> 180') == 10
    assert "Second plan (must be empty):" in rest and "No changes: the workspace already matches." in rest
    report = rest.split("Data ingestion over the last 14 days", 1)[1]
    verdicts = re.findall(r"^  ([A-Z ]+?) {2,}(\w+) ", report, re.M)
    assert [name for _, name in verdicts] == ["Incidents", "Alerts", "Events", *TEN, "BehaviorAnalytics", "IdentityInfo"]
    assert {v for v, _ in verdicts} == {"INGESTING"}
    assert "240 incidents created in 14 days" in report  # the emulator's Defender incidents of the window
    assert "let Now = now();" in report and "| render timechart" in report
    assert f"chart written to {png}" in out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plan_json_exit_code_says_whether_a_change_is_due(capsys):
    assert main(["plan", "--emulator", "--json", "--exit-code", "--no-entities", "--tables", "DeviceEvents"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["empty"] is False and [c["action"] for c in doc["changes"]][:1] == ["create"]
    assert [c["resourceType"] for c in doc["changes"]] == ["dataConnectors"] + ["alertRules"] * 5 + ["tables"]
    assert main(["plan", "--emulator", "--json", "--no-entities", "--tables", "DeviceEvents"]) == 3  # --json: always
    capsys.readouterr()
    assert main(["plan", "--emulator", "--no-entities", "--tables", "DeviceEvents"]) == 0  # text without --exit-code


def test_verify_json_on_a_fresh_emulator(capsys):
    assert main(["verify", "--emulator", "--json", "--tables", "DeviceEvents", "DeviceProcessEvents"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["allIngesting"] is True
    assert [line["name"] for line in doc["lines"]][:5] == ["Incidents", "Alerts", "Events", "DeviceEvents",
                                                           "DeviceProcessEvents"]
    assert len(doc["lines"][0]["series"]["points"]) == 14


def test_tables_lists_the_catalogue_with_retention(capsys):
    assert main(["tables", "--emulator"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^DeviceEvents\s+Microsoft Defender for Endpoint\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+[\d.]+\s+90\s+90$",
                     out, re.M)


@pytest.mark.parametrize("argv", [["status", "--workspace", "not-a-resource-id"]])
def test_bad_workspace_is_reported_before_any_request(capsys, argv):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "InvalidInputError" in err and "'not-a-resource-id'" in err


def test_cli_against_an_emulator_served_in_another_process(capsys):
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "m365sentinel.cli", "emulator", "serve", "--port", str(port),
                               "--now", "2026-11-20T12:00:00Z"], stdout=subprocess.PIPE, text=True)
    try:
        lines = [server.stdout.readline() for _ in range(2)]
        assert lines[0].strip() == f"m365sentinel emulator listening on http://127.0.0.1:{port}"
        workspace = lines[1].split("workspace: ", 1)[1].strip()
        argv = ["plan", "--endpoint", f"http://127.0.0.1:{port}", "--workspace", workspace, "--json", "--exit-code",
                "--no-entities", "--tables", "DeviceEvents"]
        assert main(argv) == 3
        doc = json.loads(capsys.readouterr().out)
        assert doc["workspace"] == workspace and doc["changes"][0]["resourceType"] == "dataConnectors"
        target = argv[1:5]
        onboard = ["onboard", *target, "--no-entities", "--tables", "DeviceEvents", "--png", ""]
        assert main(onboard) == 0  # the served workspace keeps its state between commands
        capsys.readouterr()
        assert main(argv) == 0  # no change due: exit 0
        assert json.loads(capsys.readouterr().out)["empty"] is True
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()


@pytest.mark.parametrize(("argv", "message"), [
    (["plan", "--emulator", "--tenant-id", "x"], "drop --tenant-id"),
    (["emulator", "serve", "--host", "0.0.0.0"], "loopback addresses only"),
    (["emulator", "serve", "--port", "99999"], "expected 0-65535"),
])
def test_bad_cli_combinations_exit_with_a_message(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert message in str(exit_.value)


def test_version_prints_the_package_version(capsys):
    from m365sentinel import __version__

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"m365sentinel {__version__}\n"
