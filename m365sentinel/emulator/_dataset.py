"""Deterministic, realistic data for one emulated tenant, generated from a seed relative to "now".

Incidents (with their status history), their alerts and entities, and rows for the ten Device* tables.
Nothing is pre-generated: the same (seed, now, sizes) always yields the same data.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from m365sentinel.emulator._files import packaged_json

__all__ = ["AlertSeed", "Dataset", "EntitySeed", "IncidentSeed", "Snapshot", "arm_properties", "generate", "products"]

DEVICE_TABLES = (
    "DeviceInfo",
    "DeviceNetworkInfo",
    "DeviceProcessEvents",
    "DeviceNetworkEvents",
    "DeviceFileEvents",
    "DeviceRegistryEvents",
    "DeviceLogonEvents",
    "DeviceImageLoadEvents",
    "DeviceEvents",
    "DeviceFileCertificateInfo",
)
# Rows per table over the generated window (event tables); DeviceInfo/NetworkInfo report per device and day.
_EVENT_ROWS = {
    "DeviceProcessEvents": 2400,
    "DeviceNetworkEvents": 2000,
    "DeviceFileEvents": 1500,
    "DeviceRegistryEvents": 900,
    "DeviceLogonEvents": 700,
    "DeviceImageLoadEvents": 1300,
    "DeviceEvents": 1700,
    "DeviceFileCertificateInfo": 400,
}
HISTORY_DAYS = 16  # 14 days of "recent" data plus 2 older days, so a timespan visibly clips


def products() -> dict[str, Any]:
    data: dict[str, Any] = packaged_json("products.json")
    return data


# SecurityAlert ``Entities`` key -> ARM property, per ARM entity kind, for the kinds the emulator generates (names
# as in the Security Insights swagger, stable/2025-09-01/common/EntityTypes.json). ``MdatpDeviceId`` has no swagger
# property: it is kept under its camelCase name rather than dropped.
_ARM_KEYS: dict[str, dict[str, str]] = {
    "Account": {
        "Name": "accountName",
        "NTDomain": "ntDomain",
        "UPNSuffix": "upnSuffix",
        "Sid": "sid",
        "AadUserId": "aadUserId",
    },
    "Host": {
        "HostName": "hostName",
        "DnsDomain": "dnsDomain",
        "OSFamily": "osFamily",
        "OSVersion": "osVersion",
        "MdatpDeviceId": "mdatpDeviceId",
    },
    "Ip": {"Address": "address"},
    "File": {"Name": "fileName", "Directory": "directory"},
    "FileHash": {"Algorithm": "algorithm", "Value": "hashValue"},
    "Url": {"Url": "url"},
    "Mailbox": {"MailboxPrimaryAddress": "mailboxPrimaryAddress", "DisplayName": "displayName", "Upn": "upn"},
}
# ARM property shown as friendlyName, where an official example shows the rule (GetAllIncidentEntities: Account;
# 2024-01-01-preview entities examples: Host, File, Ip, Mailbox). Url and FileHash have none documented: no
# friendlyName.
_FRIENDLY = {
    "Account": "accountName",
    "Host": "hostName",
    "Ip": "address",
    "File": "fileName",
    "Mailbox": "mailboxPrimaryAddress",
}


@dataclass
class EntitySeed:
    """One entity of an alert. ``alert_entity`` is the source (a SecurityAlert ``Entities`` item without ``$id``);
    ``properties`` (the ARM properties of ``POST .../entities``, without entity links) and ``nested`` (the
    FileHash entities of a File, linked as ``fileHashEntityIds``) are derived from it."""

    kind: str  # ARM entity kind: Account, Host, Ip, File, FileHash, Url, Mailbox
    key: str
    properties: dict[str, Any]
    alert_entity: dict[str, Any]
    nested: list[EntitySeed] = field(default_factory=list)


def arm_properties(kind: str, alert_entity: dict[str, Any]) -> dict[str, Any]:
    """The ARM properties of one SecurityAlert entity item (links such as ``FileHashes`` excluded)."""
    props = {arm: alert_entity[key] for key, arm in _ARM_KEYS[kind].items() if key in alert_entity}
    friendly = props.get(_FRIENDLY.get(kind, ""))
    if isinstance(friendly, str) and friendly:
        props["friendlyName"] = friendly
    return props


def _seed(kind: str, key: str, alert_entity: dict[str, Any]) -> EntitySeed:
    hashes = [
        EntitySeed("FileHash", f"{h['Algorithm']}:{h['Value']}".lower(), arm_properties("FileHash", h), h)
        for h in alert_entity.get("FileHashes", [])
    ]
    return EntitySeed(kind, key, arm_properties(kind, alert_entity), alert_entity, hashes)


@dataclass
class AlertSeed:
    system_alert_id: str
    product: str  # key of products.json "products"
    title: str
    tactic: str
    technique: str
    severity: str
    start: datetime
    end: datetime
    generated: datetime
    entities: list[EntitySeed]
    xdr_names: bool  # ProductName "Microsoft Defender XDR" (renamed products, case E3)
    vendor_original_id: str


@dataclass
class Snapshot:
    """One update of an incident: what a SecurityIncident row records at *time*."""

    time: datetime
    status: str
    owner: dict[str, Any]
    classification: str | None = None
    classification_reason: str | None = None
    classification_comment: str | None = None
    labels: list[dict[str, str]] = field(default_factory=list)
    modified_by: str = "Microsoft 365 Defender"


@dataclass
class IncidentSeed:
    name: str
    number: int
    provider_name: str
    provider_incident_id: str | None
    title: str
    severity: str
    created: datetime
    alerts: list[AlertSeed]
    snapshots: list[Snapshot]
    description: str = ""


@dataclass
class Dataset:
    incidents: list[IncidentSeed]
    device_rows: dict[str, list[dict[str, Any]]]


_SEVERITY_RANK = {"Informational": 0, "Low": 1, "Medium": 2, "High": 3}


class _Gen:
    def __init__(self, seed: int, now: datetime, tenant_id: str) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.tenant_id = tenant_id
        self.data = products()
        self.domain: str = self.data["domain"]
        self.users = [self._user(u) for u in self.data["users"]]
        self.devices = [self._device(d) for d in self.data["devices"]]
        self.file_hashes: dict[str, str] = {}

    # -- small helpers ----------------------------------------------------------------------------
    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hexstr(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def _user(self, name: str) -> dict[str, Any]:
        first, _, last = name.partition(".")
        display = f"{first.title()} {last.title()}" if last else name
        return {
            "name": name,
            "display": display,
            "upn": f"{name}@{self.domain}",
            "sid": f"S-1-5-21-1874808502-2282282112-3464708742-{1100 + self.rng.randrange(4000)}",
            "oid": self.guid(),
        }

    def _device(self, name: str) -> dict[str, Any]:
        server = name.startswith("srv-")
        return {
            "name": f"{name}.{self.data['dns_domain']}",
            "short": name,
            "id": self.hexstr(40),
            "ip": f"10.{20 + self.rng.randrange(4)}.{self.rng.randrange(1, 250)}.{self.rng.randrange(2, 250)}",
            "mac": self.hexstr(12).upper(),
            "os": "WindowsServer2022" if server else "Windows11",
            "type": "Server" if server else "Workstation",
            "build": 20348 if server else 22631,
        }

    def moment(self, start: datetime, end: datetime) -> datetime:
        span = (end - start).total_seconds()
        return start + timedelta(seconds=self.rng.random() * span)

    def work_moment(self, start: datetime, end: datetime) -> datetime:
        """Biased towards working hours (08-18 UTC), as device telemetry is."""
        for _ in range(4):
            t = self.moment(start, end)
            if 8 <= t.hour < 18 or self.rng.random() < 0.35:
                return t
        return t

    # -- entities ---------------------------------------------------------------------------------
    def entity(self, kind: str, user: dict[str, Any], device: dict[str, Any]) -> EntitySeed:
        """One alert entity, written as SecurityAlert ``Entities`` holds it; the ARM view is derived from that."""
        rng = self.rng
        if kind == "account":
            return _seed(
                "Account",
                user["upn"],
                {
                    "Name": user["name"],
                    "NTDomain": self.data["ad_domain"],
                    "UPNSuffix": self.domain,
                    "Sid": user["sid"],
                    "AadUserId": user["oid"],
                    "Type": "account",
                },
            )
        if kind == "host":
            return _seed(
                "Host",
                device["name"],
                {
                    "HostName": device["short"],
                    "DnsDomain": self.data["dns_domain"],
                    "OSFamily": "Windows",
                    "OSVersion": device["os"],
                    "MdatpDeviceId": device["id"],
                    "Type": "host",
                },
            )
        if kind == "ip":
            address = rng.choice(self.data["external_ips"]) if rng.random() < 0.7 else device["ip"]
            return _seed("Ip", address, {"Address": address, "Type": "ip"})
        if kind == "file":
            name, folder = rng.choice(self.data["files"])
            folder = folder.replace("{user}", user["name"])
            # One content per path across the tenant, so an incident's alerts name the same file the same way
            # (the draw is still made: the rest of the data stays as it was).
            sha256 = self.file_hashes.setdefault(f"{folder}\\{name}".lower(), self.hexstr(64))
            # Defender writes a file's hashes as entities of their own, nested inline (``$id`` assigned per row).
            return _seed(
                "File",
                f"{folder}\\{name}",
                {
                    "Name": name,
                    "Directory": folder,
                    "FileHashes": [{"Algorithm": "SHA256", "Value": sha256, "Type": "filehash"}],
                    "Type": "file",
                },
            )
        if kind == "url":
            url = rng.choice(self.data["urls"])
            return _seed("Url", url, {"Url": url, "Type": "url"})
        # mailbox
        return _seed(
            "Mailbox",
            user["upn"],
            {
                "MailboxPrimaryAddress": user["upn"],
                "DisplayName": user["display"],
                "Upn": user["upn"],
                "Type": "mailbox",
            },
        )

    # -- incidents --------------------------------------------------------------------------------
    def alert(self, product: str, near: datetime, user: dict[str, Any], device: dict[str, Any], xdr: bool) -> AlertSeed:
        spec = self.data["products"][product]
        title, tactic, technique, severity = self.rng.choice(spec["alerts"])
        generated = near - timedelta(seconds=self.rng.randrange(30, 1800))
        start = generated - timedelta(seconds=self.rng.randrange(60, 3600))
        end = start + timedelta(seconds=self.rng.randrange(1, 900))
        entities = [self.entity(kind, user, device) for kind in spec["entities"]]
        vendor_id = f"da{self.rng.randrange(10**17, 10**18)}_{self.rng.randrange(-(2**31), 2**31)}"
        return AlertSeed(
            self.guid(), product, title, tactic, technique, severity, start, end, generated, entities, xdr, vendor_id
        )

    def incident_title(self, alerts: list[AlertSeed]) -> str:
        first = alerts[0]
        where = "on one endpoint" if first.product in ("MDE", "MDI") else "involving one user"
        if len(alerts) == 1:
            return f"{first.title} {where}"
        tactics = sorted({a.tactic for a in alerts})
        if len(tactics) == 1:
            return f"Multi-stage incident involving {_words(tactics[0])} {where}"
        return f"Multi-stage incident involving {_words(tactics[0])} & {_words(tactics[1])} {where}"

    def history(self, created: datetime) -> list[Snapshot]:
        rng = self.rng
        analysts = self.data["analysts"]
        unassigned: dict[str, Any] = {"objectId": None, "email": None, "assignedTo": None, "userPrincipalName": None}
        labels: list[dict[str, str]] = []
        if rng.random() < 0.2:
            labels = [{"labelName": rng.choice(self.data["labels"]), "labelType": "User"}]
        snaps = [Snapshot(created, "New", dict(unassigned))]
        t = created
        if rng.random() < 0.3:  # an alert or evidence added by Defender: a second "New" row
            t = t + timedelta(minutes=rng.randrange(2, 90))
            if t < self.now:
                snaps.append(Snapshot(t, "New", dict(unassigned)))
        if rng.random() < 0.75:
            t = t + timedelta(minutes=rng.randrange(10, 720))
            if t < self.now:
                display, alias = rng.choice(analysts)
                owner = {
                    "objectId": self.guid(),
                    "email": f"{alias}@{self.domain}",
                    "assignedTo": display,
                    "userPrincipalName": f"{alias}@{self.domain}",
                }
                snaps.append(Snapshot(t, "Active", owner, labels=labels, modified_by=display))
                if rng.random() < 0.7:
                    t = t + timedelta(minutes=rng.randrange(30, 4320))
                    if t < self.now:
                        classification, reason = rng.choice(
                            [
                                ("TruePositive", "SuspiciousActivity"),
                                ("TruePositive", "SuspiciousActivity"),
                                ("BenignPositive", "SuspiciousButExpected"),
                                ("FalsePositive", "IncorrectAlertLogic"),
                                ("FalsePositive", "InaccurateData"),
                                ("Undetermined", None),
                            ]
                        )
                        snaps.append(
                            Snapshot(
                                t,
                                "Closed",
                                owner,
                                classification,
                                reason,
                                "Closed after investigation",
                                labels,
                                display,
                            )
                        )
        return snaps

    def incidents(self, count: int, older: int, xdr_share: float, first_number: int) -> list[IncidentSeed]:
        rng = self.rng
        window_start = self.now - timedelta(days=14)
        times = [self.moment(window_start, self.now - timedelta(minutes=1)) for _ in range(count)]
        times += [self.moment(self.now - timedelta(days=HISTORY_DAYS), window_start) for _ in range(older)]
        times.sort()
        # The newest share is named "Microsoft XDR" (the rename happened at a point in time).
        xdr_from = len(times) - round(len(times) * xdr_share)
        codes = list(self.data["products"])
        weights = [self.data["products"][c]["weight"] for c in codes]
        out: list[IncidentSeed] = []
        for i, created in enumerate(times):
            xdr = i >= xdr_from
            user, device = rng.choice(self.users), rng.choice(self.devices)
            n_alerts = rng.choices([1, 2, 3, 4], [45, 30, 15, 10])[0]
            alerts = [self.alert(rng.choices(codes, weights)[0], created, user, device, xdr) for _ in range(n_alerts)]
            severity = max((a.severity for a in alerts), key=_SEVERITY_RANK.__getitem__)
            number = first_number + i
            out.append(
                IncidentSeed(
                    name=self.guid(),
                    number=number,
                    provider_name="Microsoft XDR" if xdr else "Microsoft 365 Defender",
                    provider_incident_id=str(20000 + number * 3 + rng.randrange(3)),
                    title=self.incident_title(alerts),
                    severity=severity,
                    created=created,
                    alerts=alerts,
                    snapshots=self.history(created),
                )
            )
        return out

    def sentinel_incidents(self, count: int, first_number: int) -> list[IncidentSeed]:
        """A few incidents from the workspace's own Scheduled rule (providerName "Azure Sentinel")."""
        out: list[IncidentSeed] = []
        for i in range(count):
            created = self.moment(self.now - timedelta(days=14), self.now - timedelta(minutes=1))
            out.append(
                IncidentSeed(
                    self.guid(),
                    first_number + i,
                    "Azure Sentinel",
                    None,
                    "Excessive failed sign-ins to Azure portal",
                    "Medium",
                    created,
                    [],
                    self.history(created),
                    "Generated by the workspace's scheduled rule.",
                )
            )
        return out

    # -- device tables ----------------------------------------------------------------------------
    def device_rows(self) -> dict[str, list[dict[str, Any]]]:
        start = self.now - timedelta(days=HISTORY_DAYS)
        end = self.now - timedelta(seconds=1)
        tables: dict[str, list[dict[str, Any]]] = {}
        report = iter(range(1000, 10**9))
        for table in ("DeviceInfo", "DeviceNetworkInfo"):
            rows = []
            for device in self.devices:
                for day in range(HISTORY_DAYS):
                    t = start + timedelta(days=day, seconds=self.rng.randrange(0, 86400))
                    if t < end:
                        rows.append(self.device_row(table, t, device, next(report)))
            tables[table] = rows
        for table, count in _EVENT_ROWS.items():
            rows = []
            for _ in range(count):
                t = self.work_moment(start, end)
                rows.append(self.device_row(table, t, self.rng.choice(self.devices), next(report)))
            tables[table] = rows
        return tables

    def device_row(self, table: str, t: datetime, device: dict[str, Any], report_id: int) -> dict[str, Any]:
        rng = self.rng
        user = rng.choice(self.users)
        row: dict[str, Any] = {
            "TimeGenerated": t,
            "Timestamp": t,
            "DeviceId": device["id"],
            "DeviceName": device["name"],
            "ReportId": report_id,
            "MachineGroup": "UnassignedGroup",
            "TenantId": self.tenant_id,
            "Type": table,
            "SourceSystem": "",
            "_BilledSize": float(rng.randrange(600, 2600)),
            "_IsBillable": "True",
        }
        proc = rng.choice(_PROCESSES)
        initiating = {
            "InitiatingProcessFileName": proc[0],
            "InitiatingProcessFolderPath": proc[1],
            "InitiatingProcessCommandLine": proc[2],
            "InitiatingProcessId": rng.randrange(400, 20000),
            "InitiatingProcessAccountDomain": self.data["ad_domain"].lower(),
            "InitiatingProcessAccountName": user["name"],
            "InitiatingProcessAccountSid": user["sid"],
            "InitiatingProcessAccountUpn": user["upn"],
            "InitiatingProcessAccountObjectId": user["oid"],
            "InitiatingProcessIntegrityLevel": rng.choice(["Medium", "High", "System"]),
            "InitiatingProcessSHA1": self.hexstr(40),
            "InitiatingProcessSHA256": self.hexstr(64),
            "InitiatingProcessMD5": self.hexstr(32),
            "InitiatingProcessCreationTime": t - timedelta(seconds=rng.randrange(1, 7200)),
            "InitiatingProcessParentFileName": "explorer.exe",
            "InitiatingProcessParentId": rng.randrange(400, 20000),
        }
        if table == "DeviceInfo":
            row.update(
                {
                    "OSPlatform": device["os"],
                    "OSBuild": device["build"],
                    "OSArchitecture": "64-bit",
                    "DeviceType": device["type"],
                    "DeviceCategory": "Endpoint",
                    "OnboardingStatus": "Onboarded",
                    "SensorHealthState": "Active",
                    "ClientVersion": "10.8760.22621.1016",
                    "IsAzureADJoined": True,
                    "JoinType": "Hybrid Azure AD Join",
                    "PublicIP": rng.choice(self.data["external_ips"]),
                    "ExposureLevel": rng.choice(["Low", "Medium", "High"]),
                    "IsInternetFacing": False,
                    "LoggedOnUsers": [
                        {"UserName": user["name"], "DomainName": self.data["ad_domain"], "Sid": user["sid"]}
                    ],
                }
            )
        elif table == "DeviceNetworkInfo":
            row.update(
                {
                    "MacAddress": device["mac"],
                    "NetworkAdapterName": "Ethernet",
                    "NetworkAdapterStatus": "Up",
                    "NetworkAdapterType": "Ethernet",
                    "NetworkAdapterVendor": "Intel Corporation",
                    "IPAddresses": [{"IPAddress": device["ip"], "SubnetPrefix": 24, "AddressType": "Private"}],
                    "DefaultGateways": [device["ip"].rsplit(".", 1)[0] + ".1"],
                    "DnsAddresses": ["10.20.0.10"],
                    "ConnectedNetworks": [
                        {"Name": self.data["dns_domain"], "Category": "Domain", "IsConnectedToInternet": True}
                    ],
                    "IPv4Dhcp": "10.20.0.5",
                    "TunnelType": "None",
                }
            )
        elif table == "DeviceProcessEvents":
            child = rng.choice(_PROCESSES)
            row.update(initiating)
            row.update(
                {
                    "ActionType": "ProcessCreated",
                    "FileName": child[0],
                    "FolderPath": child[1],
                    "ProcessCommandLine": child[2],
                    "ProcessId": rng.randrange(400, 20000),
                    "ProcessCreationTime": t,
                    "ProcessIntegrityLevel": "Medium",
                    "ProcessTokenElevation": "TokenElevationTypeDefault",
                    "AccountDomain": self.data["ad_domain"].lower(),
                    "AccountName": user["name"],
                    "AccountSid": user["sid"],
                    "AccountUpn": user["upn"],
                    "SHA1": self.hexstr(40),
                    "SHA256": self.hexstr(64),
                    "MD5": self.hexstr(32),
                    "FileSize": rng.randrange(20000, 5000000),
                    "AdditionalFields": {},
                }
            )
        elif table == "DeviceNetworkEvents":
            row.update(initiating)
            remote = rng.choice(self.data["external_ips"] + ["13.107.42.14", "52.96.165.18", "20.190.151.68"])
            row.update(
                {
                    "ActionType": rng.choice(
                        [
                            "ConnectionSuccess",
                            "ConnectionSuccess",
                            "ConnectionFailed",
                            "InboundConnectionAccepted",
                            "DnsConnectionInspected",
                        ]
                    ),
                    "RemoteIP": remote,
                    "RemotePort": rng.choice([443, 443, 80, 53, 445, 3389]),
                    "RemoteIPType": "Public",
                    "LocalIP": device["ip"],
                    "LocalPort": rng.randrange(49152, 65535),
                    "LocalIPType": "Private",
                    "Protocol": rng.choice(["Tcp", "Tcp", "Udp"]),
                    "RemoteUrl": rng.choice(["login.microsoftonline.com", "outlook.office365.com", "", "github.com"]),
                }
            )
        elif table == "DeviceFileEvents":
            name, folder = rng.choice(self.data["files"] + [["report.docx", "C:\\Users\\{user}\\Documents"]])
            row.update(initiating)
            row.update(
                {
                    "ActionType": rng.choice(["FileCreated", "FileModified", "FileRenamed", "FileDeleted"]),
                    "FileName": name,
                    "FolderPath": folder.replace("{user}", user["name"]) + "\\" + name,
                    "SHA1": self.hexstr(40),
                    "SHA256": self.hexstr(64),
                    "MD5": self.hexstr(32),
                    "FileSize": rng.randrange(1000, 3000000),
                }
            )
        elif table == "DeviceRegistryEvents":
            row.update(initiating)
            row.update(
                {
                    "ActionType": rng.choice(["RegistryValueSet", "RegistryKeyCreated", "RegistryValueDeleted"]),
                    "RegistryKey": rng.choice(_REG_KEYS),
                    "RegistryValueName": rng.choice(["Start", "Enabled", "Path"]),
                    "RegistryValueType": "Dword",
                    "RegistryValueData": str(rng.randrange(0, 4)),
                }
            )
        elif table == "DeviceLogonEvents":
            row.update(initiating)
            failed = rng.random() < 0.2
            row.update(
                {
                    "ActionType": "LogonFailed" if failed else "LogonSuccess",
                    "LogonType": rng.choice(["Interactive", "Network", "RemoteInteractive", "Unlock"]),
                    "AccountDomain": self.data["ad_domain"].lower(),
                    "AccountName": user["name"],
                    "AccountSid": user["sid"],
                    "Protocol": rng.choice(["Kerberos", "NTLM", "Negotiate"]),
                    "FailureReason": "InvalidUserNameOrPassword" if failed else "",
                    "IsLocalAdmin": rng.random() < 0.1,
                    "RemoteIP": rng.choice(self.data["external_ips"]) if rng.random() < 0.3 else "",
                    "LogonId": rng.randrange(10**5, 10**8),
                    "AdditionalFields": {"IsLocalLogon": not failed},
                }
            )
        elif table == "DeviceImageLoadEvents":
            dll = rng.choice(_DLLS)
            row.update(initiating)
            row.update(
                {
                    "ActionType": "ImageLoaded",
                    "FileName": dll,
                    "FolderPath": "C:\\Windows\\System32\\" + dll,
                    "SHA1": self.hexstr(40),
                    "SHA256": self.hexstr(64),
                    "MD5": self.hexstr(32),
                    "FileSize": rng.randrange(50000, 4000000),
                }
            )
        elif table == "DeviceEvents":
            action = rng.choice(_DEVICE_EVENT_ACTIONS)
            row.update(initiating)
            del row["InitiatingProcessIntegrityLevel"]  # not a DeviceEvents column
            row.update(
                {
                    "ActionType": action[0],
                    "AdditionalFields": action[1],
                    "FileName": proc[0],
                    "FolderPath": proc[1],
                    "AccountName": user["name"],
                    "AccountDomain": self.data["ad_domain"].lower(),
                    "AccountSid": user["sid"],
                }
            )
        elif table == "DeviceFileCertificateInfo":
            signer = rng.choice(["Microsoft Windows", "Microsoft Corporation", "Google LLC", "Adobe Inc."])
            row.update(
                {
                    "SHA1": self.hexstr(40),
                    "IsSigned": True,
                    "SignatureType": "Embedded",
                    "Signer": signer,
                    "SignerHash": self.hexstr(40),
                    "Issuer": "Microsoft Windows Production PCA 2011",
                    "IssuerHash": self.hexstr(40),
                    "CertificateSerialNumber": self.hexstr(38),
                    "CrlDistributionPointUrls": '["http://www.microsoft.com/pkiops/crl/MicWinProPCA2011_2011-10-19.crl"]',
                    "CertificateCreationTime": t - timedelta(days=200),
                    "CertificateExpirationTime": t + timedelta(days=165),
                    "IsTrusted": True,
                    "IsRootSignerMicrosoft": signer.startswith("Microsoft"),
                }
            )
        return row


