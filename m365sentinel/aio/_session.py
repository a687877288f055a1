"""``m365sentinel.aio.Session``: the async mirror of ``m365sentinel.Session`` (one ``httpx.AsyncClient`` pool and
one async token cache shared by every ``aio.Connector`` made from it); its checks are the sync session's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx

from .._errors import ClientClosedError, MissingExtraError
from .._session import SessionCore, SessionFace, open_client
from .._transport import Cloud, RetryPolicy
from .._transport._aclient import AsyncHttpClient, check_async_credential

if TYPE_CHECKING:
    from .._api_versions import ApiVersions
    from .._ids import WorkspaceId
    from ._connector import Connector

__all__ = ["Session", "default_credential"]


def default_credential(cloud: Cloud) -> Any:
    """``azure.identity.aio.DefaultAzureCredential`` signing in at the cloud's authority (as the sync
    ``default_credential``). It needs aiohttp (azure-core's async transport): MissingExtraError without it."""
    from azure.identity.aio import DefaultAzureCredential  # imported only when used (import cost)

    try:
        return DefaultAzureCredential(authority=cloud.authority)
    except ImportError as exc:
        raise MissingExtraError(
            "m365sentinel.aio's default credential (azure.identity.aio.DefaultAzureCredential)", "aio", "aiohttp"
        ) from exc


_FACE: SessionFace[AsyncHttpClient] = SessionFace(
    AsyncHttpClient, check_async_credential, httpx.AsyncBaseTransport, default_credential, asyncio.sleep, True
)


class Session(SessionCore):
    """One async HTTP pool and one token cache shared by every ``aio.Connector`` made from it.

    ::

        from m365sentinel import aio

        async with aio.Session(cloud="AzureCloud") as session:
            for workspace in workspaces:
                print(await session.connector(workspace).status())

    Parameters as ``m365sentinel.Session``'s, except: ``credential`` is an ``azure.identity.aio`` credential (or
    ``{Audience: credential}``; a sync one is InvalidInputError; ``None``: ``default_credential(cloud)``, closed
    with the session), ``transport`` an ``httpx.AsyncBaseTransport``, ``sleep`` may return an awaitable.
    ``await close()`` (or the end of ``async with``) closes the pool.
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        credential: Any = None,
        tenant_id: str | None = None,
        cloud: str | Cloud = "AzureCloud",
        graph: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: Any = None,
        sleep: Callable[[float], Awaitable[None] | None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._http = open_client(_FACE, credential, tenant_id, cloud, graph, retry, timeout, transport, sleep, clock)

    def connector(
        self, workspace: str | WorkspaceId, *, tenant_id: str | None = None, api_versions: ApiVersions | None = None
    ) -> Connector:
        """``m365sentinel.Session.connector``: an ``aio.Connector`` sharing this session's pool and tokens; cheap (no
        I/O, no new client). Raises ClientClosedError when the session is closed, InvalidInputError for bad input."""
        if self.closed:
            raise ClientClosedError("the session is closed (close() or the end of its async with); create a new one")
        from ._connector import Connector  # deferred: _connector imports this module

        return Connector._of_session(self._http, workspace, tenant_id, api_versions)

    async def close(self) -> None:
        """``m365sentinel.Session.close``, awaited: close the pooled connections; the session's connectors cannot send
        afterwards (ClientClosedError)."""
        await self._http.aclose()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
