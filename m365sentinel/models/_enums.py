"""Open (forward-compatible) enums: an unknown value never breaks a page (case D1).

An ``OpenEnum`` is a ``str`` subclass. Calling the class with a value returns the canonical member when the value
matches one case-insensitively (``IncidentStatus("closed") is IncidentStatus.CLOSED``), and otherwise a typed
unknown member of the same class that keeps the raw value (``IncidentStatus("fooBar").is_known is False``,
``.raw == "fooBar"``; a verdict ``5`` keeps the int ``5`` in ``.raw`` and reads as ``"5"``). Members compare equal
to their string value, serialise as plain JSON strings, and ``name`` is ``"UNKNOWN"`` for unknown members.

Why not ``enum.Enum``: an Enum cannot hold an arbitrary unseen value as a member of its own type without
pseudo-member tricks that break identity, pickling and ``in``; the service adds values without notice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import InvalidInputError

__all__ = [
    "AlertSeverity",
    "AlertStatus",
    "AuthorizationState",
    "DataTypeState",
    "GraphAlertClassification",
    "GraphAlertDetermination",
    "GraphAlertSeverity",
    "GraphAlertStatus",
    "GraphEvidenceVerdict",
    "GraphIncidentStatus",
    "IncidentClassification",
    "IncidentClassificationReason",
    "IncidentSeverity",
    "IncidentStatus",
    "LicenseState",
    "OpenEnum",
    "OwnerType",
]


class _Member:
    """Placeholder in a class body; the metaclass swaps it for the real member."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value


def member(value: str) -> Any:
    """Declare a member: ``CLOSED: ClassVar[IncidentStatus] = member("Closed")``."""
    return _Member(value)


class _OpenEnumMeta(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> _OpenEnumMeta:
        cls = super().__new__(mcls, name, bases, ns)
        members: dict[str, Any] = {}
        for key, value in ns.items():
            if isinstance(value, _Member):
                obj: Any = str.__new__(cls, value.value)  # type: ignore[arg-type]
                obj._name = key
                obj._raw = value.value
                setattr(cls, key, obj)
                members[key] = obj
        cls._members = members  # type: ignore[attr-defined]
        cls._by_folded = {m.casefold(): m for m in members.values()}  # type: ignore[attr-defined]
        cls._exact = {str.__str__(m): m for m in members.values()}  # type: ignore[attr-defined]
        return cls

    def __iter__(cls) -> Iterator[Any]:
        return iter(cls._members.values())  # type: ignore[attr-defined]

    def __len__(cls) -> int:
        return len(cls._members)  # type: ignore[attr-defined]


class OpenEnum(str, metaclass=_OpenEnumMeta):
    """Base of every open enum (see the module docstring). Iterating the class yields the known members."""

    _members: ClassVar[dict[str, Any]]
    _by_folded: ClassVar[dict[str, Any]]
    _exact: ClassVar[dict[str, Any]]
    _name: str | None
    _raw: object

    def __new__(cls, value: object) -> OpenEnum:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str | int | float):  # bool is an int; a list or object has no text of its own
            raise InvalidInputError(
                f"{cls.__name__} value {value!r}: expected a string (or a number or boolean, kept as sent)"
            )
        text = value if isinstance(value, str) else _text(value)
        known = cls._by_folded.get(text.casefold())
        if known is not None:
            return known  # type: ignore[no-any-return]
        obj = str.__new__(cls, text)
        obj._name = None
        obj._raw = value
        return obj

    @property
    def name(self) -> str:
        """The member's attribute name, or ``"UNKNOWN"`` for a value this SDK version does not know."""
        return self._name or "UNKNOWN"

    @property
    def value(self) -> str:
        """The canonical string (the known spelling, or the unknown value as text)."""
        return str.__str__(self)

    @property
    def raw(self) -> object:
        """Exactly what the service sent (an int stays an int), for round-tripping."""
        return self._raw

    @property
    def is_known(self) -> bool:
        return self._name is not None

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}: {self._raw!r}>"

    def __str__(self) -> str:
        return str.__str__(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._raw,))

    # str's hash/eq are kept, so members are usable as dict keys and compare equal to their text.
    if TYPE_CHECKING:  # declared for checkers (overriding __eq__ would leave its type to inference)

        def __hash__(self) -> int: ...

    else:
        __hash__ = str.__hash__  # the C slot itself: no Python-level call per hash


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class IncidentSeverity(OpenEnum):
    """Sentinel incident (and alert) severity."""

    HIGH: ClassVar[IncidentSeverity] = member("High")
    MEDIUM: ClassVar[IncidentSeverity] = member("Medium")
    LOW: ClassVar[IncidentSeverity] = member("Low")
    INFORMATIONAL: ClassVar[IncidentSeverity] = member("Informational")


