"""httpx transports answering in-process through the handler core (any host; routing is by path)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import unquote

import httpx

from m365sentinel.emulator._http import DropConnection, EmuRequest, EmuResponse, Responder

__all__ = ["EmulatorAsyncTransport", "EmulatorTransport"]


def _to_emu(request: httpx.Request, body: bytes) -> EmuRequest:
    url = request.url
    host = url.netloc.decode("ascii")
    return EmuRequest(
        method=request.method.upper(),
        scheme=url.scheme,
        host=host,
        path=unquote(url.raw_path.split(b"?", 1)[0].decode("ascii")),
        raw_query=url.query.decode("ascii"),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
    )


def _to_httpx(response: EmuResponse, request: httpx.Request) -> httpx.Response:
    return httpx.Response(response.status, headers=response.headers, content=response.body, request=request)


class EmulatorTransport(httpx.BaseTransport):
    """Sync transport: ``httpx.Client(transport=emu.transport())``."""

    def __init__(self, core: Responder, clock: Callable[[], float] | None = None) -> None:
        self._core = core
        # The emulator's clock (POSIX seconds): a Session given this transport and no clock= measures token expiry
        # on it, so tokens issued under a pinned past clock do not look expired to a lone Connector.
        self.clock = clock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        emu_request = _to_emu(request, request.read())
        with self._core.faults.limits.admit(emu_request) as refused:
            if refused is not None:
                return _to_httpx(refused, request)
            if self._core.latency:
                time.sleep(self._core.latency)
            return _answer(self._core, emu_request, request)


def _answer(core: Responder, emu_request: EmuRequest, request: httpx.Request) -> httpx.Response:
    """The core's answer as an httpx response; a dropped connection as httpx reports one."""
    try:
        response = core.handle(emu_request)
    except DropConnection as exc:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request) from exc
    return _to_httpx(response, request)


class EmulatorAsyncTransport(httpx.AsyncBaseTransport):
    """Async transport: ``httpx.AsyncClient(transport=emu.async_transport())``."""

    def __init__(self, core: Responder, clock: Callable[[], float] | None = None) -> None:
        self._core = core
        # The emulator's clock (POSIX seconds): a Session given this transport and no clock= measures token expiry
        # on it, so tokens issued under a pinned past clock do not look expired to a lone Connector.
        self.clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        emu_request = _to_emu(request, await request.aread())
        with self._core.faults.limits.admit(emu_request) as refused:
            if refused is not None:
                return _to_httpx(refused, request)
            if self._core.latency:
                await asyncio.sleep(self._core.latency)
            return _answer(self._core, emu_request, request)
