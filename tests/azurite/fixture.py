"""Session-scoped pytest fixture ``azurite``: Azurite's blob service (npm ``azurite``, pinned in package.json and
installed by ``make test`` with ``npm ci``), on a loopback port chosen by the system, in a temporary folder;
started on first use, stopped at the end of the session. ``blob_container`` gives each test a fresh container.

The account is Azurite's built-in development account (its name and key are public, documented by Microsoft);
the tests check that the key never shows in a store's repr or errors.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
AZURITE = HERE / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_LISTENING = re.compile(r"successfully listens on (http://127\.0\.0\.1:\d+)")


class Azurite:
    """A running Azurite blob service: ``account_url``, ``connection_string``, ``credential`` (shared key)."""

    def __init__(self, timeout: float = 60.0) -> None:
        if shutil.which("node") is None:
            raise RuntimeError("node is not installed; Azurite needs Node >= 18")
        if not AZURITE.exists():
            raise RuntimeError(f"run `npm ci` in {HERE} first (make test does it)")
        self._folder = tempfile.TemporaryDirectory(prefix="azurite-")
        self._proc = subprocess.Popen(
            [
                str(AZURITE),
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--location",
                self._folder.name,
                "--silent",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        ready = threading.Event()
        found: list[str] = []

        def read() -> None:  # drains the pipe for the whole session, so Azurite never blocks on a full one
            assert self._proc.stdout is not None
            for line in self._proc.stdout:
                self.output.append(line)
                match = _LISTENING.search(line)
                if match and not found:
                    found.append(match.group(1))
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, daemon=True, name="azurite-output")
        self._reader.start()
        if not ready.wait(timeout) or not found:
            self.close()
            raise RuntimeError(f"Azurite did not start within {timeout} s: {''.join(self.output)[-2000:]}")
        self.endpoint = found[0]
        self.account_url = f"{self.endpoint}/{ACCOUNT}"
        self.connection_string = (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={self.account_url};"
        )

    @property
    def credential(self) -> object:
        from azure.core.credentials import AzureNamedKeyCredential

        return AzureNamedKeyCredential(ACCOUNT, KEY)

    def new_container(self) -> str:
        from azure.storage.blob import BlobServiceClient

        name = f"t{uuid.uuid4().hex[:20]}"
        with BlobServiceClient.from_connection_string(self.connection_string) as service:
            service.create_container(name)
        return name

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._reader.join(10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._folder.cleanup()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One Azurite for the whole session (started on first use)."""
    server = Azurite()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def blob_container(azurite: Azurite) -> str:
    """A fresh, empty container on the session's Azurite."""
    return azurite.new_container()
