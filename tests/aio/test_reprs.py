"""No secret in the repr or str of any object a caller holds, on either face (credentials and bearer tokens)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import m365sentinel as ms
from m365sentinel import aio
from m365sentinel.emulator import Emulator

SECRET = "S3CRET-client-secret-value"


class SecretCred:
    """A credential holding a client secret (as ClientSecretCredential does), answering with the emulator's."""

    def __init__(self, inner) -> None:
        self.client_secret = SECRET
        self.inner = inner
        self.tokens: list[str] = []

    def get_token(self, *scopes, **kw):
        token = self.inner.get_token(*scopes, **kw)
        self.tokens.append(token.token)
        return token


class AsyncSecretCred(SecretCred):
    async def get_token(self, *scopes, **kw):
        token = await self.inner.get_token(*scopes, **kw)
        self.tokens.append(token.token)
        return token


def _texts(*objects) -> str:
    return " ".join(f"{o!r} {o!s}" for o in objects)


def _assert_no_secret(text: str, credential: SecretCred) -> None:
    assert credential.tokens  # requests went out with tokens
    assert SECRET not in text and [t for t in credential.tokens if t in text] == []


def test_sync_objects_show_no_secret_or_token():
    emu = Emulator(now=datetime(2026, 3, 2, tzinfo=UTC), incidents=2)
    try:
        credential = SecretCred(emu.credential())
        with ms.Session(credential=credential, transport=emu.transport()) as session:
            connector = session.connector(emu.workspace_resource_id)
            stream = connector.incidents().since(ms.MemoryCheckpointStore())
            run = stream.run()
            items = list(run)
            handle = connector.incidents().get(items[0].incident.name)
            plan = connector.incidents_and_alerts().plan()
            text = _texts(session, connector, stream, run, *items, handle, connector.incidents().defender(), plan)
        _assert_no_secret(text, credential)
    finally:
        emu.close()


def test_async_objects_show_no_secret_or_token():
    async def main(emu: Emulator, credential: AsyncSecretCred) -> str:
        async with aio.Session(credential=credential, transport=emu.async_transport()) as session:
            connector = session.connector(emu.workspace_resource_id)
            stream = connector.incidents().since(ms.MemoryCheckpointStore())
            run = stream.run()
            items = [item async for item in run]
            handle = connector.incidents().get(items[0].incident.name)
            plan = await connector.incidents_and_alerts().plan()
            objects = (session, connector, stream, run, *items, handle, connector.incidents().defender(), plan)
            return _texts(*objects, session._http)

    emu = Emulator(now=datetime(2026, 3, 2, tzinfo=UTC), incidents=2)
    try:
        credential = AsyncSecretCred(emu.async_credential())
        _assert_no_secret(asyncio.run(main(emu, credential)), credential)
    finally:
        emu.close()
