"""EntitySync: "Connect entities" (on-premises Active Directory users through Defender for Identity, and UEBA).

Two Microsoft.SecurityInsights settings (preview api-versions only), both singletons named after their kind:

- ``PUT {ws}/settings/EntityAnalytics`` ``{kind: "EntityAnalytics", etag?, properties: {entityProviders: [...]}}``
  (``ActiveDirectory``: on-premises AD through Defender for Identity; ``AzureActiveDirectory``: Microsoft Entra ID);
- ``PUT {ws}/settings/Ueba`` ``{kind: "Ueba", etag?, properties: {dataSources: [...]}}``.

Everything here is pure: ``entity_changes`` turns the desired state and the settings that were read into plan
changes (bodies merged into what was read, with its etag; created with the constructed shapes when absent),
``check_entity_prerequisites`` reports the source document's prerequisites with remediation text, and
``ueba_population`` says whether UEBA's tables hold data yet (case A6: "not yet populated" is a status, not an
error; enabling UEBA never claims data it has not seen).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import InvalidInputError
from ._inputs import check_texts
from ._plan import Action, Change, FieldChange

if TYPE_CHECKING:
    from .models import DataConnector, Setting

__all__ = [
    "DEFAULT_UEBA_DATA_SOURCES",
    "IDENTITY_EVENT_TABLES",
    "UEBA_TABLES",
    "EntitySync",
    "Population",
    "Prerequisite",
    "check_entity_prerequisites",
    "entity_changes",
    "ueba_population",
]

ENTITY_ANALYTICS = "EntityAnalytics"
UEBA = "Ueba"
ACTIVE_DIRECTORY = "ActiveDirectory"
AZURE_ACTIVE_DIRECTORY = "AzureActiveDirectory"
DEFAULT_UEBA_DATA_SOURCES = ("AuditLogs", "AzureActivity", "SecurityEvent", "SigninLogs")
# The ``UebaDataSources`` enum of the settings swagger (2025-10-01-preview, tests/reference/arm/definitions/
# settings.definitions.json): a name outside it would be written as is and enrich nothing.
KNOWN_UEBA_DATA_SOURCES = DEFAULT_UEBA_DATA_SOURCES


def _ueba_sources(value: object) -> tuple[str, ...]:
    """A bare name is one source, never its letters; names match case-insensitively and come back canonical."""
    out = []
    for name in check_texts(value, "ueba_data_sources", expected="a UEBA data source name"):
        known = next((k for k in KNOWN_UEBA_DATA_SOURCES if k.casefold() == name.strip().casefold()), None)
        if known is None:
            raise InvalidInputError(
                f"ueba_data_sources: {name!r} is not a UEBA data source; expected some of "
                f"{', '.join(KNOWN_UEBA_DATA_SOURCES)}"
            )
        out.append(known)
    return tuple(dict.fromkeys(out))


# Tables UEBA writes; absent until UEBA has processed data (case A6).
UEBA_TABLES = ("BehaviorAnalytics", "IdentityInfo")
# Tables only a working Defender for Identity deployment (onboarded, with sensors) fills.
IDENTITY_EVENT_TABLES = ("IdentityLogonEvents", "IdentityQueryEvents", "IdentityDirectoryEvents")
AATP_CONNECTOR_KIND = "AzureAdvancedThreatProtection"
SETTINGS_RESOURCE_TYPE = "settings"


@attrs.frozen
class EntitySync:
    """Desired state of "Connect entities".

    ``active_directory`` / ``azure_active_directory``: True ensures the entity provider is enabled, False ensures it
    is not, None leaves it as it is. ``ueba_data_sources``: the UEBA data sources that must be enabled (others
    already enabled are kept). Raises InvalidInputError for a malformed data source list.
    """

    active_directory: bool | None = True
    azure_active_directory: bool | None = True
    ueba_data_sources: tuple[str, ...] = attrs.field(default=DEFAULT_UEBA_DATA_SOURCES, converter=_ueba_sources)

    def __attrs_post_init__(self) -> None:
        for flag, value in (
            ("active_directory", self.active_directory),
            ("azure_active_directory", self.azure_active_directory),
        ):
            if value is not None and not isinstance(value, bool):
                raise InvalidInputError(f"{flag} must be True, False or None, got {value!r}")


def _find(settings: Sequence[Setting], kind: str) -> Setting | None:
    for s in settings:
        if (s.kind or "").casefold() == kind.casefold() or (s.name or "").casefold() == kind.casefold():
            return s
    return None


def _providers(current: Sequence[str], desired: EntitySync) -> list[str]:
    out = list(current)
    for provider, flag in (
        (ACTIVE_DIRECTORY, desired.active_directory),
        (AZURE_ACTIVE_DIRECTORY, desired.azure_active_directory),
    ):
        if flag is True and provider not in out:
            out.append(provider)
        elif flag is False:
            out = [p for p in out if p != provider]
    return out


def _change(existing: Setting | None, kind: str, key: str, value: list[str], title: str, reason: str) -> Change | None:
    if existing is None:
        if not value:
            return None
        body: dict[str, Any] = {"kind": kind, "properties": {key: value}}
        return Change(
            Action.CREATE,
            SETTINGS_RESOURCE_TYPE,
            kind,
            kind,
            title,
            reason,
            None,
            (FieldChange(f"properties.{key}", None, value),),
            body,
        )
    body = existing.put_body()
    before = body["properties"].get(key)
    if before == value:
        return None
    body["properties"][key] = value
    return Change(
        Action.UPDATE,
        SETTINGS_RESOURCE_TYPE,
        str(existing.name or kind),
        kind,
        title,
        reason,
        existing.etag,
        (FieldChange(f"properties.{key}", before, value),),
        body,
    )


def entity_changes(desired: EntitySync, settings: Sequence[Setting]) -> list[Change]:
    """The writes that bring the ``EntityAnalytics`` and ``Ueba`` settings to ``desired`` (in that order; empty when
    they already match). ``settings``: the workspace's settings as read (``GET {ws}/settings``, preview).

    Existing settings are updated in place (the body is what was read with only the list changed, plus its etag);
    absent ones are created with the constructed shapes. Pure and idempotent: planning against the result of
    applying these changes yields none.
    """
    out: list[Change] = []
    ea = _find(settings, ENTITY_ANALYTICS)
    current = list(getattr(ea, "entity_providers", None) or ()) if ea is not None else []
    change = _change(
        ea,
        ENTITY_ANALYTICS,
        "entityProviders",
        _providers(current, desired),
        "Entity analytics (UEBA entity providers)",
        "sync user entities from on-premises Active Directory (through Defender for Identity) and Microsoft Entra ID",
    )
    if change is not None:
        out.append(change)
    ueba = _find(settings, UEBA)
    sources = list(getattr(ueba, "data_sources", None) or ()) if ueba is not None else []
    sources += [s for s in desired.ueba_data_sources if s not in sources]
    change = _change(
        ueba,
        UEBA,
        "dataSources",
        sources,
        "UEBA data sources",
        "UEBA analyses these data sources to build entity behaviour",
    )
    if change is not None:
        out.append(change)
    return out


@attrs.frozen
class Prerequisite:
    """One prerequisite: ``ok`` True (met), False (not met) or None (cannot be observed through a published API);
    ``detail`` says what was seen; ``remediation`` what to do when it is not met."""

    name: str
    ok: bool | None
    detail: str
    remediation: str

    def __str__(self) -> str:
        mark = {True: "ok", False: "NOT MET", None: "unknown"}[self.ok]
        text = f"[{mark}] {self.name}: {self.detail}"
        return text if self.ok else f"{text}\n      fix: {self.remediation}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "remediation": self.remediation}


def check_entity_prerequisites(
    data_connectors: Sequence[DataConnector],
    table_presence: Mapping[str, bool],
    *,
    authorization_state: str | None = None,
) -> tuple[Prerequisite, ...]:
    """The source document's "Prerequisites for Active Directory sync via MDI", from what can be observed.

    ``data_connectors``: the workspace's connectors (``GET {ws}/dataConnectors``). ``table_presence``: ``{table:
    has data}`` (see ``m365sentinel._hunting.presence``). ``authorization_state``: from
    ``dataConnectorsCheckRequirements`` when the caller has it. Pure.
    """
    aatp = [str(c.name) for c in data_connectors if (c.kind or "").casefold() == AATP_CONNECTOR_KIND.casefold()]
    identity_data = [t for t in IDENTITY_EVENT_TABLES if table_presence.get(t)]
    evidence = []
    if aatp:
        evidence.append(f"the {AATP_CONNECTOR_KIND} component connector is present ({', '.join(aatp)})")
    if identity_data:
        evidence.append(f"Defender for Identity data is arriving ({', '.join(identity_data)})")
    onboarded = Prerequisite(
        "Tenant onboarded to Microsoft Defender for Identity",
        bool(evidence),
        "; ".join(evidence)
        if evidence
        else f"no {AATP_CONNECTOR_KIND} connector and no data in {', '.join(IDENTITY_EVENT_TABLES)}",
        "Onboard the tenant to Microsoft Defender for Identity (Microsoft Defender portal, Settings > Identities), "
        "then connect Microsoft Defender XDR: it connects the Defender for Identity component connector.",
    )
    sensor = Prerequisite(
        "Defender for Identity sensor installed",
        True if identity_data else None,
        f"sensor events are arriving ({', '.join(identity_data)})"
        if identity_data
        else "sensor health is not exposed by the published Microsoft Graph v1.0 API, and no Defender for Identity "
        "events were seen (they show a working sensor once the Identity* tables are streamed)",
        "Install the Defender for Identity sensor on your domain controllers (Microsoft Defender portal, Settings > "
        "Identities > Sensors) and check its health there.",
    )
    if authorization_state is None:
        perm_ok, perm_detail = None, "not reported by the service before a write; a refused write answers 403"
    else:
        perm_ok = authorization_state == "Valid"
        perm_detail = f"dataConnectorsCheckRequirements reports authorizationState {authorization_state}"
    permissions = Prerequisite(
        "Permissions to change UEBA settings",
        perm_ok,
        perm_detail,
        "Use an identity with the Microsoft Sentinel Contributor role on the workspace; turning on UEBA with "
        "Microsoft Entra ID as a source also needs Global Administrator or Security Administrator in the tenant.",
    )
    return (onboarded, sensor, permissions)


class Population(enum.Enum):
    """Whether a UEBA table holds data yet (case A6)."""

    POPULATED = "populated"
    NOT_YET_POPULATED = "not yet populated"


def ueba_population(table_presence: Mapping[str, bool]) -> dict[str, Population]:
    """``{"BehaviorAnalytics": ..., "IdentityInfo": ...}``: POPULATED when the table has data, else NOT_YET_POPULATED
    (after UEBA is enabled the tables appear only once UEBA has processed data: a status, never an error)."""
    return {t: Population.POPULATED if table_presence.get(t) else Population.NOT_YET_POPULATED for t in UEBA_TABLES}
