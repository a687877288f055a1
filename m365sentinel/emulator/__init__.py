"""m365sentinel.emulator — an in-memory Microsoft Sentinel workspace + Defender XDR tenant (DESIGN layer 5).

It answers the REST routes the SDK calls (ARM Microsoft.SecurityInsights, the workspace and subscription
resources, the Log Analytics query API with real KQL execution, a read-only Graph subset) as an httpx
transport and as a loopback HTTP server, with an injectable clock, a deterministic dataset and fault
injection. Layers 1-4 never import it.
Needs the ``emulator`` extra (duckdb-kql); without it, importing this package raises ``MissingExtraError``.

    from datetime import UTC, datetime
    import httpx
    from m365sentinel.emulator import Emulator

    emu = Emulator(now=datetime(2025, 11, 20, 12, tzinfo=UTC), seed=0)
    token = emu.credential().get_token("https://management.azure.com/.default").token
    with httpx.Client(transport=emu.transport(), headers={"Authorization": f"Bearer {token}"}) as client:
        r = client.get(f"https://management.azure.com{emu.workspace_resource_id}?api-version=2023-09-01")
"""

from __future__ import annotations

from m365sentinel._errors import MissingExtraError

# What the ``emulator`` extra installs (duckdb-kql[duckdb]); any other missing module is a bug, not a hint.
_EXTRA_MODULES = frozenset({"duckdb", "duckdb_kql", "antlr4", "pytz"})

try:
    from m365sentinel.emulator._auth import DirectoryUser
    from m365sentinel.emulator._control import IncidentControl
    from m365sentinel.emulator._emulator import Emulator, State
    from m365sentinel.emulator._faults import Faults
    from m365sentinel.emulator._http import RequestRecord
    from m365sentinel.emulator._limits import QueryLimits
    from m365sentinel.emulator._serve import LoopbackCredential, run_server
    from m365sentinel.emulator._server import LoopbackServer
except ModuleNotFoundError as _exc:
    if (_exc.name or "").partition(".")[0] not in _EXTRA_MODULES:
        raise
    raise MissingExtraError("the emulator", "emulator", _exc.name) from _exc

__all__ = [
    "DirectoryUser",
    "Emulator",
    "Faults",
    "IncidentControl",
    "LoopbackCredential",
    "LoopbackServer",
    "QueryLimits",
    "RequestRecord",
    "State",
    "run_server",
]
