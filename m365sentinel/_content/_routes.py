"""Request builders for content hub, rule templates and analytics rules (I/O-free, shared by sync and async).

Content hub and alertRuleTemplates are on the stable api-version (``ApiVersions.security_insights_stable``,
2025-09-01); Scheduled rules too; NRT rules on the preview one (``security_insights_preview``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._transport import RequestSpec, arm_request

if TYPE_CHECKING:
    from .._routes import Routes

__all__ = ["CONTENT_TYPES", "NRT", "SCHEDULED", "ContentRoutes"]

SCHEDULED = "Scheduled"
NRT = "NRT"
# Writable collections this module addresses (Change.resource_type values).
CONTENT_TYPES = ("contentPackages", "contentTemplates")


class ContentRoutes:
    """Builders for one workspace (from the Connector's ``Routes``)."""

    def __init__(self, routes: Routes) -> None:
        from .._routes import _seg

        self._r = routes
        self._seg = _seg

    def _req(self, method: str, path: str, *, preview: bool = False, json: Any = None) -> RequestSpec:
        r = self._r
        version = r.v.security_insights_preview if preview else r.v.security_insights_stable
        return arm_request(r.cloud, method, f"{r.workspace.security_insights}/{path}", version, json=json)

    def collection(self, name: str) -> RequestSpec:
        """GET a whole collection: contentProductPackages, contentProductTemplates, contentPackages,
        contentTemplates, alertRuleTemplates (pageable by ``nextLink``)."""
        return self._req("GET", name)

    def get(self, collection: str, name: str, *, kind: str | None = None) -> RequestSpec:
        """GET one resource (an NRT rule on the preview api-version)."""
        return self._req("GET", f"{collection}/{self._seg(name)}", preview=kind == NRT)

    def put(self, collection: str, name: str, body: Mapping[str, Any], *, kind: str | None = None) -> RequestSpec:
        """PUT one resource: contentPackages/{id} (install or update the solution), contentTemplates/{id},
        alertRules/{id} (Scheduled: stable api-version; NRT: preview)."""
        return self._req("PUT", f"{collection}/{self._seg(name)}", preview=kind == NRT, json=dict(body))
