"""Shared fixtures: a pinned clock, emulators, and a tiny authenticated client per audience."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from m365sentinel.emulator import Emulator

NOW = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
ARM = "https://management.azure.com"
LA = "https://api.loganalytics.io"
SCOPES = {
    ARM: "https://management.azure.com/.default",
    LA: "https://api.loganalytics.io/.default",
    "https://api.loganalytics.azure.com": "https://api.loganalytics.io/.default",
    "https://graph.microsoft.com": "https://graph.microsoft.com/.default",
}
PREVIEW = "2025-10-01-preview"
INCIDENTS = "2025-09-01"


class Api:
    """An httpx client over the emulator that adds the right bearer token per host."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.cred = emu.credential()
        self.client = httpx.Client(transport=emu.transport(), timeout=10)

    def token(self, url: str) -> str:
        scope = next(s for host, s in SCOPES.items() if url.startswith(host))
        return self.cred.get_token(scope).token

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": "Bearer " + self.token(url), **kw.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kw)

    def ws(self, tail: str, version: str = PREVIEW) -> str:
        sep = "&" if "?" in tail else "?"
        return f"{ARM}{self.emu.workspace_resource_id}/providers/Microsoft.SecurityInsights/{tail}{sep}api-version={version}"

    def query(self, query: str, timespan: str | None = "P14D") -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if timespan is not None:
            body["timespan"] = timespan
        return self.request("POST", f"{LA}/v1/workspaces/{self.emu.customer_id}/query", json=body)


@pytest.fixture(scope="session")
def shared_emu() -> Iterator[Emulator]:
    """Read-only tests share one full emulator (building the dataset takes about a second)."""
    emu = Emulator(now=NOW, seed=0)
    yield emu
    emu.close()


@pytest.fixture
def shared(shared_emu: Emulator) -> Iterator[Api]:
    api = Api(shared_emu)
    yield api
    api.client.close()


@pytest.fixture
def fresh() -> Iterator[Api]:
    """A small emulator a test may change (30 incidents)."""
    emu = Emulator(now=NOW, seed=1, incidents=30)
    api = Api(emu)
    yield api
    api.client.close()
    emu.close()


@pytest.fixture
def bare() -> Iterator[Api]:
    """No dataset: only the ARM resources seeded from the official examples."""
    emu = Emulator(now=NOW, dataset=False)
    api = Api(emu)
    yield api
    api.client.close()
    emu.close()
