"""Session-scoped pytest fixture ``kql_parser``: one long-lived node process running harness.js.

The harness wraps Microsoft's KQL parser (npm ``@kusto/language-service-next``, pinned in package.json and
installed by ``make test`` with ``npm ci``). The schema loaded into it is the project's own table schemas
(``m365sentinel/_data/tables.json``) plus the extra schemas shipped in ``m365sentinel/kql/_schemas/``.

Usage in a test::

    def test_x(kql_parser):
        kql_parser.assert_clean("SecurityIncident | take 1")
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
HARNESS = HERE / "harness.js"
NODE_MODULES = HERE / "node_modules"


def load_schema_tables() -> dict[str, str]:
    """Every table the project knows, as ``{name: "(col:type, ...)"}`` for the parser."""
    from m365sentinel.kql import schema_registry

    return {name: table.shape() for name, table in schema_registry().items()}


class KqlParser:
    """A running harness process. Not thread-safe beyond the internal lock; one per session."""

    def __init__(self, tables: Mapping[str, str], functions: Mapping[str, tuple[str, str]] | None = None) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed; the KQL parser harness needs Node >= 18")
        if not (NODE_MODULES / "@kusto" / "language-service-next").is_dir():
            raise RuntimeError(f"run `npm ci` in {HERE} first (make test does it)")
        self._proc = subprocess.Popen(
            [node, str(HARNESS)],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._lock = threading.Lock()
        self._next = 0
        reply = self._call(
            {"op": "schema", "tables": dict(tables), "functions": {k: list(v) for k, v in (functions or {}).items()}}
        )
        if not reply.get("ok"):
            raise RuntimeError(f"schema refused by the parser harness: {reply}")

    def _call(self, msg: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._next += 1
            msg = {**msg, "id": self._next}
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.write(json.dumps(msg) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the KQL parser harness exited")
        reply: dict[str, Any] = json.loads(line)
        if reply.get("id") != msg["id"]:
            raise RuntimeError(f"harness reply out of order: {reply}")
        if "error" in reply:
            raise RuntimeError(f"harness error: {reply['error']}")
        return reply

    def check(self, query: str, workspaces: list[str] | None = None) -> dict[str, Any]:
        """Diagnostics (errors and warnings) and inferred result columns of ``query``; ``workspaces``: ids that
        Log Analytics' ``workspace("<id>")`` resolves (each with the same tables)."""
        msg: dict[str, Any] = {"op": "check", "query": query}
        if workspaces:
            msg["workspaces"] = list(workspaces)
        return self._call(msg)

    def assert_clean(self, query: str, workspaces: list[str] | None = None) -> list[tuple[str, str]]:
        """Fail unless ``query`` has zero diagnostics; return the inferred ``[(column, type)]``."""
        reply = self.check(query, workspaces)
        assert reply["diagnostics"] == [], f"parser diagnostics for:\n{query}\n{reply['diagnostics']}"
        return [(c["name"], c["type"]) for c in reply["columns"] or []]

    def literal(self, text: str) -> dict[str, Any]:
        """Parse ``print x = <text>``: diagnostics, the tokens of ``text``, the parser's literal values."""
        return self._call({"op": "literal", "text": text})

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


@pytest.fixture(scope="session")
def kql_parser() -> Iterator[KqlParser]:
    """One parser process for the whole session, loaded with the project's table schemas."""
    parser = KqlParser(load_schema_tables())
    try:
        yield parser
    finally:
        parser.close()
