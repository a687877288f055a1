"""Cross-workspace queries in the emulator, as the Log Analytics query API answers them.

A query that lists other workspaces in its ``workspaces`` body parameter, or names them with ``workspace("<id>")``,
runs over a merged table store: ``workspace("<id>").T`` becomes that workspace's own ``T`` (renamed ``T__w<n>``),
an unqualified ``T`` the rows of every workspace in scope (the implicit union: the queried one and the listed
ones). A workspace is found by customer id, resource id or name, as Log Analytics accepts.

Refusals, in the shapes the SDK reads (decided here, not captured from the service; see docs/emulator.md):

* more workspaces than ``faults.cross_workspace_limit`` (default 100): 400 ``BadArgumentError`` whose inner error
  is ``TooManyResourcesError`` naming the limit;
* a workspace that cannot be resolved, or one switched off with ``faults.fail_workspace_queries(customer_id)``:
  with ``union isfuzzy=true`` the others still answer, and the 200 carries a ``PartialError`` whose
  ``details[]`` entry names the workspace (``code`` ``InsufficientAccessError`` or ``WorkspaceNotFoundError``,
  ``target`` and ``resources`` the reference); without ``isfuzzy``, a 400 with that inner error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from m365sentinel.emulator._tables import TableStore

if TYPE_CHECKING:
    from m365sentinel.emulator._fleet import Member

__all__ = ["CrossRefused", "CrossWorkspace"]

_REF = re.compile(
    r"workspace\(\s*(?P<q>[\"'])(?P<ref>[^\"']+)(?P=q)\s*\)\s*\.\s*"
    r"(?P<table>[A-Za-z_][A-Za-z0-9_]*|\[\s*'[^'\]]+'\s*\]|\[\s*\"[^\"\]]+\"\s*\])"
)
_FUZZY = re.compile(r"\bunion\s+(?:kind\s*=\s*\w+\s+)?isfuzzy\s*=\s*true\b", re.I)


class CrossRefused(Exception):
    """The request is refused as a whole: ``status`` with a Log Analytics error ``code`` and an inner error."""

    def __init__(self, status: int, inner_code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.inner_code, self.message = status, inner_code, message


def _bare(table: str) -> str:
    return table.strip("[]").strip().strip("'\"") if table.startswith("[") else table


class CrossWorkspace:
    """Resolves workspace references against the fleet's members (``tables_of(i)``: member ``i``'s tables)."""

    def __init__(self, members: Sequence[Member], tables_of: Callable[[int], TableStore]) -> None:
        self.members = list(members)
        self._tables_of = tables_of
        self._by_ref: dict[str, int] = {}
        for i, m in enumerate(self.members):
            for key in (m.customer_id, m.resource_id, m.workspace_name):
                self._by_ref.setdefault(key.lower(), i)

    @staticmethod
    def applies(query: str, workspaces: Any) -> bool:
        return bool(workspaces) or _REF.search(query) is not None

    def _find(self, ref: str) -> int | None:
        return self._by_ref.get(ref.strip().lower())

    def _failure(self, ref: str, index: int | None, failing: set[str]) -> dict[str, Any] | None:
        if index is None:
            code, why = "WorkspaceNotFoundError", f"Workspace '{ref}' could not be found or resolved."
        elif self.members[index].customer_id.lower() in failing:
            code, why = "InsufficientAccessError", f"The query could not access workspace '{ref}'."
        else:
            return None
        return {"code": code, "message": why, "target": ref, "resources": [ref]}

    def prepare(
        self, customer_id: str, query: str, workspaces: Any, *, limit: int, failing: set[str]
    ) -> tuple[TableStore, str, list[dict[str, Any]]]:
        """The merged store, the rewritten query and the failed workspaces' details, for a query sent to workspace
        ``customer_id``. CrossRefused for more than ``limit`` workspaces, or a failed one (unknown, or its customer
        id in ``failing``) in a query that is not fuzzy."""
        primary = self._find(customer_id) or 0
        listed = [str(w) for w in workspaces] if isinstance(workspaces, list) else []
        refs = [m.group("ref") for m in _REF.finditer(query)]
        distinct = {r.strip().lower() for r in [*listed, *refs]} | {self.members[primary].customer_id.lower()}
        resolved = {r: self._find(r) for r in distinct}
        resources = {(i if i is not None else r) for r, i in resolved.items()}
        if len(resources) > limit:
            raise CrossRefused(
                400,
                "TooManyResourcesError",
                f"The query references {len(resources)} resources; the maximum number of resources in a "
                f"cross-resource query is {limit}.",
            )
        failures: dict[str, dict[str, Any]] = {}
        for ref in [*listed, *refs]:
            failure = self._failure(ref, self._find(ref), failing)
            if failure is not None:
                failures.setdefault(ref.lower(), failure)
        if failures and not _FUZZY.search(query):
            first = next(iter(failures.values()))
            raise CrossRefused(400, first["code"], first["message"])
        scope = [primary] + [i for r in listed if (i := self._find(r)) is not None and r.lower() not in failures]
        store = TableStore()
        schemas = self._tables_of(primary).schemas

        def qualified(match: re.Match[str]) -> str:
            table, ref = _bare(match.group("table")), match.group("ref")
            index = self._find(ref)
            name = f"{table}__gone" if ref.lower() in failures or index is None else f"{table}__w{index}"
            if name not in store.schemas:
                source = self._tables_of(index) if index is not None and not name.endswith("__gone") else None
                cols = (source.schemas if source else schemas).get(table)
                if cols is None:
                    return match.group(0)  # an unknown table: the engine names it
                store.create(name, cols)
                if source is not None:
                    store.rows[name] = list(source.rows.get(table, []))
            return name

        rewritten = _REF.sub(qualified, query)
        for table, cols in schemas.items():  # unqualified names: the implicit union over the scope
            if re.search(rf"(?<![\w.]){re.escape(table)}(?!\w)", rewritten):
                store.create(table, cols)
                store.rows[table] = [row for i in scope for row in self._tables_of(i).rows.get(table, [])]
        return store, rewritten, list(failures.values())
