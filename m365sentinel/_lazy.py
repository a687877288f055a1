"""PEP 562 lazy exports: a package lists which submodule defines each public name; the submodule is imported on
first access. Keeps ``import m365sentinel`` cheap (attrs builds each model class at import time)."""

from __future__ import annotations

import importlib
import re
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


class LazyPattern:
    """``re.compile(pattern)`` on first use: importing m365sentinel compiles no regular expression it may never
    need (issue 17: import cost). For patterns off the hot paths (one method call more per use)."""

    __slots__ = ("_compiled", "_flags", "_pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._pattern, self._flags = pattern, flags
        self._compiled: re.Pattern[str] | None = None

    def _re(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self._pattern, self._flags)
        return self._compiled

    def match(self, text: str) -> re.Match[str] | None:
        return self._re().match(text)

    def search(self, text: str) -> re.Match[str] | None:
        return self._re().search(text)

    def findall(self, text: str) -> list[Any]:
        return self._re().findall(text)

    def sub(self, repl: Callable[[re.Match[str]], str], text: str) -> str:
        return self._re().sub(repl, text)
