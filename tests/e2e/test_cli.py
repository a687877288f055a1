"""The CLI's main job on the emulator (what `make demo` runs), plan --json for drift checks, verify, tables."""

from __future__ import annotations

import json
import re
import sys

import pytest

from m365sentinel.cli import main

TEN = (
    "DeviceInfo",
    "DeviceNetworkInfo",
    "DeviceProcessEvents",
    "DeviceNetworkEvents",
    "DeviceFileEvents",
    "DeviceRegistryEvents",
    "DeviceLogonEvents",
    "DeviceImageLoadEvents",
    "DeviceEvents",
    "DeviceFileCertificateInfo",
)


def test_onboard_emulator_covers_the_three_parts_and_ends_all_ingesting(capsys, tmp_path):
    png = tmp_path / "chart.png"
    assert main(["onboard", "--emulator", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    plan, rest = out.split("Applied:", 1)
    assert plan.count("create dataConnectors/") == 1
    assert plan.count("update alertRules/") == 5
    assert "create settings/EntityAnalytics" in plan and "create settings/Ueba" in plan
    assert [t for t in TEN if f"update tables/{t} " in plan] == list(TEN)
    assert plan.count("properties.retentionInDays: 90 -> 180") == 10
    assert "Second plan (must be empty):" in rest and "No changes: the workspace already matches." in rest
    report = rest.split("Data ingestion over the last 14 days", 1)[1]
    verdicts = re.findall(r"^  ([A-Z ]+?) {2,}(\w+) ", report, re.M)
    assert [name for _, name in verdicts] == [
        "Incidents",
        "Alerts",
        "Events",
        *TEN,
        "BehaviorAnalytics",
        "IdentityInfo",
    ]
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
    assert [line["name"] for line in doc["lines"]][:5] == [
        "Incidents",
        "Alerts",
        "Events",
        "DeviceEvents",
        "DeviceProcessEvents",
    ]
    assert len(doc["lines"][0]["series"]["points"]) == 14


def test_tables_lists_the_catalogue_with_retention(capsys):
    assert main(["tables", "--emulator"]) == 0
    out = capsys.readouterr().out
    assert re.search(
        r"^DeviceEvents\s+Microsoft Defender for Endpoint\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+[\d.]+\s+90\s+90$", out, re.M
    )


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
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "m365sentinel.cli",
            "emulator",
            "serve",
            "--port",
            str(port),
            "--now",
            "2026-11-20T12:00:00Z",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [server.stdout.readline() for _ in range(2)]
        assert lines[0].strip() == f"m365sentinel emulator listening on http://127.0.0.1:{port}"
        workspace = lines[1].split("workspace: ", 1)[1].strip()
        argv = [
            "plan",
            "--endpoint",
            f"http://127.0.0.1:{port}",
            "--workspace",
            workspace,
            "--json",
            "--exit-code",
            "--no-entities",
            "--tables",
            "DeviceEvents",
        ]
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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "--emulator", "--tenant-id", "x"], "drop --tenant-id"),
        (["emulator", "serve", "--host", "0.0.0.0"], "loopback addresses only"),
        (["emulator", "serve", "--port", "99999"], "expected 0-65535"),
    ],
)
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


# --- conventions (issue 16): the target, progress, a one-line verdict, one-line errors, help for every option ---
EMULATOR_TARGET = (
    "target: built-in emulator (in memory, seed 0; nothing is sent to Azure). Each run starts a fresh "
    "workspace: 16 days of sample Defender data, the Microsoft 365 Defender connector not yet created"
)
NOT_CONNECTED = "the Microsoft 365 Defender connector is not connected (no MicrosoftThreatProtection data connector)"


