"""Shared fixtures for the incident tests: a Connector over pytest-httpx, and one over the emulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from azure.core.credentials import AccessToken

from bench.faces import Face
from m365sentinel._connector import Connector
from m365sentinel.emulator import Emulator

SUB = "d0cfe6b2-9ac0-4464-9919-dccaee2e48c0"
WS = f"/subscriptions/{SUB}/resourceGroups/myRg/providers/Microsoft.OperationalInsights/workspaces/myWorkspace"
ARM = "https://management.azure.com"
SI = f"{ARM}{WS}/providers/Microsoft.SecurityInsights"
GRAPH = "https://graph.microsoft.com/v1.0"
NOW = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)


class Cred:
    """Counts token requests; ``tokens`` is the sequence handed out (the last one repeats)."""

    def __init__(self, tokens=("token-1",)):
        self.tokens = list(tokens)
        self.calls = []

    def get_token(self, *scopes, **kw):
        self.calls.append((scopes, kw))
        token = self.tokens.pop(0) if len(self.tokens) > 1 else self.tokens[0]
        return AccessToken(token, 4_102_444_800)


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def cred():
    return Cred()


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def connector(cred, sleeps):
    c = Connector(WS, credential=cred, sleep=sleeps)
    yield c
    c.close()


@pytest.fixture
def emu():
    e = Emulator(now=NOW, seed=11, incidents=40)
    yield e
    e.close()


def connector_on(emu, sleeps) -> Connector:
    """A Connector over ``emu``'s in-process transport (use it in a ``with`` block)."""
    return Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport(), sleep=sleeps)


def pytest_generate_tests(metafunc):
    """A module with ``BOTH_FACES = True`` runs each test using ``emu_connector`` once per face (bench/faces.py):
    the same body drives the sync Connector and, through the blocking adapter, ``m365sentinel.aio``."""
    if getattr(metafunc.module, "BOTH_FACES", False) and "face_name" in metafunc.fixturenames:
        metafunc.parametrize("face_name", ["sync", "async"], indirect=True)


@pytest.fixture
def face_name(request):
    return getattr(request, "param", "sync")


@pytest.fixture
def emu_connector(emu, sleeps, face_name):
    f = Face(face_name)
    try:
        with f.connector(emu.workspace_resource_id, emu=emu, sleep=sleeps) as c:
            yield c
    finally:
        f.close()


@pytest.fixture
def ctl(emu):
    return emu.incident_control()


def incident(name, modified, *, etag=None, status="New", provider="Microsoft 365 Defender", pid=None, **extra):
    """A minimal ARM incident document."""
    props = {
        "title": f"incident {name}",
        "severity": "Medium",
        "status": status,
        "providerName": provider,
        "createdTimeUtc": "2025-11-01T00:00:00Z",
        "lastModifiedTimeUtc": modified,
        "labels": [],
        "owner": {},
        **extra,
    }
    if pid:
        props["providerIncidentId"] = pid
    return {
        "id": f"{WS}/providers/Microsoft.SecurityInsights/incidents/{name}",
        "name": name,
        "type": "Microsoft.SecurityInsights/incidents",
        "etag": etag or f'"{name}-{modified}"',
        "properties": props,
    }
