"""PEP 562 lazy exports: a package lists which submodule defines each public name; the submodule is imported on
first access. Keeps ``import m365sentinel`` cheap (attrs builds each model class at import time)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, namespace: dict[str, Any], where: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``where`` maps a submodule (``"._arm"``) to the names it exports. Returns the package's ``__getattr__`` and
    ``__dir__`` (the package keeps a literal ``__all__`` so type checkers see its exports)."""
    owner = {name: module for module, names in where.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = owner.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value  # later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(owner))

    return __getattr__, __dir__