def test_status_names_the_emulator_and_ends_with_a_verdict(capsys):
    assert main(["status", "--emulator"]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [EMULATOR_TARGET, "... reading the connector, rules, settings and per-table ingestion"]
    assert out.splitlines()[-1] == f"verdict: Sentinel is onboarded; {NOT_CONNECTED}"
    assert "  Microsoft 365 Defender connector: not connected" in out.splitlines()


def test_verify_agrees_with_status_about_the_connector(capsys):
    """A fresh emulator holds sample data but no connector: verify says so too, instead of only "ingesting"."""
    assert main(["verify", "--emulator", "--tables", "DeviceEvents"]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines()[1:] == ["... running the verification queries", "... reading the connector"]
    assert out.splitlines()[-2:] == [
        f"Connector: {NOT_CONNECTED}",
        "verdict: all 13 checks ingesting, but the Microsoft 365 Defender connector is not connected (`onboard` "
        "connects it)",
    ]
    assert main(["verify", "--emulator", "--json", "--tables", "DeviceEvents"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["connectorConnected"] is False  # stdout stays one JSON document
    assert err.splitlines()[-1].startswith("verdict: all 13 checks ingesting, but")


def test_plan_and_tables_end_with_a_verdict(capsys):
    assert main(["plan", "--emulator", "--no-entities", "--tables", "DeviceEvents"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "verdict: 7 change(s) due (`m365sentinel onboard` applies them)"
    assert main(["tables", "--emulator"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "verdict: 10 of 20 hunting tables received data in the last 14 days"
    )


def test_onboard_against_a_served_emulator_says_why_it_exits_1(capsys):
    from datetime import UTC, datetime

    from m365sentinel.emulator import Emulator

    emu = Emulator(now=datetime(2026, 11, 20, 12, tzinfo=UTC), strict_tokens=False)  # as `emulator serve` runs it
    with emu.serve() as server:
        argv = ["onboard", "--endpoint", server.url, "--workspace", emu.workspace_resource_id, "--png", ""]
        assert main(argv) == 1
    emu.close()
    out, err = capsys.readouterr()
    assert err.splitlines()[0] == (
        f"target: emulator served at {server.url} (its state lasts as long as that "
        f"process), {emu.workspace_resource_id}"
    )
    assert out.splitlines()[-1] == (
        "verdict: onboarded, not done yet: 2 of 15 checks not ingesting: BehaviorAnalytics (not yet populated), "
        "IdentityInfo (not yet populated) (UEBA writes its tables hours after it is enabled: run `verify --ueba` "
        "again later)"
    )


@pytest.mark.parametrize(
    ("argv", "code", "error"),
    [
        (
            ["verify", "--emulator", "--png", "/missing/dir/x.png"],
            2,
            "error: argument --png: '/missing/dir/x.png': folder '/missing/dir' does not exist (see `m365sentinel verify "
            "--help`)",
        ),
        (
            ["verify", "--emulator", "--svg", "x.png"],
            2,
            "error: argument --svg: 'x.png': expected a file name ending in .svg (see `m365sentinel verify --help`)",
        ),
        (
            ["status", "--emulator", "--seed", "abc"],
            2,
            "error: argument --seed: invalid int value: 'abc' (see `m365sentinel status --help`)",
        ),
        (["frobnicate"], 2, "error: argument COMMAND: invalid choice: 'frobnicate'"),
        (
            ["plan", "--emulator", "--retention-days", "0"],
            1,
            "error: InvalidInputError: retention_days for table DeviceInfo must be an int from 4 to 730 (or -1 for the "
            "default), got 0",
        ),
        # usage mistakes the parser cannot see exit 2 too, as documented (they exited 1 with Python's SystemExit(str))
        (["status"], 2, "error: give --emulator, or --workspace <resource id> (with Azure credentials available)"),
        (
            ["plan", "--emulator", "--tenant-id", "x"],
            2,
            "error: --emulator runs on the built-in workspace; drop --tenant-id",
        ),
        (["status", "--emulator", "--json"], 2, "error: status --json reports a fleet: give --workspaces FILE"),
        (
            ["apply", "--emulator"],
            2,
            "error: apply runs over a fleet: give --workspaces FILE (one workspace: `onboard`)",
        ),
        (["query", "--emulator", "SecurityIncident"], 2, "error: query runs over a fleet: give --workspaces FILE"),
        (
            ["plan", "--workspaces", "/missing/ws.txt"],
            2,
            "error: --workspaces '/missing/ws.txt': No such file or directory",
        ),
        (["emulator", "serve", "--port", "99999"], 2, "error: --port 99999: expected 0-65535"),
    ],
)
def test_user_mistakes_are_one_line_errors(capsys, argv, code, error):
    try:
        result = main(argv)
    except SystemExit as exc:  # argparse and the CLI's own checks exit; their message is the error
        result = exc.code if isinstance(exc.code, int) else 1
        if not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    assert result == code
    lines = [x for x in capsys.readouterr().err.splitlines() if not x.startswith(("target: ", "... "))]
    assert len(lines) == 1 and lines[0].startswith(error) and "Traceback" not in lines[0]


def _parsers(parser):
    import argparse

    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_option_has_help_and_no_help_says_default_none():
    from m365sentinel.cli import _parser

    for parser in _parsers(_parser()):
        missing = [a.option_strings for a in parser._actions if a.option_strings and not a.help]
        assert missing == [], parser.prog
        assert "None" not in parser.format_help(), parser.prog


def test_fleet_plan_apply_plan_over_a_served_emulator(capsys, tmp_path):
    """`plan --workspaces FILE --json`: exit 3 before apply, 0 after; 1 with a missing workspace, still reported."""
    from datetime import UTC, datetime

    from m365sentinel.emulator import Emulator

    emu = Emulator(
        now=datetime(2025, 11, 20, 12, tzinfo=UTC), incidents=12, workspaces=3, tenants=2, strict_tokens=False
    )
    ids = emu.workspace_resource_ids
    listed = tmp_path / "workspaces.txt"
    listed.write_text(f"# customers\n{ids[0]}\n{ids[1]}  {emu.workspace_tenants[ids[1]]}  # contoso\n{ids[2]}\n")
    with emu.serve() as server:
        common = ["--endpoint", server.url, "--workspaces", str(listed), "--tables", "DeviceEvents", "--no-entities"]
        assert main(["plan", *common, "--json"]) == 3
        out, err = capsys.readouterr()
        doc = json.loads(out)
        assert (doc["total"], doc["failed"], doc["due"]) == (3, 0, 3)
        assert err.splitlines()[0].startswith("target: 3 workspace(s) listed in")
        assert err.splitlines()[-1] == "verdict: 3 workspace(s), 0 failed, 3 with something due"
        assert main(["apply", *common]) == 0
        assert capsys.readouterr().out.count("applied ") == 3
        assert main(["plan", *common, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["due"] == 0
        listed.write_text(listed.read_text() + f"{ids[2]}-missing\n")
        assert main(["plan", *common, "--json"]) == 1
        doc = json.loads(capsys.readouterr().out)
        assert [w["ok"] for w in doc["workspaces"]] == [True, True, True, False]
        assert doc["workspaces"][3]["error"]["type"] == "NotFoundError"
    emu.close()


def test_fleet_query_over_a_served_emulator(capsys, tmp_path):
    """`query KQL --workspaces FILE --json`: every row with its WorkspaceId; exit 1 with a missing workspace."""
    from datetime import UTC, datetime

    from m365sentinel.emulator import Emulator

    emu = Emulator(now=datetime(2025, 11, 20, 12, tzinfo=UTC), dataset=False, workspaces=3, strict_tokens=False)
    ids = emu.workspace_resource_ids
    for n, rid in enumerate(ids):
        emu.workspace_state(rid).add_rows("SecurityIncident", [{"Title": f"t{n}", "TimeGenerated": emu.clock.now()}])
    listed = tmp_path / "workspaces.txt"
    listed.write_text("\n".join(ids) + "\n")
    with emu.serve() as server:
        common = ["query", "SecurityIncident | project Title", "--endpoint", server.url, "--workspaces", str(listed)]
        assert main([*common, "--json", "--batch-size", "2"]) == 0
        out, err = capsys.readouterr()
        doc = json.loads(out)
        assert sorted(r["Title"] for r in doc["rows"]) == ["t0", "t1", "t2"]
        assert [b["outcome"] for b in doc["batches"]] == ["ok", "ok"]
        assert err.splitlines()[-1] == "verdict: 3 workspace(s), 0 failed, 2 request(s)"
        listed.write_text(listed.read_text() + f"{ids[2]}-missing\n")
        assert main(common) == 1
        out = capsys.readouterr().out
        assert "t2" in out and "-missing: FAILED NotFoundError" in out
    emu.close()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["apply", "--workspace", "x"], "apply runs over a fleet"),
        (["status", "--json"], "status --json reports a fleet"),
        (["plan", "--workspaces", "/nonexistent/ws.txt"], "--workspaces '/nonexistent/ws.txt'"),
        (["query", "SecurityIncident"], "query runs over a fleet"),
    ],
)
def test_bad_fleet_cli_usage_is_one_error_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert message in str(exc.value)


def test_fleet_progress_is_a_bar_on_a_terminal_and_lines_elsewhere():
    """`--workspaces` progress: rich's bar (the `cli` extra) where stderr is a terminal, else about ten lines."""
    import io

    from m365sentinel.cli import _fleet_progress

    shown = io.StringIO()
    with _fleet_progress(3, bar=True, file=shown) as progress:
        for done in (1, 2, 3):
            progress(done, 3, None)
    assert "workspaces" in shown.getvalue() and "3/3" in shown.getvalue()
    lines = io.StringIO()
    with _fleet_progress(20, bar=False, file=lines) as progress:
        for done in range(1, 21):
            progress(done, 20, None)
    assert lines.getvalue().splitlines() == [f"... {n}/20 workspaces done" for n in range(2, 21, 2)]


def test_a_reader_that_goes_away_ends_the_command_quietly(monkeypatch, capsys):
    """`m365sentinel tables --emulator | head -1` printed a BrokenPipeError traceback."""

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["tables", "--emulator"]) == 141
    assert "Traceback" not in capsys.readouterr().err
