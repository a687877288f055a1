"""The README's offline snippet runs as written (it is the first thing a new user copies)."""

import re
from pathlib import Path


def test_readme_emulator_snippet_runs():
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    block = re.search(r"The same against the emulator, offline.*?```python\n(.*?)```", text, re.S)
    assert block is not None
    namespace: dict[str, object] = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    connector = namespace["connector"]
    assert connector.incidents_and_alerts().plan().changes  # a usable, connected-to-emulator Connector
    connector.close()
