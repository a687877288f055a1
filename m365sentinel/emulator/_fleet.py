"""A fleet in one emulator: many workspaces in several tenants, each built on its first request.

Every workspace has its own ``Core`` (state, ARM resources, tables, lock); they share the token store, the faults,
the clock, the request log and one query engine (``Engine`` keeps each workspace's tables in their own schema and
runs queries in parallel), so a workspace costs its state only, and only once used; requests to different
workspaces are answered in parallel. The router picks the core by the request's path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from m365sentinel.emulator._core import Core
from m365sentinel.emulator._http import EmuRequest, EmuResponse

__all__ = ["FleetRouter", "Member"]


@dataclass(frozen=True)
class Member:
    """One workspace of the fleet: where it lives, and its tenant."""

    subscription_id: str
    resource_group: str
    workspace_name: str
    tenant_id: str
    customer_id: str

    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.OperationalInsights/workspaces/{self.workspace_name}"
        )


class FleetRouter:
    """Answers like a ``Core``, routing each request to its workspace's core (built lazily by ``build``).

    A path naming no member goes to a member of the same subscription (which answers 404 ResourceNotFound), else to
    the first member (404 SubscriptionNotFound), as Azure would answer."""

    def __init__(
        self, primary: Core, members: list[Member], build: Callable[[Member], Core], *, latency: float
    ) -> None:
        self.latency = latency
        self.faults = primary.faults
        self.members = members
        self._build = build
        self._cores: dict[int, Core] = {0: primary}
        self._lock = threading.Lock()
        self._by_path = {
            (m.subscription_id.lower(), m.resource_group.lower(), m.workspace_name.lower()): i
            for i, m in enumerate(members)
        }
        self._by_customer = {m.customer_id.lower(): i for i, m in enumerate(members)}
        self._by_sub: dict[str, int] = {}
        self._by_tenant: dict[str, int] = {}
        for i, m in enumerate(members):
            self._by_tenant.setdefault(m.tenant_id.lower(), i)
        for i, m in enumerate(members):
            self._by_sub.setdefault(m.subscription_id.lower(), i)

    @property
    def built(self) -> int:
        """How many workspaces have been built (answered a request) so far."""
        return len(self._cores)

    def core(self, index: int) -> Core:
        """The core of member ``index``, built on first use."""
        core = self._cores.get(index)
        if core is None:
            with self._lock:
                core = self._cores.get(index)
                if core is None:
                    core = self._cores[index] = self._build(self.members[index])
        return core

    def handle(self, req: EmuRequest) -> EmuResponse:
        return self.core(self._index(req)).handle(req)

    def _index(self, req: EmuRequest) -> int:
        low = [p.lower() for p in req.path.split("/") if p]
        if low[:1] == ["v1"]:
            low = low[1:]
            if low[:1] == ["workspaces"] and len(low) > 1:
                return self._by_customer.get(low[1], 0)
        if low[:1] != ["subscriptions"] or len(low) < 2:
            # Graph answers for the token's tenant (a directory user's token names it), else the first workspace's.
            claims = self._cores[0].tokens.claims_of(req.headers.get("authorization"))
            return self._by_tenant.get(claims["tid"], 0) if claims else 0
        if len(low) >= 8 and low[2] == "resourcegroups" and low[6] == "workspaces":
            found = self._by_path.get((low[1], low[3], low[7]))
            if found is not None:
                return found
        return self._by_sub.get(low[1], 0)
