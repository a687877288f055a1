"""Filtered, sorted views of the workspace's incidents for the ARM list route, cached until the next write.

A page request of a large list (100,000 incidents in pages of 1,000) would otherwise filter and sort the whole
collection again for each page; the cache is keyed by the workspace's write counter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from m365sentinel.emulator._arm_util import sort_key
from m365sentinel.emulator._odata import compile_filter

if TYPE_CHECKING:
    from m365sentinel.emulator._workspace import Workspace

__all__ = ["IncidentIndex"]


class IncidentIndex:
    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self._cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._version: tuple[int, int] = (-1, -1)

    def select(self, filter_text: str | None, field: str, descending: bool) -> list[dict[str, Any]]:
        version = (self.ws._etag_counter, len(self.ws.incidents))
        if version != self._version:
            self._cache.clear()
            self._version = version
        key = (filter_text, field, descending)
        hit = self._cache.get(key)
        if hit is None:
            pred = compile_filter(filter_text, prefix="properties") if filter_text is not None else None
            hit = [r for r in self.ws.incidents.values() if pred is None or pred(r["properties"])]
            hit.sort(key=sort_key(field), reverse=descending)
            if len(self._cache) > 16:
                self._cache.clear()
            self._cache[key] = hit
        return hit
