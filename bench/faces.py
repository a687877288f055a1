"""One body, both faces: ``Face("sync" | "async")`` builds a Connector of that face, and for the async face wraps
it so that code written against the sync API (the tests' ``face`` fixture, the soak) drives the async one unchanged.

The wrapper runs each awaitable on the face's own event loop (``asyncio.Runner``), turns async iterators into
iterators, and wraps the async objects it returns (streams, runs, handles, plans) the same way; plain values
(models, StreamedIncident, reports) pass through. So the sync test bodies are the behavioural spec of both faces.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from m365sentinel import Connector, aio

_ASYNC_TYPES = (aio.Connector, aio.IncidentStream, aio.IncidentHandle, aio.DefenderIncidents, aio.Plan, aio.Session)


async def _await(awaitable: Any) -> Any:
    return await awaitable


class Face:
    """``face.connector(workspace, credential=, transport=, **kw)``: a Connector of this face. For the async face a
    sync emulator credential/transport is swapped for the emulator's async one (``emu=``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.runner = asyncio.Runner() if name == "async" else None

    @property
    def is_async(self) -> bool:
        return self.runner is not None

    def connector(self, workspace: str, *, emu: Any = None, **kw: Any) -> Any:
        if emu is not None:
            kw.setdefault("credential", emu.async_credential() if self.is_async else emu.credential())
            kw.setdefault("transport", emu.async_transport() if self.is_async else emu.transport())
        if not self.is_async:
            return Connector(workspace, **kw)
        return self.wrap(aio.Connector(workspace, **kw))

    def session(self, *, emu: Any = None, **kw: Any) -> Any:
        """A ``Session`` of this face (``emu=``: the emulator's credential and transport of this face)."""
        from m365sentinel import Session

        if emu is not None:
            kw.setdefault("credential", emu.async_credential() if self.is_async else emu.credential())
            kw.setdefault("transport", emu.async_transport() if self.is_async else emu.transport())
        return self.wrap(aio.Session(**kw)) if self.is_async else Session(**kw)

    def run(self, awaitable: Any) -> Any:
        assert self.runner is not None
        return self.runner.run(_await(awaitable))

    def wrap(self, value: Any) -> Any:
        if not self.is_async:
            return value
        if inspect.isawaitable(value):
            return self.wrap(self.run(value))
        if isinstance(value, _ASYNC_TYPES):
            return Blocking(value, self)
        if hasattr(value, "__anext__"):
            return BlockingIterator(value, self)
        return value

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()


class Blocking:
    """An async-face object seen through the sync API (see the module docstring)."""

    def __init__(self, target: Any, face: Face) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_face", face)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if callable(attr) and not isinstance(attr, type):
            return lambda *a, **k: self._face.wrap(attr(*a, **k))
        return self._face.wrap(attr)

    def __iter__(self) -> BlockingIterator:
        return BlockingIterator(self._target.__aiter__(), self._face)

    def __enter__(self) -> Blocking:
        return self

    def __exit__(self, *exc: object) -> None:
        self._face.run(self._target.close())

    def __str__(self) -> str:
        return str(self._target)

    def __repr__(self) -> str:
        return repr(self._target)


class BlockingIterator:
    """An async iterator (a stream's run, a Graph listing, ``follow()``) as an iterator; ``close()`` is ``aclose()``
    and other attributes (``checkpoint``, ``stopped_early``, ``delivered``) are the run's."""

    def __init__(self, target: Any, face: Face) -> None:
        self._target = target
        self._face = face

    def __iter__(self) -> BlockingIterator:
        return self

    def __next__(self) -> Any:
        try:
            return self._face.run(self._target.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        self._face.run(self._target.aclose())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)
