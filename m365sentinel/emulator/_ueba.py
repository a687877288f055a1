"""Deterministic rows for the tables UEBA writes (IdentityInfo, BehaviorAnalytics), relative to "now"."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

__all__ = ["ueba_rows"]

_FIRST = (
    "Avery",
    "Blake",
    "Casey",
    "Devon",
    "Emery",
    "Finley",
    "Harper",
    "Jordan",
    "Kendall",
    "Logan",
    "Morgan",
    "Parker",
    "Quinn",
    "Riley",
    "Sawyer",
    "Taylor",
)
_ACTIVITIES = (
    ("LogOn", "Successful sign-in", "SigninLogs"),
    ("LogOn", "Failed sign-in", "SigninLogs"),
    ("Management", "Add member to group", "AuditLogs"),
    ("Resource", "Create or update VM", "AzureActivity"),
)


def ueba_rows(
    rng: random.Random, now: datetime, tenant: str, *, days: int, users: int
) -> dict[str, list[dict[str, Any]]]:
    """``{"IdentityInfo": [...], "BehaviorAnalytics": [...]}`` over ``[now - days, now)``."""
    people = []
    for n in range(users):
        first = _FIRST[n % len(_FIRST)]
        upn = f"{first.lower()}{n}@contoso.com"
        people.append((first, upn, str(uuid.UUID(int=rng.getrandbits(128), version=4))))
    identity: list[dict[str, Any]] = []
    behavior: list[dict[str, Any]] = []
    for day in range(days, 0, -1):
        start = now - timedelta(days=day)
        for first, upn, oid in people:
            t = start + timedelta(minutes=rng.randrange(0, 24 * 60 - 1))
            identity.append(
                {
                    "TenantId": tenant,
                    "TimeGenerated": t,
                    "AccountObjectId": oid,
                    "AccountUPN": upn,
                    "AccountName": upn.split("@")[0],
                    "AccountDomain": "contoso.com",
                    "AccountDisplayName": first,
                    "GivenName": first,
                    "SourceSystem": "Azure",
                    "Type": "IdentityInfo",
                    "IsAccountEnabled": True,
                    "_BilledSize": float(rng.randrange(900, 1600)),
                }
            )
            for _ in range(rng.randrange(1, 4)):
                action, activity, source = rng.choice(_ACTIVITIES)
                when = start + timedelta(minutes=rng.randrange(0, 24 * 60 - 1))
                behavior.append(
                    {
                        "TenantId": tenant,
                        "TimeGenerated": when,
                        "TimeProcessed": when + timedelta(minutes=7),
                        "ActionType": action,
                        "ActivityType": activity,
                        "EventSource": source,
                        "UserName": upn.split("@")[0],
                        "UserPrincipalName": upn,
                        "SourceIPAddress": f"198.51.100.{rng.randrange(1, 254)}",
                        "InvestigationPriority": rng.randrange(0, 6),
                        "SourceSystem": "Azure",
                        "Type": "BehaviorAnalytics",
                        "_BilledSize": float(rng.randrange(1500, 4000)),
                    }
                )
    return {"IdentityInfo": identity, "BehaviorAnalytics": behavior}
