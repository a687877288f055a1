"""Transport-neutral request/response values shared by the httpx transports and the loopback server."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from m365sentinel.emulator._faults import Faults

__all__ = ["DropConnection", "EmuRequest", "EmuResponse", "RequestRecord", "Responder", "json_response"]


class DropConnection(Exception):
    """Raised by the handler core when a fault asks for the connection to be cut without a response."""


@dataclass(frozen=True)
class EmuRequest:
    method: str
    scheme: str
    host: str  # host[:port] as the client addressed it; used to build nextLinks
    path: str  # percent-decoded path
    raw_query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    loopback: bool = False  # arrived through the loopback server (http or https), not the in-process transport

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.raw_query, keep_blank_values=True)

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"


@dataclass(frozen=True)
class EmuResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator saw it (``emu.requests``); ``body`` is the parsed JSON or None."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    host: str

    @property
    def is_write(self) -> bool:
        """PUT/PATCH/DELETE, and POSTs that are not reads (alerts/entities/query/checkRequirements are reads)."""
        if self.method in ("PUT", "PATCH", "DELETE"):
            return True
        if self.method != "POST":
            return False
        tail = self.path.rstrip("/").rsplit("/", 1)[-1].lower()
        return tail not in {"alerts", "entities", "query", "dataconnectorscheckrequirements", "runhuntingquery"}


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> EmuResponse:
    """``payload``: a JSON value, or ``bytes`` of JSON sent as they are (a canned answer encoded once)."""
    if isinstance(payload, bytes):
        body = payload
    else:
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    merged = {"content-type": "application/json; charset=utf-8"} if payload is not None else {}
    merged["x-ms-request-id"] = str(uuid.uuid4())  # as ARM and Log Analytics send; errors quote it
    merged.update(headers or {})
    return EmuResponse(status, body, merged)


class Responder(Protocol):
    """What the transports and the loopback server answer through: one workspace's ``Core`` or a fleet's router."""

    latency: float  # seconds each request takes (slept by the transport or the server thread)
    faults: Faults  # the shared faults (``faults.limits``: the query limits, checked around the latency)

    def handle(self, req: EmuRequest) -> EmuResponse: ...
