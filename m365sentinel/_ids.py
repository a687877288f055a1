"""Identifiers the caller gives us: workspace resource ids and GUIDs, validated before any I/O."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import attrs

from ._errors import InvalidInputError
from ._lazy import LazyPattern

__all__ = ["WorkspaceId", "validate_guid"]

# ARM naming rules: resource group 1-90 chars of letters, digits, _ - . ( ) (not ending in '.');
# Log Analytics workspace 4-63 chars of letters, digits and '-', starting and ending alphanumeric.
_RG = r"[-\w.()]{0,89}[-\w()]"
_WS = r"[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]"
_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_WORKSPACE_RE = LazyPattern(
    rf"^/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<rg>{_RG})"
    rf"/providers/Microsoft\.OperationalInsights/workspaces/(?P<ws>{_WS})/?$",
    re.IGNORECASE,
)
_EXPECTED = (
    "/subscriptions/<subscription guid>/resourceGroups/<resource group>"
    "/providers/Microsoft.OperationalInsights/workspaces/<workspace name>"
)


def validate_guid(value: object, what: str) -> str:
    """Return ``value`` as a lower-case GUID string, or raise InvalidInputError naming it."""
    if not isinstance(value, str) or not re.fullmatch(_GUID, value.strip("{}")):
        raise InvalidInputError(f"{what} must be a GUID like 00000000-0000-0000-0000-000000000000, got {value!r}")
    return str(uuid.UUID(value))


@attrs.frozen
class WorkspaceId:
    """A parsed Log Analytics workspace ARM resource id.

    ``WorkspaceId.parse("/subscriptions/<guid>/resourceGroups/<rg>/providers/"
    "Microsoft.OperationalInsights/workspaces/<name>")``. Raises InvalidInputError naming the
    bad value and the expected form. Path segments are percent-encoded when URLs are built.
    """

    subscription_id: str
    resource_group: str
    workspace_name: str

    @classmethod
    def parse(cls, value: object) -> WorkspaceId:
        if isinstance(value, WorkspaceId):
            return value
        if not isinstance(value, str):
            raise InvalidInputError(f"workspace must be a resource id string of the form {_EXPECTED}, got {value!r}")
        m = _WORKSPACE_RE.match(value.strip())
        if not m:
            raise InvalidInputError(f"malformed workspace resource id {value!r}; expected {_EXPECTED}")
        return cls(str(uuid.UUID(m["sub"])), m["rg"], m["ws"])

    @property
    def resource_id(self) -> str:
        """The canonical ARM id, segments percent-encoded:
        ``/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{name}``."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{quote(self.resource_group, safe='()')}"
            f"/providers/Microsoft.OperationalInsights/workspaces/{quote(self.workspace_name, safe='')}"
        )

    @property
    def security_insights(self) -> str:
        """``{resource_id}/providers/Microsoft.SecurityInsights``: the prefix of every Sentinel route."""
        return self.resource_id + "/providers/Microsoft.SecurityInsights"

    def __str__(self) -> str:
        return self.resource_id
