"""Whether the signed-in principal can connect the Defender XDR connector: pure, from its token's claims.

Azure Lighthouse delegates Azure RBAC only. Connecting the Defender XDR connector (a ``MicrosoftThreatProtection``
data connector) needs a Global or Security Administrator of the Defender tenant who is a member of the workspace's
tenant, signing with a token of that tenant ("Connect data from Microsoft Defender XDR to Microsoft Sentinel").
The token's ``tid`` is its tenant; ``wids`` lists the directory role templates the user holds there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ADMIN_ROLES", "connector_blockers"]

# Microsoft Entra built-in role template ids (learn.microsoft.com, "Microsoft Entra built-in roles").
ADMIN_ROLES = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
}


def connector_blockers(claims: Mapping[str, Any], tenant_id: str) -> list[str]:
    """Blockers for writing the Defender XDR connector of a workspace of ``tenant_id`` with the ARM token whose
    ``claims`` these are. Beyond the tenant, nothing when the claims are unreadable (no ``tid``), for an application
    token, or when the token lists no ``wids`` claim: then the service's answer decides
    (dataConnectorsCheckRequirements, or a 403 on the write)."""
    tid = str(claims.get("tid") or "").lower()
    if not tid:
        return []
    needed = (
        f"connecting the Defender XDR connector needs a Global or Security Administrator of tenant {tenant_id} "
        f"who is a member of it, signing with a token of that tenant (give credentials={{'{tenant_id}': ...}})"
    )
    if tid != tenant_id.lower():
        return [
            f"the credential signs in to tenant {tid}, not the workspace's tenant {tenant_id} (Azure Lighthouse "
            f"delegates Azure RBAC only): {needed}."
        ]
    if claims.get("idtyp") == "app" or not isinstance(claims.get("wids"), list):
        return []  # an application's roles, or a user's not listed in the token: the service decides
    roles = {str(w).lower() for w in claims.get("wids") or ()}
    if not roles & ADMIN_ROLES.keys():
        who = claims.get("upn") or claims.get("oid") or "the signed-in user"
        return [f"{who} holds neither Global Administrator nor Security Administrator in tenant {tenant_id}: {needed}."]
    return []
