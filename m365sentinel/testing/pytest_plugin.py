"""pytest fixtures over the offline emulator: ``sentinel_emulator``, ``sentinel_connector``,
``served_sentinel_emulator``.

Registered by the ``pytest11`` entry point, so it loads in every pytest run where m365sentinel is installed: it
imports nothing but pytest at load; the emulator (and duckdb) load when a test first uses a fixture, and a missing
``emulator`` extra is then a ``MissingExtraError`` naming it.

Configure per test, module (``pytestmark``) or class, with markers::

    @pytest.mark.sentinel_emulator(seed=3, incidents=40)          # keyword arguments of Emulator(...)
    @pytest.mark.sentinel_faults(unordered_lists=True, server_error={"times": 2})

or by indirect parametrisation of ``sentinel_emulator`` with a dict of the same keys (``"faults"`` for the faults)::

    @pytest.mark.parametrize("sentinel_emulator", [{"faults": {"ignore_filter": True}}], indirect=True)

A fault is a method of ``Emulator.faults`` (``emu.faults``) and its value says how to call it: ``True`` with no
arguments, a dict as keyword arguments, a list or tuple as positional arguments, anything else as the one
argument (``query_size_limit=100``); ``False`` or ``None`` skips it. The parameter wins over the marker.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from m365sentinel import Cloud, Connector
    from m365sentinel.emulator import Emulator, LoopbackServer

__all__ = ["ServedEmulator", "sentinel_connector", "sentinel_emulator", "served_sentinel_emulator"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sentinel_emulator(**kwargs): keyword arguments of the Emulator behind the sentinel_* fixtures"
    )
    config.addinivalue_line(
        "markers",
        "sentinel_faults(**faults): emulator faults switched on before the test (name = an emu.faults method; "
        "True, a dict of keyword arguments, a list of positional arguments or one value)",
    )


def _options(request: pytest.FixtureRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Emulator keyword arguments, faults) from the markers, closest first, then the fixture parameter."""
    from m365sentinel import InvalidInputError

    kwargs: dict[str, Any] = {}
    faults: dict[str, Any] = {}
    # iter_markers yields the closest (function) marker first: apply in reverse so the closest wins.
    for marker in reversed(list(request.node.iter_markers("sentinel_emulator"))):
        kwargs.update(marker.kwargs)
    for marker in reversed(list(request.node.iter_markers("sentinel_faults"))):
        faults.update(marker.kwargs)
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, Mapping):
            raise InvalidInputError(
                f"sentinel_emulator parameter {param!r:.100}: expected a dict of Emulator keyword arguments "
                "(and 'faults': a dict of fault names)"
            )
        param = dict(param)
        faults.update(param.pop("faults", None) or {})
        kwargs.update(param)
    return kwargs, faults


def _switch_on(emulator: Emulator, faults: Mapping[str, Any]) -> None:
    from m365sentinel import InvalidInputError
    from m365sentinel.emulator._faults import FAULT_KINDS

    known = sorted(FAULT_KINDS)  # not every public method: fire(), clear() ... are no faults
    for name, value in faults.items():
        if name not in known:
            raise InvalidInputError(f"sentinel_faults: unknown fault {name!r}; expected one of {known}")
        method = getattr(emulator.faults, name)
        if value is None or value is False:
            continue
        if value is True:
            method()
        elif isinstance(value, Mapping):
            method(**value)
        elif isinstance(value, (list, tuple)):
            method(*value)
        else:
            method(value)


@pytest.fixture
def sentinel_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A fresh ``m365sentinel.emulator.Emulator`` per test (default ``Emulator()``: seed 0, 240 incidents, the wall
    clock), built from the ``sentinel_emulator`` marker or parameter, with the ``sentinel_faults`` switched on;
    closed after the test."""
    from m365sentinel.emulator import Emulator

    kwargs, faults = _options(request)
    emulator = Emulator(**kwargs)
    try:
        _switch_on(emulator, faults)
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def sentinel_connector(sentinel_emulator: Emulator) -> Iterator[Connector]:
    """A ``Connector`` on ``sentinel_emulator`` over its in-process transport; closed after the test. Retry waits
    (429, 5xx faults) are skipped, so fault-injected tests run at full speed."""
    from m365sentinel import Connector

    with Connector(
        sentinel_emulator.workspace_resource_id,
        credential=sentinel_emulator.credential(),
        transport=sentinel_emulator.transport(),
        sleep=lambda seconds: None,
    ) as connector:
        yield connector


class ServedEmulator:
    """``served_sentinel_emulator``: the ``emulator``, its loopback ``url`` and ``connector()``, a Connector on it
    over a real socket (for code under test that makes its own HTTP calls, or a subprocess: ``url`` plus
    ``emulator.workspace_resource_id``; a client in another process signs in with
    ``m365sentinel.emulator.LoopbackCredential``, accepted under
    ``@pytest.mark.sentinel_emulator(strict_tokens=False)``)."""

    def __init__(self, emulator: Emulator, server: LoopbackServer) -> None:
        self.emulator = emulator
        self.server = server
        self.url: str = server.url

    @property
    def cloud(self) -> Cloud:
        """``Cloud.custom`` with ARM, Log Analytics and Graph all at ``url``."""
        from m365sentinel import Cloud

        return Cloud.custom(arm=self.url, log_analytics=self.url, graph=self.url)

    def connector(self, **kwargs: Any) -> Connector:
        """A new ``Connector`` on the served emulator (close it, or use it in a ``with`` block); ``kwargs`` go to
        ``Connector`` (e.g. ``retry=``)."""
        from m365sentinel import Connector

        kwargs.setdefault("sleep", lambda seconds: None)
        return Connector(
            self.emulator.workspace_resource_id, credential=self.emulator.credential(), cloud=self.cloud, **kwargs
        )

    def __repr__(self) -> str:
        return f"ServedEmulator(url={self.url!r})"


@pytest.fixture
def served_sentinel_emulator(sentinel_emulator: Emulator) -> Iterator[ServedEmulator]:
    """``sentinel_emulator`` served on a free loopback port for the test's duration, then stopped."""
    with sentinel_emulator.serve() as server:
        yield ServedEmulator(sentinel_emulator, server)