AlertSeverity = IncidentSeverity


class IncidentStatus(OpenEnum):
    """Sentinel incident status."""

    NEW: ClassVar[IncidentStatus] = member("New")
    ACTIVE: ClassVar[IncidentStatus] = member("Active")
    CLOSED: ClassVar[IncidentStatus] = member("Closed")


class IncidentClassification(OpenEnum):
    """Why a Sentinel incident was closed (required on close, case C2)."""

    UNDETERMINED: ClassVar[IncidentClassification] = member("Undetermined")
    TRUE_POSITIVE: ClassVar[IncidentClassification] = member("TruePositive")
    BENIGN_POSITIVE: ClassVar[IncidentClassification] = member("BenignPositive")
    FALSE_POSITIVE: ClassVar[IncidentClassification] = member("FalsePositive")


class IncidentClassificationReason(OpenEnum):
    """Reason accompanying a classification (case C2 pairs them)."""

    SUSPICIOUS_ACTIVITY: ClassVar[IncidentClassificationReason] = member("SuspiciousActivity")
    SUSPICIOUS_BUT_EXPECTED: ClassVar[IncidentClassificationReason] = member("SuspiciousButExpected")
    INCORRECT_ALERT_LOGIC: ClassVar[IncidentClassificationReason] = member("IncorrectAlertLogic")
    INACCURATE_DATA: ClassVar[IncidentClassificationReason] = member("InaccurateData")


class OwnerType(OpenEnum):
    UNKNOWN_OWNER: ClassVar[OwnerType] = member("Unknown")
    USER: ClassVar[OwnerType] = member("User")
    GROUP: ClassVar[OwnerType] = member("Group")


class AlertStatus(OpenEnum):
    """Sentinel SecurityAlert entity status."""

    UNKNOWN_STATUS: ClassVar[AlertStatus] = member("Unknown")
    NEW: ClassVar[AlertStatus] = member("New")
    RESOLVED: ClassVar[AlertStatus] = member("Resolved")
    DISMISSED: ClassVar[AlertStatus] = member("Dismissed")
    IN_PROGRESS: ClassVar[AlertStatus] = member("InProgress")


class DataTypeState(OpenEnum):
    """State of one data type of a data connector."""

    ENABLED: ClassVar[DataTypeState] = member("Enabled")
    DISABLED: ClassVar[DataTypeState] = member("Disabled")


class AuthorizationState(OpenEnum):
    VALID: ClassVar[AuthorizationState] = member("Valid")
    INVALID: ClassVar[AuthorizationState] = member("Invalid")


class LicenseState(OpenEnum):
    VALID: ClassVar[LicenseState] = member("Valid")
    INVALID: ClassVar[LicenseState] = member("Invalid")
    UNKNOWN_LICENSE: ClassVar[LicenseState] = member("Unknown")


class GraphIncidentStatus(OpenEnum):
    """Graph security incident status (``awaitingAction`` only with ``Prefer: include-unknown-enum-members``)."""

    ACTIVE: ClassVar[GraphIncidentStatus] = member("active")
    RESOLVED: ClassVar[GraphIncidentStatus] = member("resolved")
    IN_PROGRESS: ClassVar[GraphIncidentStatus] = member("inProgress")
    REDIRECTED: ClassVar[GraphIncidentStatus] = member("redirected")
    UNKNOWN_FUTURE_VALUE: ClassVar[GraphIncidentStatus] = member("unknownFutureValue")
    AWAITING_ACTION: ClassVar[GraphIncidentStatus] = member("awaitingAction")


