"""The emulator's packaged data files, read from the package once (a fleet builds hundreds of workspaces from
them); each call parses a fresh copy, so callers may change what they get."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

__all__ = ["packaged_json"]


@functools.cache
def _text(package: str, name: str) -> str:
    return resources.files(package).joinpath(name).read_text("utf-8")


def packaged_json(name: str, package: str = "m365sentinel.emulator._data") -> Any:
    """The parsed JSON file ``name`` of ``package`` (default: the emulator's own data)."""
    return json.loads(_text(package, name))
