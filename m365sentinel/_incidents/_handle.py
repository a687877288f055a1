"""One incident: read, update/close with etag-safe read-modify-write (case C1) and close rules (case C2), its
alerts, entities and comments, and opt-in mirroring of the change to Defender XDR."""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._errors import ConflictError, InvalidInputError, PreconditionFailedError
from .._inputs import check_text
from .._transport import RequestSpec
from .._transport._flow import Flow, PageReader, send_json
from ..models._converter import thaw
from ._filters import Filters
from ._mapping import check_close_rule, defender_fields_of, defender_patch_for, differences, sentinel_fields_of
from ._requests import IncidentRequests

if TYPE_CHECKING:
    from ..models import (
        Entity,
        GraphIncident,
        Incident,
        IncidentAlert,
        IncidentClassification,
        IncidentClassificationReason,
        IncidentComment,
        IncidentSeverity,
        IncidentStatus,
    )

__all__ = ["IncidentChange", "IncidentHandle", "UpdateResult"]

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class _Unset(enum.Enum):
    """The default of ``update``'s fields: "leave as it is", distinct from ``None`` (which clears a field)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Final = _Unset.UNSET


def _owner_body(owner: Any) -> dict[str, Any]:
    if owner is None:
        return {}
    if isinstance(owner, Mapping):
        known = {"objectId", "email", "userPrincipalName", "assignedTo", "ownerType"}
        if not owner or not set(owner) <= known or not all(isinstance(v, str) for v in owner.values()):
            raise InvalidInputError(f"owner={owner!r}: a mapping needs text values for keys among {sorted(known)}")
        for value in owner.values():
            check_text(value, "owner", expected="a UPN / e-mail or an Entra object id")
        return dict(owner)
    check_text(owner, "owner", expected="a UPN / e-mail, an Entra object id (GUID) or None")
    if _GUID.match(owner):
        return {"objectId": owner}
    return {"userPrincipalName": owner, "email": owner}


def _label_tuple(labels: Any, what: str) -> tuple[Any, ...]:
    # A bare string is one label, never its characters.
    if isinstance(labels, str):
        return (labels,)
    if not isinstance(labels, Iterable) or isinstance(labels, bytes | bytearray | Mapping):
        raise InvalidInputError(f"{what}={labels!r}: expected a label name or an iterable of label names")
    return tuple(labels)


@attrs.frozen
class IncidentChange:
    """The caller's intended changes only; re-applied to a fresh read after an etag conflict (pure).

    ``owner``: str (UPN / e-mail / object id), a raw owner mapping, or None to unassign; ``labels`` replaces the
    label set, ``add_labels``/``remove_labels`` merge into whatever the incident has at write time."""

    title: Any = _UNSET
    description: Any = _UNSET
    severity: Any = _UNSET
    status: Any = _UNSET
    owner: Any = _UNSET
    labels: Any = _UNSET
    add_labels: tuple[str, ...] = ()
    remove_labels: tuple[str, ...] = ()
    classification: Any = _UNSET
    reason: Any = _UNSET
    comment: Any = _UNSET

    def validate(self) -> IncidentChange:
        """Canonical values, or InvalidInputError before any request (close rules of case C2 included)."""
        out = self
        if self.severity is not _UNSET:
            out = attrs.evolve(out, severity=Filters.severities_of([self.severity])[0])
        if self.status is not _UNSET:
            out = attrs.evolve(out, status=Filters.statuses_of([self.status])[0])
        if self.owner is not _UNSET:
            _owner_body(self.owner)
        if self.classification is not _UNSET and out.status not in (_UNSET, "Closed"):
            raise InvalidInputError(
                f"classification= applies to closing: status={out.status!r} would leave an open incident classified"
            )
        if out.status == "Closed" or self.classification is not _UNSET:
            cls = None if self.classification is _UNSET else self.classification
            reason = None if self.reason is _UNSET else self.reason
            canon, fit = check_close_rule(cls, reason)
            out = attrs.evolve(out, classification=canon, reason=fit)
        elif self.reason is not _UNSET:
            raise InvalidInputError("reason= needs classification= (a reason qualifies a classification)")
        if self.title is not _UNSET:
            check_text(self.title, "title")
        for what, text in (("description", self.description), ("comment", self.comment)):
            if text is not _UNSET and text is not None:
                check_text(text, what, multiline=True, empty=True)
        for what, labels in (
            ("labels", self.labels),
            ("add_labels", self.add_labels),
            ("remove_labels", self.remove_labels),
        ):
            if labels is not _UNSET and labels != ():
                Filters.texts_of(labels, what)
        if out == IncidentChange():
            raise InvalidInputError("nothing to change: pass at least one field")
        return out

    def fields(self) -> set[str]:
        """The synchronised fields this change touches (status, classification, owner, labels)."""
        touched = set()
        if self.status is not _UNSET:
            touched.add("status")
        if self.classification is not _UNSET:
            touched.add("classification")
        if self.owner is not _UNSET:
            touched.add("owner")
        if self.labels is not _UNSET or self.add_labels or self.remove_labels:
            touched.add("labels")
        return touched

    @staticmethod
    def unchanged(properties: Mapping[str, Any]) -> dict[str, Any]:
        """What ``apply`` would PUT for a change of nothing: the writable properties as read."""
        from ..models import Incident

        return {k: thaw(v) for k, v in properties.items() if k not in Incident._READ_ONLY}

    def is_noop(self, incident: Incident) -> bool:
        """Whether ``incident`` already is as this change asks (then nothing needs writing)."""
        props = incident.raw.get("properties") or {}
        return self.apply(props) == self.unchanged(props)

    def apply(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        """The full PUT ``properties``: what was read (read-only keys dropped) with these changes applied, so a
        partial change still sends title, status and severity (case C2)."""
        props = self.unchanged(properties)  # the swagger's readOnly list, one place (Incident._READ_ONLY)
        for key, value in (
            ("title", self.title),
            ("description", self.description),
            ("severity", self.severity),
            ("status", self.status),
        ):
            if value is not _UNSET:
                props[key] = value
        if self.owner is not _UNSET:
            props["owner"] = _owner_body(self.owner)
        if self.labels is not _UNSET or self.add_labels or self.remove_labels:
            current = (
                list(props.get("labels") or [])
                if self.labels is _UNSET
                else [{"labelName": n, "labelType": "User"} for n in dict.fromkeys(self.labels)]
            )
            names = [lb.get("labelName") for lb in current]
            for n in self.add_labels:
                if n not in names:
                    current.append({"labelName": n, "labelType": "User"})
                    names.append(n)
            props["labels"] = [lb for lb in current if lb.get("labelName") not in self.remove_labels]
        if self.classification is not _UNSET:
            props["classification"] = self.classification
            if self.reason is None:
                props.pop("classificationReason", None)
            else:
                props["classificationReason"] = self.reason
        if self.comment is not _UNSET:
            props["classificationComment"] = self.comment
        if props.get("status") != "Closed":
            # A reopened incident carries no classification.
            for key in ("classification", "classificationReason", "classificationComment"):
                if self.classification is _UNSET:
                    props.pop(key, None)
        return props


@attrs.frozen
class UpdateResult:
    """``incident``: as written; ``attempts``: PUTs sent (>1 after etag conflicts; 0 when the incident already was
    as asked and nothing was written); ``defender``: the Graph incident
    re-read after mirroring (None when not mirrored); ``defender_differences``: (field, sentinel, defender) still
    differing after the mirror (empty when it took)."""

    incident: Incident
    attempts: int
    defender: GraphIncident | None = None
    defender_differences: tuple[tuple[str, Any, Any], ...] = ()


class IncidentHandle:
    """A handle on ``{ws}/incidents/{id}``; every method sends requests (api-version ``incidents``)."""

    def __init__(self, session: Any, incident_id: str) -> None:
        if not isinstance(incident_id, str) or not incident_id.strip():
            raise InvalidInputError(f"incident id {incident_id!r}: expected the incident's name (a GUID)")
        self._session = session
        self._id = incident_id
        self._reqs = IncidentRequests(session.routes)
        self._reqs.get(incident_id)  # validates the id before any I/O

    def __repr__(self) -> str:
        return f"IncidentHandle({self._id!r})"

    def get(self) -> Incident:
        """GET {ws}/incidents/{id}. Raises NotFoundError, APIStatusError, TransportError."""
        return self._session.run(self._get())  # type: ignore[no-any-return]

    def _get(self) -> Flow[Incident]:
        from ..models import Incident

        return Incident.from_json((yield from send_json(self._reqs.get(self._id))))

    def update(
        self,
        *,
        title: str | _Unset = _UNSET,
        description: str | _Unset | None = _UNSET,
        severity: IncidentSeverity | str | _Unset = _UNSET,
        status: IncidentStatus | str | _Unset = _UNSET,
        owner: str | Mapping[str, str] | _Unset | None = _UNSET,
        labels: str | Iterable[str] | _Unset = _UNSET,
        add_labels: str | Iterable[str] = (),
        remove_labels: str | Iterable[str] = (),
        classification: IncidentClassification | str | _Unset = _UNSET,
        reason: IncidentClassificationReason | str | _Unset | None = _UNSET,
        comment: str | _Unset | None = _UNSET,
        base: Incident | None = None,
        mirror_to_defender: bool = False,
        max_attempts: int = 4,
    ) -> UpdateResult:
        """Read-modify-write: PUT the incident as read with only these changes, carrying its etag.

        Every field left out stays as it is. ``title``; ``description`` (None clears it); ``severity``
        (``IncidentSeverity`` or its text: High, Medium, Low, Informational); ``status`` (``IncidentStatus``: New,
        Active, Closed); ``owner``: a UPN / e-mail, an Entra object id (GUID), a raw owner mapping, or None to
        unassign; ``labels`` replaces the label set (a str is one label; ``()`` clears it), ``add_labels`` /
        ``remove_labels`` merge into the labels at write time; ``classification`` (``IncidentClassification``) and
        ``reason`` (``IncidentClassificationReason``) close an incident, with ``comment``. Values are matched
        case-insensitively and sent in the service's spelling.

        Idempotent: when the incident (read fresh) already has the asked values, no PUT is sent (``attempts`` 0).
        On 409/412 (someone else wrote first) re-read and re-apply only these changes, up to ``max_attempts``
        PUTs, then ConflictError. ``base``: an incident read earlier to write over first (its etag). Closing
        requires a classification with a fitting reason (InvalidInputError before any request). With
        ``mirror_to_defender`` the synchronised fields changed here are PATCHed to the Graph incident
        (``providerIncidentId``) and read back. Calls GET/PUT {ws}/incidents/{id} (2025-09-01), Graph PATCH/GET
        /v1.0/security/incidents/{id}.
        """
        return self._session.run(  # type: ignore[no-any-return]
            self._update(
                title=title,
                description=description,
                severity=severity,
                status=status,
                owner=owner,
                labels=labels,
                add_labels=add_labels,
                remove_labels=remove_labels,
                classification=classification,
                reason=reason,
                comment=comment,
                base=base,
                mirror_to_defender=mirror_to_defender,
                max_attempts=max_attempts,
            )
        )

    def _update(
        self,
        *,
        title: Any,
        description: Any,
        severity: Any,
        status: Any,
        owner: Any,
        labels: Any,
        add_labels: Iterable[str],
        remove_labels: Iterable[str],
        classification: Any,
        reason: Any,
        comment: Any,
        base: Incident | None,
        mirror_to_defender: bool,
        max_attempts: int,
    ) -> Flow[UpdateResult]:
        """``update`` as a flow; its arguments are checked before the first request."""
        change = IncidentChange(
            title=title,
            description=description,
            severity=severity,
            status=status,
            owner=owner,
            labels=_label_tuple(labels, "labels") if labels is not _UNSET and labels is not None else labels,
            add_labels=_label_tuple(add_labels, "add_labels"),
            remove_labels=_label_tuple(remove_labels, "remove_labels"),
            classification=classification,
            reason=reason,
            comment=comment,
        ).validate()
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 1 <= max_attempts <= 100:
            raise InvalidInputError(f"max_attempts={max_attempts!r}: expected an integer from 1 to 100")
        if not isinstance(mirror_to_defender, bool):
            raise InvalidInputError(f"mirror_to_defender={mirror_to_defender!r}: expected True or False")
        from ..models import Incident

        if base is not None and not isinstance(base, Incident):
            raise InvalidInputError(f"base={base!r}: expected an Incident read earlier (handle.get()) or None")
        current = base
        if base is not None and change.is_noop(base):
            current = None  # a caller's earlier read may be stale: decide on a fresh one
        last: ConflictError | PreconditionFailedError | None = None
        for attempt in range(1, max_attempts + 1):
            if current is None:
                current = yield from self._get()
            if change.is_noop(current):
                # Idempotent: the incident already is as asked; no PUT (``attempts`` counts the PUTs sent).
                result = UpdateResult(current, attempt - 1)
                return (yield from self._mirror(result, change.fields())) if mirror_to_defender else result
            props = change.apply(current.raw.get("properties") or {})
            body: dict[str, Any] = {"properties": props}
            if current.etag is not None:
                body["etag"] = current.etag
            try:
                written = Incident.from_json((yield from send_json(self._reqs.put(self._id, body))))
            except (ConflictError, PreconditionFailedError) as exc:
                last, current = exc, None
                continue
            result = UpdateResult(written, attempt)
            if mirror_to_defender:
                result = yield from self._mirror(result, change.fields())
            return result
        assert last is not None
        raise ConflictError(
            f"incident {self._id} kept changing: gave up after {max_attempts} attempts ({last.message})",
            status_code=last.status_code,
            code=last.code,
            request_id=last.request_id,
            method=last.method,
            url=last.url,
            body=last.body,
        ) from last

    def close(
        self,
        *,
        classification: IncidentClassification | str,
        reason: IncidentClassificationReason | str | None = None,
        comment: str | None = None,
        base: Incident | None = None,
        mirror_to_defender: bool = False,
    ) -> UpdateResult:
        """Close with a classification (required) and a reason that fits it (case C2):
        TruePositive → SuspiciousActivity; BenignPositive → SuspiciousButExpected; FalsePositive →
        IncorrectAlertLogic or InaccurateData; Undetermined → no reason. See ``update``."""
        return self.update(
            status="Closed",
            classification=classification,
            reason=reason,
            comment=_UNSET if comment is None else comment,
            base=base,
            mirror_to_defender=mirror_to_defender,
        )

    def alerts(self) -> tuple[IncidentAlert, ...]:
        """POST {ws}/incidents/{id}/alerts (rate-limited by the service; retried on 429 as a read)."""
        return self._session.run(self._alerts())  # type: ignore[no-any-return]

    def _alerts(self) -> Flow[tuple[IncidentAlert, ...]]:
        from ..models import IncidentAlert

        return IncidentAlert.list_from_json((yield from send_json(self._reqs.alerts(self._id))) or {"value": []})

    def entities(self) -> tuple[Entity, ...]:
        """POST {ws}/incidents/{id}/entities."""
        return self._session.run(self._entities())  # type: ignore[no-any-return]

    def _entities(self) -> Flow[tuple[Entity, ...]]:
        from ..models import IncidentEntities

        return IncidentEntities.from_json((yield from send_json(self._reqs.entities(self._id))) or {}).entities

    def comments(self) -> tuple[IncidentComment, ...]:
        """GET {ws}/incidents/{id}/comments, every page."""
        return self._session.run(self._comments())  # type: ignore[no-any-return]

    def _comments(self) -> Flow[tuple[IncidentComment, ...]]:
        from ..models import IncidentComment

        out: list[IncidentComment] = []
        reader = PageReader(self._reqs.comments(self._id))
        while (got := (yield from reader.next())) is not None:
            out.extend(IncidentComment.list_from_json(got[0]))
        return tuple(out)

    def add_comment(self, message: str, *, comment_id: str | None = None) -> IncidentComment:
        """PUT {ws}/incidents/{id}/comments/{commentId} (a new GUID unless given: repeat it to stay idempotent)."""
        check_text(message, "message", expected="comment text", multiline=True)
        spec = self._reqs.put_comment(self._id, comment_id or str(uuid.uuid4()), message)
        return self._session.run(self._add_comment(spec))  # type: ignore[no-any-return]

    def _add_comment(self, spec: RequestSpec) -> Flow[IncidentComment]:
        from ..models import IncidentComment

        return IncidentComment.from_json((yield from send_json(spec)))

    def _mirror(self, result: UpdateResult, fields: set[str]) -> Flow[UpdateResult]:
        from ._graph import DefenderIncidents

        incident = result.incident
        if not fields or not incident.provider_incident_id:
            return result
        graph = DefenderIncidents(self._session)
        before = yield from graph._get(incident.provider_incident_id, False)
        wanted = sentinel_fields_of(incident)
        body = defender_patch_for(wanted, fields, current=defender_fields_of(before))
        after = (yield from graph._patch(incident.provider_incident_id, body)) if body else before
        left = tuple(d for d in differences(wanted, defender_fields_of(after)) if d[0] in fields)
        return attrs.evolve(result, defender=after, defender_differences=left)
