"""The blocking server entry used by ``python -m m365sentinel.emulator serve`` and the project CLI."""

from __future__ import annotations

import sys
import time
from datetime import datetime

from azure.core.credentials import AccessToken

__all__ = ["run_server"]


class LoopbackCredential:
    """A TokenCredential for clients in another process than ``run_server``: it mints the ``emu-<audience host>-<n>``
    tokens that server accepts. Fake tokens, meaningful to the emulator only."""

    def __init__(self) -> None:
        self._n = 0

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        from m365sentinel.emulator._auth import audience_of_scope

        self._n += 1
        host = audience_of_scope(scopes[0]).split("://", 1)[-1] if scopes else "none"
        return AccessToken(f"emu-{host}-{self._n}", int(time.time()) + 3600)


def run_server(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    seed: int = 0,
    now: datetime | None = None,
    workspaces: int = 1,
    tenants: int = 1,
    ids: str | None = None,
    latency: float = 0.0,
) -> None:
    """Serve an emulator on ``http://host:port`` until interrupted.

    Out-of-process clients cannot share the in-process token store, so this server accepts any bearer token of
    the form ``emu-<audience host>-<n>`` for the route's audience (e.g. ``emu-management.azure.com-1``).
    Prints the URL and the workspace's ids on stdout. ``workspaces``/``tenants``/``latency``: a fleet (see
    ``Emulator``); ``ids``: a file written with the served workspace resource ids, one a line, before serving.
    """
    from m365sentinel._errors import InvalidInputError
    from m365sentinel.emulator._emulator import Emulator
    from m365sentinel.emulator._server import LoopbackServer

    emu = Emulator(now=now, seed=seed, strict_tokens=False, workspaces=workspaces, tenants=tenants, latency=latency)
    if ids is not None:
        try:
            with open(ids, "w", encoding="utf-8") as handle:
                handle.writelines(f"{w}\n" for w in emu.workspace_resource_ids)
        except OSError as exc:
            emu.close()
            raise InvalidInputError(f"ids={ids!r}: cannot write the workspace ids ({exc.strerror or exc})") from None
    server = LoopbackServer(emu._responder, host, port)
    print(f"m365sentinel emulator listening on {server.url}", flush=True)
    print(f"workspace: {emu.workspace_resource_id}", flush=True)
    if workspaces > 1:
        print(f"fleet: {workspaces} workspaces in {tenants} tenant(s)", flush=True)
    print(f"tenant: {emu.tenant_id}  customerId: {emu.customer_id}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        emu.close()