class GraphAlertStatus(OpenEnum):
    UNKNOWN_STATUS: ClassVar[GraphAlertStatus] = member("unknown")
    NEW: ClassVar[GraphAlertStatus] = member("new")
    IN_PROGRESS: ClassVar[GraphAlertStatus] = member("inProgress")
    RESOLVED: ClassVar[GraphAlertStatus] = member("resolved")
    UNKNOWN_FUTURE_VALUE: ClassVar[GraphAlertStatus] = member("unknownFutureValue")


class GraphAlertSeverity(OpenEnum):
    UNKNOWN_SEVERITY: ClassVar[GraphAlertSeverity] = member("unknown")
    INFORMATIONAL: ClassVar[GraphAlertSeverity] = member("informational")
    LOW: ClassVar[GraphAlertSeverity] = member("low")
    MEDIUM: ClassVar[GraphAlertSeverity] = member("medium")
    HIGH: ClassVar[GraphAlertSeverity] = member("high")
    UNKNOWN_FUTURE_VALUE: ClassVar[GraphAlertSeverity] = member("unknownFutureValue")


class GraphAlertClassification(OpenEnum):
    """Graph ``alertClassification`` (incidents and alerts)."""

    UNKNOWN_CLASSIFICATION: ClassVar[GraphAlertClassification] = member("unknown")
    FALSE_POSITIVE: ClassVar[GraphAlertClassification] = member("falsePositive")
    TRUE_POSITIVE: ClassVar[GraphAlertClassification] = member("truePositive")
    INFORMATIONAL_EXPECTED_ACTIVITY: ClassVar[GraphAlertClassification] = member("informationalExpectedActivity")
    UNKNOWN_FUTURE_VALUE: ClassVar[GraphAlertClassification] = member("unknownFutureValue")


class GraphAlertDetermination(OpenEnum):
    """Graph ``alertDetermination``: the resource page's and the update page's value lists, both accepted."""

    UNKNOWN_DETERMINATION: ClassVar[GraphAlertDetermination] = member("unknown")
    APT: ClassVar[GraphAlertDetermination] = member("apt")
    MALWARE: ClassVar[GraphAlertDetermination] = member("malware")
    SECURITY_PERSONNEL: ClassVar[GraphAlertDetermination] = member("securityPersonnel")
    SECURITY_TESTING: ClassVar[GraphAlertDetermination] = member("securityTesting")
    UNWANTED_SOFTWARE: ClassVar[GraphAlertDetermination] = member("unwantedSoftware")
    OTHER: ClassVar[GraphAlertDetermination] = member("other")
    MULTI_STAGED_ATTACK: ClassVar[GraphAlertDetermination] = member("multiStagedAttack")
    COMPROMISED_USER: ClassVar[GraphAlertDetermination] = member("compromisedUser")
    PHISHING: ClassVar[GraphAlertDetermination] = member("phishing")
    MALICIOUS_USER_ACTIVITY: ClassVar[GraphAlertDetermination] = member("maliciousUserActivity")
    CLEAN: ClassVar[GraphAlertDetermination] = member("clean")
    INSUFFICIENT_DATA: ClassVar[GraphAlertDetermination] = member("insufficientData")
    NOT_MALICIOUS: ClassVar[GraphAlertDetermination] = member("notMalicious")
    NOT_ENOUGH_DATA_TO_VALIDATE: ClassVar[GraphAlertDetermination] = member("notEnoughDataToValidate")
    CONFIRMED_USER_ACTIVITY: ClassVar[GraphAlertDetermination] = member("confirmedUserActivity")
    LINE_OF_BUSINESS_APPLICATION: ClassVar[GraphAlertDetermination] = member("lineOfBusinessApplication")
    UNKNOWN_FUTURE_VALUE: ClassVar[GraphAlertDetermination] = member("unknownFutureValue")


class GraphEvidenceVerdict(OpenEnum):
    """Graph ``evidenceVerdict`` of an alert's evidence item."""

    UNKNOWN_VERDICT: ClassVar[GraphEvidenceVerdict] = member("unknown")
    SUSPICIOUS: ClassVar[GraphEvidenceVerdict] = member("suspicious")
    MALICIOUS: ClassVar[GraphEvidenceVerdict] = member("malicious")
    NO_THREATS_FOUND: ClassVar[GraphEvidenceVerdict] = member("noThreatsFound")
    UNKNOWN_FUTURE_VALUE: ClassVar[GraphEvidenceVerdict] = member("unknownFutureValue")