def _words(tactic: str) -> str:
    out = "".join(" " + c if c.isupper() else c for c in tactic).strip()
    return out.replace("And", "&")


_PROCESSES = [
    (
        "powershell.exe",
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "powershell.exe -ExecutionPolicy Bypass -NoProfile -File C:\\ProgramData\\scripts\\inventory.ps1",
    ),
    ("cmd.exe", "C:\\Windows\\System32\\cmd.exe", "cmd.exe /c whoami /all"),
    ("chrome.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", '"chrome.exe" --type=renderer'),
    ("OUTLOOK.EXE", "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", '"OUTLOOK.EXE"'),
    ("svchost.exe", "C:\\Windows\\System32\\svchost.exe", "svchost.exe -k netsvcs -p"),
    ("msedge.exe", "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", '"msedge.exe"'),
    ("Teams.exe", "C:\\Users\\Public\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe", '"Teams.exe"'),
    ("MsSense.exe", "C:\\Program Files\\Windows Defender Advanced Threat Protection\\MsSense.exe", '"MsSense.exe"'),
]
_DLLS = ["ntdll.dll", "kernel32.dll", "amsi.dll", "wininet.dll", "System.Management.Automation.ni.dll", "samlib.dll"]
_REG_KEYS = [
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
    "HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\WinDefend",
    "HKEY_CURRENT_USER\\Software\\Microsoft\\Office\\16.0\\Outlook\\Security",
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\Real-Time Protection",
]
_DEVICE_EVENT_ACTIONS = [
    ("AntivirusDetection", {"ThreatName": "HackTool:Win32/Mimikatz.D", "WasRemediated": True}),
    ("SmartScreenUrlWarning", {"Experience": "Malicious"}),
    ("DpapiAccessed", {"CallerProcessID": 4248}),
    ("ScheduledTaskCreated", {"TaskName": "\\Microsoft\\Windows\\UpdateCheck"}),
    ("UsbDriveMounted", {"DriveLetter": "E:", "ProductName": "USB Flash Disk"}),
    ("PowerShellCommand", {"Command": "Invoke-WebRequest"}),
    ("ProcessCreatedUsingWmiQuery", {}),
    ("ExploitGuardNetworkProtectionBlocked", {"RemoteUrl": "cdn.update-check.net"}),
]


def generate(
    *, seed: int, now: datetime, tenant_id: str, incidents: int, xdr_share: float, device_tables: bool = True
) -> Dataset:
    """Build the dataset: *incidents* Defender incidents created in the last 14 days (plus ~5% older ones and
    ~5% workspace-own "Azure Sentinel" incidents), their alerts, and the Device* rows of the last 16 days."""
    gen = _Gen(seed, now, tenant_id)
    older = round(incidents * 0.05)
    defender = gen.incidents(incidents, older, xdr_share, first_number=1001)
    own = gen.sentinel_incidents(round(incidents * 0.05), first_number=1001 + len(defender))
    rows = gen.device_rows() if device_tables else {}
    merged = sorted(defender + own, key=lambda inc: inc.created)
    for number, incident in enumerate(merged, start=1001):  # Sentinel numbers incidents in creation order
        incident.number = number
    return Dataset(merged, rows)
