"""Every api-version the SDK sends, declared once (DESIGN "Decisions already taken").

Override per client with ``Connector(..., api_versions=ApiVersions(incidents="..."))``.
A ``nextLink`` is always requested exactly as the service gave it: never re-append an api-version.
"""

from __future__ import annotations

import attrs

from ._errors import InvalidInputError
from ._lazy import LazyPattern

__all__ = ["ApiVersions"]

_VERSION = LazyPattern(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
# The MicrosoftThreatProtection kind with dataTypes.alerts exists in previews from this one on (case A1): the SDK
# never sends that kind at an older or a stable api-version, which answer 400 "kind ... is not supported".
MIN_MTP_PREVIEW = "2025-07-01-preview"


def _check_format(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _VERSION.match(value):
        raise InvalidInputError(
            f"api-version {attribute.name}={value!r} is not of the form YYYY-MM-DD or YYYY-MM-DD-preview"
        )


def _check_mtp(inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    _check_format(inst, attribute, value)
    if not value.endswith("-preview") or value < MIN_MTP_PREVIEW:
        raise InvalidInputError(
            f"api-version {attribute.name}={value!r} cannot carry the MicrosoftThreatProtection data connector; "
            f"expected a preview api-version >= {MIN_MTP_PREVIEW} (stable api-versions do not have that kind)"
        )


@attrs.frozen(kw_only=True)
class ApiVersions:
    """api-versions per route.

    - ``security_insights_preview``: dataConnectors (the MicrosoftThreatProtection kind exists only in
      previews), dataConnectorsCheckRequirements, onboardingStates, settings, alertRules.
    - ``incidents``: incidents and their alerts, entities, comments, relations.
    - ``workspace``: Microsoft.OperationalInsights/workspaces (for ``customerId``).
    - ``subscription``: /subscriptions/{id} (for ``tenantId``, the workspace's home tenant).
    - ``tables``: the workspace tables API (``{workspace}/tables/{name}``: per-table retention and plan).
    - ``security_insights_stable``: content hub (contentProductPackages/-Templates, contentPackages/-Templates),
      alertRuleTemplates and Scheduled analytics rules (NRT rules use ``security_insights_preview``).

    The Log Analytics query API has none (``/v1`` in the path); Microsoft Graph uses ``/v1.0`` in the path.
    Raises InvalidInputError for a malformed version, or a ``security_insights_preview`` that cannot carry the
    MicrosoftThreatProtection kind (case A1).
    """

    security_insights_preview: str = attrs.field(default="2025-10-01-preview", validator=_check_mtp)
    incidents: str = attrs.field(default="2025-09-01", validator=_check_format)
    workspace: str = attrs.field(default="2023-09-01", validator=_check_format)
    subscription: str = attrs.field(default="2022-12-01", validator=_check_format)
    tables: str = attrs.field(default="2023-09-01", validator=_check_format)
    security_insights_stable: str = attrs.field(default="2025-09-01", validator=_check_format)
