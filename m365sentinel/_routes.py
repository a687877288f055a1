"""The REST operations the Connector calls, as I/O-free request builders (shared by sync and async clients).

Each function returns a ``RequestSpec``; nothing here sends anything. api-versions come from ``ApiVersions``
(declared once); paths are built from a validated ``WorkspaceId`` and percent-encoded segments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ._api_versions import ApiVersions
from ._errors import InvalidInputError
from ._ids import WorkspaceId
from ._transport import Cloud, RequestSpec, arm_request, log_analytics_query_request

__all__ = ["Routes"]


def _seg(value: str) -> str:
    """One path segment, percent-encoded; '.' and '..' are refused so a name cannot walk the path."""
    if not isinstance(value, str) or value in ("", ".", ".."):
        raise InvalidInputError(f"invalid resource name {value!r}: expected a non-empty name other than '.' or '..'")
    return quote(value, safe="")


class Routes:
    """Request builders for one workspace on one cloud."""

    def __init__(self, cloud: Cloud, workspace: WorkspaceId, versions: ApiVersions) -> None:
        self.cloud = cloud
        self.workspace = workspace
        self.v = versions
        self._si = workspace.security_insights

    # --- Azure Resource Manager: subscription and workspace -------------------------------------------------
    def get_subscription(self) -> RequestSpec:
        """GET /subscriptions/{id} (api-version ``subscription``): its ``tenantId`` is the workspace's home tenant."""
        return arm_request(self.cloud, "GET", f"/subscriptions/{self.workspace.subscription_id}", self.v.subscription)

    def get_workspace(self) -> RequestSpec:
        """GET the Microsoft.OperationalInsights workspace (api-version ``workspace``): ``properties.customerId``."""
        return arm_request(self.cloud, "GET", self.workspace.resource_id, self.v.workspace)

    # --- Microsoft.SecurityInsights (preview api-version) ---------------------------------------------------
    def get_onboarding_state(self, name: str = "default") -> RequestSpec:
        return arm_request(
            self.cloud, "GET", f"{self._si}/onboardingStates/{_seg(name)}", self.v.security_insights_preview
        )

    def check_requirements(self, kind: str, tenant_id: str) -> RequestSpec:
        """POST dataConnectorsCheckRequirements ``{kind, properties:{tenantId}}``: a read, so retryable."""
        return arm_request(
            self.cloud,
            "POST",
            f"{self._si}/dataConnectorsCheckRequirements",
            self.v.security_insights_preview,
            json={"kind": kind, "properties": {"tenantId": tenant_id}},
            retry_post=True,
        )

    def list_data_connectors(self) -> RequestSpec:
        return arm_request(self.cloud, "GET", f"{self._si}/dataConnectors", self.v.security_insights_preview)

    def get_data_connector(self, connector_id: str) -> RequestSpec:
        return arm_request(
            self.cloud, "GET", f"{self._si}/dataConnectors/{_seg(connector_id)}", self.v.security_insights_preview
        )

    def put_data_connector(self, connector_id: str, body: Mapping[str, Any]) -> RequestSpec:
        return arm_request(
            self.cloud,
            "PUT",
            f"{self._si}/dataConnectors/{_seg(connector_id)}",
            self.v.security_insights_preview,
            json=dict(body),
        )

    def delete_data_connector(self, connector_id: str) -> RequestSpec:
        return arm_request(
            self.cloud, "DELETE", f"{self._si}/dataConnectors/{_seg(connector_id)}", self.v.security_insights_preview
        )

    def list_alert_rules(self) -> RequestSpec:
        return arm_request(self.cloud, "GET", f"{self._si}/alertRules", self.v.security_insights_preview)

    def get_alert_rule(self, rule_id: str) -> RequestSpec:
        return arm_request(
            self.cloud, "GET", f"{self._si}/alertRules/{_seg(rule_id)}", self.v.security_insights_preview
        )

    def put_alert_rule(self, rule_id: str, body: Mapping[str, Any]) -> RequestSpec:
        return arm_request(
            self.cloud,
            "PUT",
            f"{self._si}/alertRules/{_seg(rule_id)}",
            self.v.security_insights_preview,
            json=dict(body),
        )

    def list_settings(self) -> RequestSpec:
        return arm_request(self.cloud, "GET", f"{self._si}/settings", self.v.security_insights_preview)

    def get_setting(self, name: str) -> RequestSpec:
        return arm_request(self.cloud, "GET", f"{self._si}/settings/{_seg(name)}", self.v.security_insights_preview)

    def put_setting(self, name: str, body: Mapping[str, Any]) -> RequestSpec:
        """PUT settings/{name} (EntityAnalytics, Ueba, ...) with the etag that was read in the body."""
        return arm_request(
            self.cloud, "PUT", f"{self._si}/settings/{_seg(name)}", self.v.security_insights_preview, json=dict(body)
        )

    # --- the workspace tables API (per-table retention) ----------------------------------------------------------
    def list_tables(self) -> RequestSpec:
        """GET {workspace}/tables (Tables_ListByWorkspace): ``{"value": [table, ...]}``."""
        return arm_request(self.cloud, "GET", f"{self.workspace.resource_id}/tables", self.v.tables)

    def get_table(self, name: str) -> RequestSpec:
        """GET {workspace}/tables/{name} (Tables_Get)."""
        return arm_request(self.cloud, "GET", f"{self.workspace.resource_id}/tables/{_seg(name)}", self.v.tables)

    def patch_table(self, name: str, body: Mapping[str, Any]) -> RequestSpec:
        """PATCH {workspace}/tables/{name} (Tables_Update): only the properties that change."""
        return arm_request(
            self.cloud, "PATCH", f"{self.workspace.resource_id}/tables/{_seg(name)}", self.v.tables, json=dict(body)
        )

    # --- incidents (stable api-version) -----------------------------------------------------------------------
    def list_incidents(
        self, *, filter: str | None = None, orderby: str | None = None, top: int | None = None
    ) -> RequestSpec:
        params: dict[str, str] = {}
        if filter:
            params["$filter"] = filter
        if orderby:
            params["$orderby"] = orderby
        if top is not None:
            params["$top"] = str(top)
        return arm_request(self.cloud, "GET", f"{self._si}/incidents", self.v.incidents, params=params or None)

    # --- Log Analytics query API ------------------------------------------------------------------------------
    def query(self, customer_id: str, kql: str, timespan: str) -> RequestSpec:
        """POST /v1/workspaces/{customerId}/query ``{query, timespan}`` (a read, retryable)."""
        return log_analytics_query_request(self.cloud, customer_id, kql, timespan)
