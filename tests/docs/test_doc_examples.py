"""Every Python example of the docs site (docs/**/*.md) and the README runs: on the emulator as written; marked
``<!-- example: pytest -->`` on the line before its fence, as a test file through pytest (with the m365sentinel
plugin); marked ``<!-- example: azure -->`` (it needs a real tenant), type-checked by mypy --strict.

The runnable blocks of one page share one namespace, in page order (a page reads as one session); they run in a
temporary folder, so files they write land there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
USER_FILE = ROOT / "tests" / "plugin" / "user_test_file.py"
AZURE = "<!-- example: azure -->"
PYTEST = "<!-- example: pytest -->"
BLOCK = re.compile(r"```python\n(.*?)^```$", re.M | re.S)


def examples(page: Path) -> list[tuple[str, int, str]]:
    """(kind: "run", "pytest" or "azure"; line number; code) of each ```python block of ``page``."""
    text = page.read_text("utf-8")
    out = []
    for m in BLOCK.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        kind = {AZURE: "azure", PYTEST: "pytest"}.get(before, "run")
        out.append((kind, text.count("\n", 0, m.start()) + 2, m.group(1)))
    return out


def blocks(page: Path) -> list[tuple[bool, int, str]]:
    """(azure only?, line number, code) of the blocks that run here or type-check (pytest files aside)."""
    return [(kind == "azure", line, code) for kind, line, code in examples(page) if kind != "pytest"]


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


RUNNABLE = [p for p in PAGES if any(not azure for azure, _, _ in blocks(p))]


PYTEST_FILES = [(p, line, code) for p in PAGES for kind, line, code in examples(p) if kind == "pytest"]


def test_the_pages_have_examples_of_every_kind() -> None:
    # A guard against a regex that silently matches nothing (then every test below would pass vacuously).
    assert {_name(p) for p in RUNNABLE} >= {"docs/quickstart.md", "docs/guides/streaming.md", "README.md"}
    assert any(azure for p in PAGES for azure, _, _ in blocks(p))
    assert len(PYTEST_FILES) >= 3


@pytest.mark.parametrize(("page", "line", "code"), PYTEST_FILES, ids=[f"{_name(p)}:{n}" for p, n, _ in PYTEST_FILES])
def test_test_file_examples_pass_under_pytest(page: Path, line: int, code: str, pytester: pytest.Pytester) -> None:
    if code == USER_FILE.read_text("utf-8"):
        return  # the plugin's ten-line example: tests/plugin runs that very file
    pytester.makepyfile(test_example=code)
    # In a subprocess: an in-process run drops the modules it imported (duckdb cannot be imported twice).
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1 and set(outcomes) <= {"passed"}, (
        f"{_name(page)}:{line}\n{result.stdout.str()}"
    )


@pytest.mark.parametrize("page", RUNNABLE, ids=_name)
def test_runnable_examples_run_on_the_emulator(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for azure, line, code in blocks(page):
        if not azure:
            # Line numbers kept, so a failure points at the page's own line.
            exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)
    from m365sentinel import Connector
    from m365sentinel.emulator import Emulator

    for value in namespace.values():  # release what the page left open (closing twice is harmless)
        if isinstance(value, (Connector, Emulator)):
            value.close()


def test_azure_only_examples_type_check(tmp_path: Path) -> None:
    from mypy import api

    files = []
    for page in PAGES:
        if any(azure for azure, _, _ in blocks(page)):
            module = tmp_path / (re.sub(r"\W", "_", _name(page).removesuffix(".md")) + ".py")
            module.write_text(_concat(page), "utf-8")
            files.append(str(module))
    # mypy --strict, as the package itself; a warm cache keeps this to a few seconds after the first run.
    out, err, status = api.run(["--strict", "--cache-dir", str(ROOT / ".mypy_cache" / "docs"), *files])
    assert (status, err) == (0, ""), out


def _concat(page: Path) -> str:
    """The page's Azure-only blocks as one module, each block at its own line number (blank lines between)."""
    lines: list[str] = []
    for azure, line, code in blocks(page):
        if azure:
            lines += [""] * (line - 1 - len(lines))
            lines += code.rstrip("\n").split("\n")
    return "\n".join(lines) + "\n"
