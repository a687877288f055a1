"""Content hub, analytics rule templates and Scheduled/NRT rule checks of the emulated workspace.

- ``contentProductPackages`` / ``contentProductTemplates``: the catalogue, holding the Microsoft Defender XDR solution
  (``_data/defender_xdr_solution.json``: ten analytics rule templates from the content repository). The list of
  product templates omits ``mainTemplate``; GET by name includes it (as the service does).
- ``contentPackages`` / ``contentTemplates``: what is installed (GET, PUT, DELETE), with etags.
- ``alertRuleTemplates``: the official example's templates (none requires the Defender XDR connector) plus one per
  installed content template of kind AnalyticsRule (from its ``mainTemplate``): templates arrive once the solution is
  installed.
- ``publish(content_id, version, query=None)``: a new version of one template in the catalogue (and a new package
  version), as when Microsoft updates the solution.
"""

from __future__ import annotations

import copy
import hashlib
from typing import TYPE_CHECKING, Any

from m365sentinel.emulator._arm_util import ArmError
from m365sentinel.emulator._files import packaged_json
from m365sentinel.emulator._http import EmuRequest, EmuResponse, json_response

if TYPE_CHECKING:
    from m365sentinel.emulator._core import Core, Handler

__all__ = ["ContentHub", "check_rule"]

_SCHEDULED_REQUIRED = (
    "displayName",
    "enabled",
    "query",
    "queryFrequency",
    "queryPeriod",
    "severity",
    "suppressionDuration",
    "suppressionEnabled",
    "triggerOperator",
    "triggerThreshold",
)
_NRT_REQUIRED = ("displayName", "enabled", "query", "severity", "suppressionDuration", "suppressionEnabled")


def check_rule(kind: str, props: dict[str, Any]) -> None:
    """The required properties of Scheduled and NRT rules (ScheduledAlertRuleProperties / NrtAlertRuleProperties)."""
    required = {"Scheduled": _SCHEDULED_REQUIRED, "NRT": _NRT_REQUIRED}.get(kind, ())
    for field in required:
        if props.get(field) is None:
            raise ArmError(400, "BadRequest", f"The 'properties.{field}' property is required for kind '{kind}'.")


