"""The pytest plugin as a user meets it: loaded by its entry point, fixtures, markers and indirect parameters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from m365sentinel import Connector, InvalidInputError
from m365sentinel.emulator import Emulator, LoopbackCredential
from m365sentinel.testing.pytest_plugin import ServedEmulator

USER_FILE = Path(__file__).with_name("user_test_file.py")


def test_a_users_ten_line_file_runs_the_connector_flow_and_a_faulted_stream(pytester: pytest.Pytester) -> None:
    # The plugin is not named anywhere: pytest finds it through the installed package's pytest11 entry point.
    pytester.makepyfile(test_user=USER_FILE.read_text("utf-8"))
    # In a subprocess, as a user runs it (an in-process run would drop the modules it imported, duckdb among them).
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_loading_the_plugin_imports_neither_the_emulator_nor_duckdb() -> None:
    code = (
        "import sys\n"
        "import m365sentinel.testing.pytest_plugin\n"
        "print(sorted(m for m in ('duckdb', 'duckdb_kql', 'm365sentinel.emulator', 'pandas', 'polars')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout == "[]\n"


@pytest.mark.sentinel_emulator(seed=4, incidents=12, unified_portal=True)
@pytest.mark.sentinel_faults(query_size_limit=3, unordered_lists={"seed": 1})
def test_markers_configure_the_emulator_and_its_faults(sentinel_emulator: Emulator) -> None:
    assert sentinel_emulator.state.unified_portal is True
    assert sentinel_emulator.faults.pending == 0  # switches, not queued one-shot faults
    with Connector(
        sentinel_emulator.workspace_resource_id,
        credential=sentinel_emulator.credential(),
        transport=sentinel_emulator.transport(),
    ) as connector:
        result = connector.query("range x from 1 to 10 step 1", timespan="PT1H")
    assert (result.is_partial, len(result.primary)) == (True, 3)


@pytest.mark.sentinel_faults(server_error={"times": 1, "status": 500})
@pytest.mark.parametrize(
    "sentinel_emulator", [{"incidents": 5, "faults": {"server_error": {"times": 2, "status": 503}}}], indirect=True
)
def test_an_indirect_parameter_wins_over_the_marker(sentinel_emulator: Emulator, sentinel_connector: Connector) -> None:
    assert len(sentinel_emulator.incident_control().names()) == 5
    assert sentinel_emulator.faults.pending == 2
    sentinel_connector.status()  # both 503s are retried (without waiting)
    first = sentinel_emulator.requests[:3]
    assert sentinel_emulator.faults.pending == 0
    assert [(r.method, r.path) for r in first] == [(first[0].method, first[0].path)] * 3


@pytest.mark.sentinel_emulator(strict_tokens=False)
def test_served_emulator_answers_over_a_real_socket(served_sentinel_emulator: ServedEmulator) -> None:
    served = served_sentinel_emulator
    assert served.url.startswith("http://127.0.0.1:")
    with served.connector() as connector:
        assert connector.incidents_and_alerts().apply().writes == 1
    assert served.emulator.writes()[0].method == "PUT"
    # What a client in another process does: its own HTTP client and LoopbackCredential tokens.
    token = LoopbackCredential().get_token("https://management.azure.com/.default").token
    answer = httpx.get(
        f"{served.url}{served.emulator.workspace_resource_id}?api-version=2023-09-01",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (answer.status_code, answer.json()["properties"]["customerId"]) == (200, served.emulator.customer_id)


def test_a_wrong_fault_or_parameter_is_an_invalid_input_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import pytest\n"
        "@pytest.mark.sentinel_faults(no_such_fault=True)\n"
        "def test_fault(sentinel_emulator):\n"
        "    pass\n"
        "@pytest.mark.parametrize('sentinel_emulator', [3], indirect=True)\n"
        "def test_param(sentinel_emulator):\n"
        "    pass\n"
        "@pytest.mark.sentinel_faults(take_partial=True)\n"  # a hook of emu.faults, not a fault
        "def test_helper(sentinel_emulator):\n"
        "    pass\n"
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines_random(
        [
            "*InvalidInputError: sentinel_faults: unknown fault 'no_such_fault'; expected one of [[]*'unordered_lists'*",
            "*InvalidInputError: sentinel_emulator parameter 3: expected a dict of Emulator keyword arguments*",
            "*InvalidInputError: sentinel_faults: unknown fault 'take_partial'; expected one of *",
        ]
    )
    kinds = next(line for line in result.stdout.lines if "unknown fault 'take_partial'" in line)
    assert "'server_error'" in kinds and "'fire'" not in kinds and "'clear'" not in kinds
    assert InvalidInputError.__name__ == "InvalidInputError"  # the type the lines above name
