"""The emulated Sentinel workspace: ARM resources, incidents with their alerts/entities/comments, and tables.

Every write goes through here, so the ARM view of an incident and its append-only ``SecurityIncident`` rows
always agree (latest row = current ARM state).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from m365sentinel.emulator._arm_util import ArmError
from m365sentinel.emulator._clock import Clock
from m365sentinel.emulator._dataset import DEVICE_TABLES, AlertSeed, Dataset, EntitySeed, IncidentSeed, products
from m365sentinel.emulator._engine import format_datetime
from m365sentinel.emulator._files import packaged_json
from m365sentinel.emulator._rows import alert_resource, alert_row, entity_resource, incident_row
from m365sentinel.emulator._tables import TableStore, load_schemas

__all__ = ["Workspace"]

SI = "Microsoft.SecurityInsights"
CREATION_RULE_PRODUCTS = (
    "Microsoft Defender Advanced Threat Protection",
    "Azure Advanced Threat Protection",
    "Office 365 Advanced Threat Protection",
    "Microsoft Cloud App Security",
    "Azure Active Directory Identity Protection",
    "Azure Security Center",
)
_ALERT_STATUS = {"New": "New", "Active": "InProgress", "Closed": "Resolved"}
# Tables Microsoft Sentinel ingests at no charge (Usage.IsBillable false).
_FREE_TABLES = ("SecurityIncident", "SecurityAlert")


def _strip_quotes(etag: Any) -> str:
    return str(etag).strip().strip('"')


class Workspace:
    """State of one workspace (+ its Defender tenant). Not thread-safe: the handler core holds a lock."""

    def __init__(
        self,
        *,
        clock: Clock,
        subscription_id: str,
        resource_group: str,
        workspace_name: str,
        tenant_id: str,
        customer_id: str,
        unified_portal: bool,
        location: str = "westeurope",
    ) -> None:
        self.clock = clock
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.workspace_name = workspace_name
        self.tenant_id = tenant_id
        self.customer_id = customer_id
        self.location = location
        self.unified_portal = unified_portal
        self.sentinel_onboarded = True
        self.license_valid = True
        self.page_size = 50
        self.created: datetime = clock.now() - timedelta(days=400)
        self._etag_counter = 0
        self._products = products()
        self.connectors: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.settings: dict[str, dict[str, Any]] = {}
        self.onboarding: dict[str, Any] | None = None
        self.incidents: dict[str, dict[str, Any]] = {}
        self.incident_alerts: dict[str, list[AlertSeed]] = {}
        self.comments: dict[str, dict[str, dict[str, Any]]] = {}
        self.relations: dict[str, dict[str, dict[str, Any]]] = {}
        self.tables: TableStore = TableStore()
        self.schemas: dict[str, list[tuple[str, str]]] = load_schemas()
        self._seed_arm()

    # -- ids ----------------------------------------------------------------------------------------
    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.OperationalInsights/workspaces/{self.workspace_name}"
        )

    def si_id(self, collection: str, name: str) -> str:
        return f"{self.resource_id}/providers/{SI}/{collection}/{name}"

    def new_etag(self) -> str:
        self._etag_counter += 1
        stamp = int(self.clock.now().timestamp())
        return f'"{self._etag_counter:08x}-0000-0d00-0000-{stamp:012x}"'

    def now_text(self) -> str:
        return format_datetime(self.clock.now())

    # -- seeding ------------------------------------------------------------------------------------
    def _seed_arm(self) -> None:
        # Component connectors, from the official list example (re-addressed to this workspace).
        listed = packaged_json("GetDataConnectors.json")["responses"]["200"]["body"]["value"]
        keep = {
            "MicrosoftDefenderAdvancedThreatProtection",
            "AzureAdvancedThreatProtection",
            "MicrosoftCloudAppSecurity",
            "AzureActiveDirectory",
            "Office365",
        }
        for item in listed:
            if item["kind"] in keep:
                body = copy.deepcopy(item)
                if "tenantId" in body["properties"]:
                    body["properties"]["tenantId"] = self.tenant_id
                self._store(self.connectors, "dataConnectors", body["name"], body)
        if self.unified_portal:  # onboarding to the Defender portal connects Defender XDR itself
            mtp = {
                "kind": "MicrosoftThreatProtection",
                "properties": {
                    "tenantId": self.tenant_id,
                    "dataTypes": {"incidents": {"state": "Enabled"}, "alerts": {"state": "Enabled"}},
                },
            }
            self._store(self.connectors, "dataConnectors", "a1e3b2c4-0d5f-4e6a-8b7c-9d0e1f2a3b4c", mtp)
        # Alert rules: the Scheduled rule of the list example + six Microsoft incident creation rules (case A5).
        scheduled = next(
            r
            for r in packaged_json("GetAllAlertRules.json")["responses"]["200"]["body"]["value"]
            if r["kind"] == "Scheduled"
        )
        self._store(self.rules, "alertRules", scheduled["name"], copy.deepcopy(scheduled))
        if not self.unified_portal:  # the unified portal removes Microsoft incident creation rules
            template = packaged_json("GetMicrosoftSecurityIncidentCreationAlertRule.json")["responses"]["200"]["body"]
            for i, product in enumerate(CREATION_RULE_PRODUCTS):
                body = copy.deepcopy(template)
                name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"creation-rule/{product}"))
                body["properties"].update(
                    {
                        "productFilter": product,
                        "displayName": f"Create incidents based on {product} alerts",
                        "enabled": True,
                        "lastModifiedUtc": format_datetime(self.created + timedelta(days=i)),
                    }
                )
                self._store(self.rules, "alertRules", name, body)
        eyes_on = copy.deepcopy(packaged_json("GetEyesOnSetting.json")["responses"]["200"]["body"])
        self._store(self.settings, "settings", "EyesOn", eyes_on)
        self._store(self.settings, "settings", "Anomalies", {"kind": "Anomalies", "properties": {"isEnabled": True}})
        self.onboarding = self._onboarding_resource()

    def _onboarding_resource(self) -> dict[str, Any]:
        return {
            "id": self.si_id("onboardingStates", "default"),
            "name": "default",
            "type": f"{SI}/onboardingStates",
            "etag": self.new_etag(),
            "properties": {"customerManagedKey": False},
        }

    def _store(
        self, bucket: dict[str, dict[str, Any]], collection: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        body["id"] = self.si_id(collection, name)
        body["name"] = name
        body["type"] = f"{SI}/{collection}"
        body["etag"] = self.new_etag()
        bucket[name.lower()] = body
        return body

    def create_tables(self, *extra: str) -> None:
        """Create, empty, the tables every Sentinel workspace has (SecurityIncident, SecurityAlert, Usage), plus
        ``extra`` (the Device* tables once Defender data flows)."""
        for name in ("SecurityIncident", "SecurityAlert", *extra, "Usage"):
            self.tables.create(name, self.schemas[name])

    def load_dataset(self, data: Dataset) -> None:
        """Create the tables and fill ARM incidents + SecurityIncident/SecurityAlert/Device*/Usage rows."""
        self.create_tables(*DEVICE_TABLES)
        for seed in data.incidents:
            self._load_incident(seed)
        for table, rows in data.device_rows.items():
            self.tables.append(table, rows)
        self.tables.append("Usage", self._usage_rows())

    def _load_incident(self, seed: IncidentSeed) -> None:
        first = seed.alerts[0].start if seed.alerts else seed.created - timedelta(minutes=5)
        last = max((a.end for a in seed.alerts), default=seed.created - timedelta(minutes=1))
        props: dict[str, Any] = {
            "title": seed.title,
            "description": seed.description,
            "severity": seed.severity,
            "status": "New",
            "owner": {},
            "labels": [],
            "firstActivityTimeUtc": format_datetime(first),
            "lastActivityTimeUtc": format_datetime(last),
            "createdTimeUtc": format_datetime(seed.created),
            "lastModifiedTimeUtc": format_datetime(seed.created),
            "incidentNumber": seed.number,
            "incidentUrl": f"https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident"
            f"{self.si_id('incidents', seed.name)}",
            "providerName": seed.provider_name,
            "relatedAnalyticRuleIds": [] if seed.provider_incident_id else [self._scheduled_rule_id()],
            "additionalData": self._additional_data(seed),
        }
        if seed.provider_incident_id:
            props["providerIncidentId"] = seed.provider_incident_id
        resource = {"properties": props}
        self.incident_alerts[seed.name.lower()] = list(seed.alerts)
        spec_of = self._products["products"]
        xdr_name = self._products["xdr_product_name"]
        for snap in seed.snapshots:
            props["status"] = snap.status
            props["owner"] = dict(snap.owner)
            props["labels"] = list(snap.labels)
            props["lastModifiedTimeUtc"] = format_datetime(snap.time)
            for key, value in (
                ("classification", snap.classification),
                ("classificationReason", snap.classification_reason),
                ("classificationComment", snap.classification_comment),
            ):
                if value is not None:
                    props[key] = value
            self.tables.append(
                "SecurityIncident",
                [
                    incident_row(
                        {"name": seed.name, **resource},
                        time=snap.time,
                        customer_id=self.customer_id,
                        alert_ids=[a.system_alert_id for a in seed.alerts],
                        modified_by=snap.modified_by,
                    )
                ],
            )
            if snap.status == "New" and snap is not seed.snapshots[0]:
                continue
            for alert in seed.alerts:
                row_time = alert.generated if snap is seed.snapshots[0] else snap.time
                self.tables.append(
                    "SecurityAlert",
                    [
                        alert_row(
                            alert,
                            spec=spec_of[alert.product],
                            xdr_name=xdr_name,
                            status=_ALERT_STATUS[snap.status],
                            time=row_time,
                            customer_id=self.customer_id,
                            subscription_id=self.subscription_id,
                            resource_group=self.resource_group,
                            tenant_id=self.tenant_id,
                        )
                    ],
                )
        self._store(self.incidents, "incidents", seed.name, resource)

    def _scheduled_rule_id(self) -> str:
        rule = next(r for r in self.rules.values() if r["kind"] == "Scheduled")
        return str(rule["id"])

    def _additional_data(self, seed: IncidentSeed) -> dict[str, Any]:
        spec_of = self._products["products"]
        names: list[str] = []
        for alert in seed.alerts:
            name = self._products["xdr_product_name"] if alert.xdr_names else spec_of[alert.product]["product_name"]
            if name not in names:
                names.append(name)
        data: dict[str, Any] = {
            "alertsCount": len(seed.alerts),
            "bookmarksCount": 0,
            "commentsCount": 0,
            "alertProductNames": names,
            "tactics": sorted({a.tactic for a in seed.alerts}),
        }
        if seed.provider_incident_id:
            data["providerIncidentUrl"] = (
                f"https://security.microsoft.com/incidents/{seed.provider_incident_id}?tid={self.tenant_id}"
            )
        return data

    def refresh_usage(self) -> None:
        """Recompute Usage from the rows the other tables hold now (keeps Usage consistent after changes)."""
        if "Usage" not in self.tables.schemas:
            return
        self.tables.clear_rows("Usage")
        self.tables.append("Usage", self._usage_rows())

    def _usage_rows(self) -> list[dict[str, Any]]:
        """Hourly billable volume per data type, summed from the rows' _BilledSize (MB, decimal)."""
        buckets: dict[tuple[str, datetime], float] = {}
        for table, rows in self.tables.rows.items():
            if table == "Usage":
                continue
            for row in rows:
                t = row["TimeGenerated"]
                hour = t.replace(minute=0, second=0, microsecond=0)
                buckets[(table, hour)] = buckets.get((table, hour), 0.0) + float(row.get("_BilledSize") or 0)
        out = []
        for (table, hour), size in sorted(buckets.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            end = hour + timedelta(hours=1) - timedelta(seconds=1)
            if end >= self.clock.now():
                end = self.clock.now() - timedelta(microseconds=1)
            out.append(
                {
                    "TenantId": self.customer_id,
                    "Computer": "",
                    "TimeGenerated": end,
                    "SourceSystem": "OMS",
                    "StartTime": hour,
                    "EndTime": end,
                    "ResourceUri": self.resource_id.lower(),
                    "LinkedResourceUri": None,
                    "DataType": table,
                    "Solution": "SecurityInsights",
                    "BatchesWithinSla": 1,
                    "BatchesOutsideSla": 0,
                    "BatchesCapped": 0,
                    "TotalBatches": 1,
                    "AvgLatencyInSeconds": 95.5,
                    "Quantity": round(size / 1e6, 6),
                    "QuantityUnit": "MBytes",
                    "IsBillable": table not in _FREE_TABLES,
                    "MeterId": "a4e29a95-5b4c-408b-80e3-113f9410566e",
                    "LinkedMeterId": "00000000-0000-0000-0000-000000000000",
                    "Type": "Usage",
                }
            )
        return out

    # -- generic ARM collection operations ------------------------------------------------------------
    def get(self, bucket: dict[str, dict[str, Any]], name: str, what: str) -> dict[str, Any]:
        found = bucket.get(name.lower())
        if found is None:
            raise ArmError(404, "NotFound", f"{what} '{name}' was not found.")
        return found

    def check_etag(self, existing: dict[str, Any] | None, body: dict[str, Any]) -> None:
        given = body.get("etag")
        if existing is not None and given is not None and _strip_quotes(given) != _strip_quotes(existing.get("etag")):
            raise ArmError(409, "Conflict", "Newer version of resource exists")

    def put(
        self, bucket: dict[str, dict[str, Any]], collection: str, name: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        existing = bucket.get(name.lower())
        self.check_etag(existing, body)
        stored = copy.deepcopy(body)
        stored.pop("etag", None)
        if existing is not None:
            name = existing["name"]
        result = self._store(bucket, collection, name, stored)
        return (200 if existing is not None else 201), result

    def delete(self, bucket: dict[str, dict[str, Any]], name: str) -> int:
        return 200 if bucket.pop(name.lower(), None) is not None else 204

    # -- incidents ------------------------------------------------------------------------------------
    def put_incident(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        props = body.get("properties")
        if not isinstance(props, dict):
            raise ArmError(400, "BadRequest", "The request body must contain 'properties'.")
        for field, allowed in (
            ("title", None),
            ("severity", ("High", "Medium", "Low", "Informational")),
            ("status", ("New", "Active", "Closed")),
        ):
            value = props.get(field)
            if not value:
                raise ArmError(400, "BadRequest", f"The '{field}' property is required.")
            if allowed and value not in allowed:
                raise ArmError(400, "BadRequest", f"'{value}' is not a valid value for '{field}'.")
        if props["status"] == "Closed" and not props.get("classification"):
            raise ArmError(400, "BadRequest", "Classification is required when closing an incident.")
        existing = self.incidents.get(name.lower())
        self.check_etag(existing, body)
        now = self.clock.now()
        stored = copy.deepcopy(body)
        stored.pop("etag", None)
        new_props = stored["properties"]
        readonly = (
            "createdTimeUtc",
            "incidentNumber",
            "incidentUrl",
            "providerName",
            "providerIncidentId",
            "additionalData",
            "relatedAnalyticRuleIds",
        )
        if existing is not None:
            for key in readonly:
                if key in existing["properties"]:
                    new_props[key] = existing["properties"][key]
            name = existing["name"]
            status = 200
        else:
            number = 1 + max((r["properties"].get("incidentNumber", 0) for r in self.incidents.values()), default=1000)
            new_props.update(
                {
                    "createdTimeUtc": format_datetime(now),
                    "incidentNumber": number,
                    "providerName": "Azure Sentinel",
                    "incidentUrl": "https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident"
                    + self.si_id("incidents", name),
                    "additionalData": {
                        "alertsCount": 0,
                        "bookmarksCount": 0,
                        "commentsCount": 0,
                        "alertProductNames": [],
                        "tactics": [],
                    },
                    "relatedAnalyticRuleIds": [],
                }
            )
            new_props.setdefault("labels", [])
            self.incident_alerts[name.lower()] = []
            status = 201
        new_props["lastModifiedTimeUtc"] = format_datetime(now)
        result = self._store(self.incidents, "incidents", name, stored)
        alerts = self.incident_alerts.get(name.lower(), [])
        if "SecurityIncident" in self.tables.schemas:
            self.tables.append(
                "SecurityIncident",
                [
                    incident_row(
                        result,
                        time=now,
                        customer_id=self.customer_id,
                        alert_ids=[a.system_alert_id for a in alerts],
                        modified_by="Microsoft Sentinel",
                    )
                ],
            )
        old_status = existing["properties"].get("status") if existing else None
        if old_status != new_props["status"] and alerts and "SecurityAlert" in self.tables.schemas:
            self.tables.append("SecurityAlert", [self._alert_row(a, new_props["status"], now) for a in alerts])
        return status, result

    def _alert_row(self, alert: AlertSeed, incident_status: str, when: datetime) -> dict[str, Any]:
        return alert_row(
            alert,
            spec=self._products["products"][alert.product],
            xdr_name=self._products["xdr_product_name"],
            status=_ALERT_STATUS.get(incident_status, "New"),
            time=when,
            customer_id=self.customer_id,
            subscription_id=self.subscription_id,
            resource_group=self.resource_group,
            tenant_id=self.tenant_id,
        )

    def delete_incident(self, name: str) -> int:
        status = self.delete(self.incidents, name)
        self.incident_alerts.pop(name.lower(), None)
        self.comments.pop(name.lower(), None)
        self.relations.pop(name.lower(), None)
        return status

    def incident_alert_resources(self, name: str) -> list[dict[str, Any]]:
        """``POST .../alerts``: each alert derived from its ``SecurityAlert`` row (as first written, at the alert's
        generation time, in the status the incident's alerts have now), so both views describe the same alert."""
        incident = self.get(self.incidents, name, "Incident")
        status = incident["properties"].get("status", "New")
        return [
            alert_resource(
                self._alert_row(a, status, a.generated),
                workspace_resource_id=self.resource_id,
                customer_id=self.customer_id,
            )
            for a in self.incident_alerts.get(name.lower(), [])
        ]

    def incident_entities(self, name: str) -> dict[str, Any]:
        """``POST .../entities``: the incident's alert entities (derived from the same items its ``SecurityAlert``
        rows carry), each once; a File's hashes are FileHash entities linked by ``fileHashEntityIds``."""
        self.get(self.incidents, name, "Incident")
        seen: dict[tuple[str, str], dict[str, Any]] = {}

        def add(entity: EntitySeed) -> str:
            key = (entity.kind, entity.key.lower())
            entity_name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name.lower()}/{key}"))
            if key not in seen:
                seen[key] = {}  # its place: the entity before the ones it links to
                links = {"fileHashEntityIds": [add(h) for h in entity.nested]} if entity.nested else None
                seen[key] = entity_resource(
                    entity, workspace_resource_id=self.resource_id, name=entity_name, links=links
                )
            return entity_name

        for alert in self.incident_alerts.get(name.lower(), []):
            for entity in alert.entities:
                add(entity)
        counts: dict[str, int] = {}
        for kind, _ in seen:
            counts[kind] = counts.get(kind, 0) + 1
        return {
            "entities": list(seen.values()),
            "metaData": [{"count": n, "entityKind": kind} for kind, n in counts.items()],
        }

    def put_comment(self, incident: str, comment: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        inc = self.get(self.incidents, incident, "Incident")
        message = (body.get("properties") or {}).get("message")
        if not isinstance(message, str) or not message:
            raise ArmError(400, "BadRequest", "The 'message' property is required.")
        bucket = self.comments.setdefault(incident.lower(), {})
        existing = bucket.get(comment.lower())
        self.check_etag(existing, body)
        stored = copy.deepcopy(body)
        stored.pop("etag", None)
        now = self.now_text()
        stored["properties"]["createdTimeUtc"] = existing["properties"]["createdTimeUtc"] if existing else now
        stored["properties"]["lastModifiedTimeUtc"] = now
        stored["properties"]["author"] = {
            "objectId": "5e1b7e6c-33d9-4f7f-9a51-0c0e2f3b6a11",
            "email": "automation@contoso.com",
            "userPrincipalName": "automation@contoso.com",
            "name": "Sentinel automation",
        }
        collection = f"incidents/{inc['name']}/comments"
        result = self._store(bucket, collection, existing["name"] if existing else comment, stored)
        result["type"] = f"{SI}/incidents/comments"
        inc["properties"].setdefault("additionalData", {})["commentsCount"] = len(bucket)
        return (200 if existing else 201), result

    # -- ground truth ---------------------------------------------------------------------------------
    def defender_provider_names(self) -> tuple[str, ...]:
        raw = packaged_json("providers.json", "m365sentinel._data")
        return tuple(raw["incident_provider_names"])

    def incidents_created(self, start: datetime, end: datetime, provider_names: Iterable[str] | None) -> set[str]:
        names = set(provider_names) if provider_names is not None else set(self.defender_provider_names())
        out: set[str] = set()
        for row in self.tables.rows.get("SecurityIncident", []):
            created = row.get("CreatedTime")
            if row.get("ProviderName") in names and created is not None and start <= created < end:
                out.add(str(row["IncidentName"]))
        return out
