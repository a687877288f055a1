"""A loopback HTTP server (ThreadingHTTPServer) answering the same routes through the same handler core."""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from m365sentinel.emulator._http import DropConnection, EmuRequest, Responder

__all__ = ["LoopbackServer"]


def _handler_class(core: Responder, scheme: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "m365sentinel-emulator"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            host = self.headers.get("Host") or self._default_host()
            request = EmuRequest(
                method=self.command.upper(),
                scheme=scheme,
                host=host,
                path=unquote(parts.path),
                raw_query=parts.query,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                loopback=True,
            )
            with core.faults.limits.admit(request) as refused:
                if refused is not None:
                    response = refused
                else:
                    if core.latency:
                        time.sleep(core.latency)
                    try:
                        response = core.handle(request)
                    except DropConnection:
                        self.close_connection = True
                        with contextlib.suppress(OSError):  # the peer may already be gone
                            self.connection.shutdown(socket.SHUT_RDWR)
                        return
            self.send_response_only(response.status)  # no system-clock Date: the response carries the emulator's
            self.send_header("Server", self.version_string())
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.body and self.command != "HEAD":
                self.wfile.write(response.body)

        def _default_host(self) -> str:
            address = self.server.server_address
            host = address[0] if isinstance(address, tuple) else "127.0.0.1"
            port = address[1] if isinstance(address, tuple) else 0
            host = host.decode() if isinstance(host, bytes) else str(host)
            return f"{host}:{port}"

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: object) -> None:
            return  # requests are in emu.requests; keep test output clean

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        # TLS handshake in the connection's own thread (not the accepting one): one slow client stalls no other.
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        wrapped = self.tls.wrap_socket(request, server_side=True)  # takes over the socket (closed if this fails)
        try:
            super().finish_request(wrapped, client_address)
        finally:
            self.shutdown_request(wrapped)  # the caller shuts down the plain socket, now detached

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-exchange (a cancelled prefetch, a killed consumer) or refuses the certificate
        # is normal here, not news.
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """A running server: ``.url`` (``http://127.0.0.1:<port>``, ``https://`` with ``tls``), ``.close()``; also a
    context manager."""

    def __init__(
        self, core: Responder, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> None:
        scheme = "http" if tls is None else "https"
        self._server = _Server((host, port), _handler_class(core, scheme))
        self._server.tls = tls
        bound_host, bound_port = self._server.server_address[:2]
        bound = bound_host.decode() if isinstance(bound_host, bytes) else str(bound_host)
        self.url: str = f"{scheme}://{bound}:{bound_port}"
        self._thread: threading.Thread | None = None

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Block serving requests (the CLI entry); Ctrl-C stops it."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