class ContentHub:
    def __init__(self, core: Core) -> None:
        self.core = core
        solution = packaged_json("defender_xdr_solution.json")
        self.package: dict[str, Any] = solution["package"]
        self.catalogue: dict[str, dict[str, Any]] = {}  # content id -> template properties (full)
        for t in solution["templates"]:
            self._catalogue_template(t["id"], t["kind"], t["properties"])
        self.packages: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        example = packaged_json("GetAlertRuleTemplates.json")["responses"]["200"]["body"]["value"]
        self.builtin = [self._readdress(t, "alertRuleTemplates") for t in example]

    # -- catalogue -------------------------------------------------------------------------------------------
    def _catalogue_template(self, content_id: str, kind: str, props: dict[str, Any]) -> None:
        version = props["version"]
        digest = hashlib.sha1(f"{content_id}|{version}".encode()).hexdigest()[:13]
        product_id = f"{self.package['contentId']}-ar-{digest}"
        self.catalogue[content_id] = {
            "contentId": content_id,
            "contentKind": "AnalyticsRule",
            "contentProductId": product_id,
            "displayName": props["displayName"],
            "version": version,
            "packageId": self.package["contentId"],
            "packageKind": "Solution",
            "packageName": self.package["displayName"],
            "packageVersion": self.package["version"],
            "source": self.package["source"],
            "mainTemplate": {
                "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": version,
                "resources": [
                    {
                        "type": "Microsoft.SecurityInsights/AlertRuleTemplates",
                        "name": content_id,
                        "kind": kind,
                        "properties": props,
                    }
                ],
            },
        }

    def publish(self, content_id: str, version: str, *, query: str | None = None) -> None:
        """A new catalogue version of template ``content_id`` (optionally a new query) and of the package."""
        current = self.catalogue[content_id]
        resource = current["mainTemplate"]["resources"][0]
        props = {**copy.deepcopy(resource["properties"]), "version": version}
        if query is not None:
            props["query"] = query
        major, minor, patch = (int(x) for x in self.package["version"].split("."))
        self.package = {**self.package, "version": f"{major}.{minor}.{patch + 1}"}
        for other in self.catalogue.values():
            other["packageVersion"] = self.package["version"]
        self._catalogue_template(content_id, resource["kind"], props)

    def _readdress(self, item: dict[str, Any], collection: str) -> dict[str, Any]:
        out = copy.deepcopy(item)
        out["id"] = self.core.ws.si_id(collection, out["name"])
        return out

    def _arm(
        self, collection: str, type_: str, name: str, props: dict[str, Any], etag: str | None = None
    ) -> dict[str, Any]:
        item = {
            "id": self.core.ws.si_id(collection, name),
            "name": name,
            "type": f"Microsoft.SecurityInsights/{type_}",
            "properties": props,
        }
        if etag is not None:
            item["etag"] = etag
        return item

    def _product_packages(self) -> list[dict[str, Any]]:
        installed = self.packages.get(self.package["contentId"].lower())
        props = {**self.package, "contentProductId": f"{self.package['contentId']}-sl-{self.package['version']}"}
        if installed is not None:
            props["installedVersion"] = installed["properties"].get("version")
        return [self._arm("contentProductPackages", "contentproductpackages", props["contentId"], props, '"cat"')]

    def _product_templates(self, *, full: bool) -> list[dict[str, Any]]:
        return [
            self._arm(
                "contentProductTemplates",
                "contentproducttemplates",
                t["contentProductId"],
                t if full else {k: v for k, v in t.items() if k != "mainTemplate"},
                '"cat"',
            )
            for t in self.catalogue.values()
        ]

    # -- alert rule templates ----------------------------------------------------------------------------------
    def rule_templates(self) -> list[dict[str, Any]]:
        out = list(self.builtin)
        for t in self.templates.values():
            props = t["properties"]
            if props.get("contentKind") != "AnalyticsRule":
                continue
            for res in (props.get("mainTemplate") or {}).get("resources", []):
                if str(res.get("type", "")).lower().endswith("alertruletemplates"):
                    item = self._arm(
                        "alertRuleTemplates", "AlertRuleTemplates", res["name"], copy.deepcopy(res["properties"])
                    )
                    item["kind"] = res["kind"]
                    out.append(item)
        return out

    # -- routes -------------------------------------------------------------------------------------------------
    def handlers(self) -> dict[str, Handler]:
        return {
            "contentproductpackages": self._catalogue_route(lambda full: self._product_packages()),
            "contentproducttemplates": self._catalogue_route(lambda full: self._product_templates(full=full)),
            "contentpackages": self._installed_route(self.packages, "contentPackages"),
            "contenttemplates": self._installed_route(self.templates, "contentTemplates"),
            "alertruletemplates": self._catalogue_route(lambda full: self.rule_templates()),
        }

    def _catalogue_route(self, items: Any) -> Handler:
        def handle(req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
            core = self.core
            core._check_si(p)
            core._method(req, "GET")
            name = p.get("name")
            if name is None:
                return core._list(req, items(False))
            for item in items(True):
                if item["name"].lower() == name.lower():
                    return json_response(200, item)
            raise ArmError(404, "NotFound", f"'{name}' was not found.")

        return handle

    def _installed_route(self, bucket: dict[str, dict[str, Any]], collection: str) -> Handler:
        def handle(req: EmuRequest, p: dict[str, str], body: Any) -> EmuResponse:
            core, ws = self.core, self.core.ws
            done = core._read_or_delete(req, p, bucket, collection)
            if done is not None:
                return done
            body = core._body_object(body)
            props = body.get("properties")
            if not isinstance(props, dict) or not props.get("contentId") or not props.get("version"):
                raise ArmError(400, "BadRequest", "The 'properties.contentId' and 'properties.version' are required.")
            status, stored = ws.put(bucket, collection, p["name"], body)
            return json_response(status, stored)

        return handle
