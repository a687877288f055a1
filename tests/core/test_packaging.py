"""What an installed package promises: `python -m m365sentinel`, the version, and a typed error naming the extra
for every optional feature used without it (the wheel smoke test in CI checks the same without the modules)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from importlib.metadata import version

import pytest

import m365sentinel
from m365sentinel import MissingExtraError, SentinelError
from m365sentinel._charts import ChartsUnavailableError

EMULATOR_HINT = "the emulator needs the 'emulator' extra: pip install 'm365sentinel[emulator]'"


def _run(code: str, *blocked: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where the ``blocked`` modules cannot be imported (as if not installed)."""
    block = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
    return subprocess.run([sys.executable, "-c", block + code], capture_output=True, text=True, timeout=120)


def test_version_matches_the_installed_distribution() -> None:
    assert m365sentinel.__version__ == version("m365sentinel")


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "m365sentinel", "--version"], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout == f"m365sentinel {m365sentinel.__version__}\n"


def test_missing_extra_error_is_typed_and_pickles() -> None:
    exc = MissingExtraError("the emulator", "emulator", "duckdb")
    assert isinstance(exc, SentinelError) and isinstance(exc, ImportError)
    assert str(exc) == EMULATOR_HINT
    back = pickle.loads(pickle.dumps(exc))
    assert (type(back), str(back), back.feature, back.extra, back.name) == (
        MissingExtraError,
        EMULATOR_HINT,
        "the emulator",
        "emulator",
        "duckdb",
    )
    charts = pickle.loads(pickle.dumps(ChartsUnavailableError("writing chart files (matplotlib)", "charts")))
    assert isinstance(charts, MissingExtraError) and charts.extra == "charts"


@pytest.mark.parametrize("missing", ["duckdb", "duckdb_kql"])
def test_emulator_without_its_extra_names_the_extra(missing: str) -> None:
    code = (
        "import m365sentinel\n"
        "try:\n"
        "    from m365sentinel.emulator import Emulator\n"
        "except m365sentinel.MissingExtraError as exc:\n"
        "    print(type(exc).__name__, exc.extra, exc.name, isinstance(exc.__cause__, ModuleNotFoundError))\n"
        "    print(exc)\n"
    )
    out = _run(code, missing)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == f"MissingExtraError emulator {missing} True\n{EMULATOR_HINT}\n"


def test_another_missing_module_is_not_blamed_on_the_extra() -> None:
    out = _run("import m365sentinel.emulator", "m365sentinel.emulator._faults")
    assert out.returncode == 1
    assert out.stderr.splitlines()[-1].startswith("ModuleNotFoundError: import of m365sentinel.emulator._faults halted")


def test_cli_onboard_emulator_without_the_extra_prints_one_line_and_exits_1() -> None:
    code = "sys.argv = ['m365sentinel', 'onboard', '--emulator']\nimport runpy\nrunpy.run_module('m365sentinel', run_name='__main__')"
    out = _run(code, "duckdb")
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr == f"error: MissingExtraError: {EMULATOR_HINT}\n"
