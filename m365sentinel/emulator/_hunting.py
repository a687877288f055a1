"""Deterministic rows for the advanced hunting tables the connector streams beyond Device* (Email*, Identity*,
CloudAppEvents, AlertInfo, AlertEvidence, UrlClickEvents), so that translated hunting queries run offline.

A few rows per table over the last day, typed by the Sentinel-side schema (``kql.schema_for``: the schemas the
translator targets, ``Timestamp`` included where Sentinel's validation schemas have it). Values that queries join
or filter on are shared across tables: one set of mail messages (``NetworkMessageId``), one set of alerts
(``AlertId``), the same users and devices.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any, Final

__all__ = ["HUNTING_TABLES", "hunting_rows"]

HUNTING_TABLES: Final = (
    "EmailEvents",
    "EmailUrlInfo",
    "EmailAttachmentInfo",
    "EmailPostDeliveryEvents",
    "UrlClickEvents",
    "IdentityLogonEvents",
    "IdentityQueryEvents",
    "IdentityDirectoryEvents",
    "CloudAppEvents",
    "AlertInfo",
    "AlertEvidence",
)
_USERS: Final = ("avery.lee", "blake.ward", "casey.ng")
_DEVICES: Final = ("ws-0001.corp.contoso.com", "srv-dc01.corp.contoso.com")
_SEVERITIES: Final = ("Low", "Medium", "High")


def _known(column: str, i: int, ctx: dict[str, Any]) -> Any:
    """A realistic value for the columns queries filter and join on; None for the others."""
    user = _USERS[i % len(_USERS)]
    upn = f"{user}@contoso.com"
    values: dict[str, Any] = {
        "NetworkMessageId": ctx["messages"][i % len(ctx["messages"])],
        "AlertId": ctx["alerts"][i % len(ctx["alerts"])],
        "AccountUpn": upn,
        "AccountName": user,
        "AccountDomain": "contoso.com",
        "AccountDisplayName": user.replace(".", " ").title(),
        "AccountObjectId": ctx["oids"][i % len(ctx["oids"])],
        "RecipientEmailAddress": upn,
        "SenderFromAddress": "billing@invoices-contoso.example",
        "SenderFromDomain": "invoices-contoso.example",
        "SenderMailFromAddress": "billing@invoices-contoso.example",
        "SenderMailFromDomain": "invoices-contoso.example",
        "Subject": ("Invoice overdue", "Quarterly review", "Password expiry")[i % 3],
        "EmailDirection": "Inbound",
        "DeliveryAction": ("Delivered", "Blocked")[i % 2],
        "ThreatTypes": ("Phish", "", "Malware")[i % 3],
        "Url": f"https://invoices-contoso.example/pay/{i}",
        "UrlDomain": "invoices-contoso.example",
        "FileName": f"invoice{i}.docm",
        "SHA256": f"{i:064x}",
        "DeviceName": _DEVICES[i % len(_DEVICES)],
        "IPAddress": f"198.51.100.{10 + i}",
        "Application": ("Microsoft Exchange Online", "Active Directory", "Microsoft Teams")[i % 3],
        "ActionType": ("LogonSuccess", "LogonFailed", "ClickAllowed")[i % 3],
        "Title": ("Suspicious inbox rule", "Phishing link clicked", "Password spray")[i % 3],
        "Severity": _SEVERITIES[i % len(_SEVERITIES)],
        "Category": ("InitialAccess", "CredentialAccess", "Persistence")[i % 3],
        "ServiceSource": "Microsoft Defender for Office 365",
        "DetectionSource": "Microsoft Defender for Office 365",
        "EntityType": ("User", "MailMessage", "Url")[i % 3],
        "EvidenceRole": ("Impacted", "Related")[i % 2],
        "Workload": "Email",
        "SourceSystem": "",
        "_IsBillable": "True",
    }
    return values.get(column)


def _typed(kind: str, column: str, i: int, rng: random.Random) -> Any:
    if kind == "string":
        return f"{column}-{i}"
    if kind in ("int", "long"):
        return rng.randrange(0, 100)
    if kind == "real":
        return float(rng.randrange(500, 3000))
    if kind == "bool":
        return i % 2 == 0
    if kind == "dynamic":
        return {}
    if kind == "guid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return None  # datetime columns are set by the caller; other kinds stay null


def hunting_rows(
    rng: random.Random, now: datetime, tenant: str, schemas: dict[str, tuple[tuple[str, str | None], ...]], *, rows: int
) -> dict[str, list[dict[str, Any]]]:
    """``{table: [row, ...]}``: ``rows`` rows for each table of ``schemas``, in the last day before ``now``."""
    ctx = {
        "messages": [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(3)],
        "alerts": [f"fa{rng.getrandbits(64):016x}" for _ in range(3)],
        "oids": [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in _USERS],
    }
    out: dict[str, list[dict[str, Any]]] = {}
    for table, columns in schemas.items():
        items = []
        for i in range(rows):
            t = now - timedelta(minutes=rng.randrange(5, 24 * 60))
            row: dict[str, Any] = {}
            for column, kind in columns:
                if kind == "datetime":
                    row[column] = t
                    continue
                value = _known(column, i, ctx)
                row[column] = value if value is not None else _typed(kind or "string", column, i, rng)
            row.update(TenantId=tenant, Type=table)
            items.append({k: v for k, v in row.items() if k in dict(columns)})
        out[table] = items
    return out
