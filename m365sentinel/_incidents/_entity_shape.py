"""SecurityAlert ``Entities`` JSON → ARM entity documents (pure), so the bulk path matches ``POST .../entities``.

The per-incident call (``POST {ws}/providers/Microsoft.SecurityInsights/incidents/{id}/entities``, api-version
2025-09-01) answers ``{"kind": "Account", "properties": {"accountName", "ntDomain", "friendlyName", ...}}``; the
SecurityAlert table carries the same entities as ``[{"$id": "2", "Type": "account", "Name", "NTDomain", ...}]``
with ``{"$ref": "2"}`` links. The table that maps one onto the other is data: ``m365sentinel/_data/entity_shape.json``
(derived from the Security Insights swagger; its source is noted in the file).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from .._errors import SerializationError
from .._json import loads as decode_json

__all__ = ["ENTITY_TYPE", "arm_entities", "arm_kind", "arm_property_name", "camel_case"]

ENTITY_TYPE = "Microsoft.SecurityInsights/Entities"
# Bulk-path entity names are content-derived GUIDs (the table has no service-assigned entity id to copy).
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "m365sentinel/securityalert-entity")
_MARKERS = ("$id", "$ref", "Type")


@dataclass(frozen=True)
class _Shape:
    kinds: Mapping[str, str]  # folded alert Type -> ARM EntityInnerKind
    renames: Mapping[str, Mapping[str, str]]  # ARM kind -> folded alert key -> ARM property
    references: Mapping[str, Mapping[str, str]]  # ARM kind -> folded alert key -> ARM <x>EntityId(s)
    friendly: Mapping[str, str]  # ARM kind -> ARM property whose value the service shows as friendlyName
    nested: frozenset[str]  # folded alert keys holding plain objects whose keys are camelCased too


def _fold(text: str) -> str:
    return text.replace("-", "").replace("_", "").casefold()


@cache
def _shape() -> _Shape:
    data = json.loads(files("m365sentinel._data").joinpath("entity_shape.json").read_text("utf-8"))
    kinds = {_fold(k): k for k in data["kinds"]} | {_fold(a): k for a, k in data["aliases"].items()}

    def folded(table: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
        return {kind: {k.casefold(): v for k, v in m.items()} for kind, m in table.items()}

    return _Shape(
        kinds=kinds,
        renames=folded(data["renames"]),
        references=folded(data["references"]),
        friendly=dict(data["friendlyName"]),
        nested=frozenset(k.casefold() for k in data["nested"]),
    )


def arm_kind(alert_type: str) -> str:
    """ARM ``EntityInnerKind`` for a SecurityAlert ``Type`` (case, ``-`` and ``_`` ignored: ``registry-key`` →
    ``RegistryKey``, ``dns`` → ``DnsResolution``); an unknown type is returned as the service spelled it."""
    return _shape().kinds.get(_fold(alert_type), alert_type)


def camel_case(key: str) -> str:
    """``Name`` → ``name``, ``NTDomain`` → ``ntDomain``, ``OMSAgentID`` → ``omsAgentID``, ``PUID`` → ``puid``."""
    run = 0
    while run < len(key) and key[run].isupper():
        run += 1
    if run == 0:
        return key
    if run == len(key):
        return key.lower()
    if run > 1 and key[run].islower():
        run -= 1  # the last capital starts the next word: UPNSuffix -> upn + Suffix
    return key[:run].lower() + key[run:]


def arm_property_name(kind: str, key: str) -> str:
    """ARM property name of SecurityAlert entity property *key* for ARM *kind* (renamed per the swagger, else
    camelCased)."""
    return _shape().renames.get(kind, {}).get(key.casefold()) or camel_case(key)


def _decode(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = decode_json(value)
        except ValueError:
            return []
    return value if isinstance(value, list) else []


def _is_entity(node: Any) -> bool:
    return isinstance(node, dict) and isinstance(node.get("Type"), str)


def _is_ref(node: Any) -> bool:
    return isinstance(node, dict) and set(node) == {"$ref"}


class _Converter:
    """One alert's ``Entities`` document: indexes every entity by ``$id`` (nested ones too), then converts each once."""

    def __init__(self, items: list[Any]) -> None:
        self.shape = _shape()
        self.by_id: dict[str, dict[str, Any]] = {}
        self.order: list[dict[str, Any]] = []
        self.seen: set[int] = set()
        self.done: dict[int, dict[str, Any] | None] = {}
        self.active: set[int] = set()
        self._collect(items)

    def _collect(self, node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                self._collect(item)
        elif isinstance(node, dict):
            if _is_entity(node) and id(node) not in self.seen:
                self.seen.add(id(node))
                self.order.append(node)
                if isinstance(node.get("$id"), str):
                    self.by_id[node["$id"]] = node
            for child in node.values():
                self._collect(child)

    def documents(self) -> list[dict[str, Any]]:
        docs = (self.convert(node) for node in self.order)
        return [d for d in docs if d is not None]

    def convert(self, node: dict[str, Any]) -> dict[str, Any] | None:
        key = id(node)
        if key in self.done:
            return self.done[key]
        if key in self.active:
            return None  # a reference cycle: the inner link is dropped rather than looping
        self.active.add(key)
        kind = arm_kind(node["Type"])
        refs = self.shape.references.get(kind, {})
        props: dict[str, Any] = {}
        for name, value in node.items():
            if name in _MARKERS:
                continue
            is_ref, target = self._reference(value)
            if is_ref:
                if target is not None and target != []:
                    # An ARM <x>EntityId(s) when the swagger has one; otherwise the same entity name under the
                    # camelCased key (only the {"$ref"} wrapper is dropped).
                    props[refs.get(name.casefold()) or camel_case(name)] = target
                continue
            nested = name.casefold() in self.shape.nested
            props[arm_property_name(kind, name)] = _camel_keys(value) if nested else value
        source = self.shape.friendly.get(kind)
        friendly = props.get(source) if source else None
        if "friendlyName" not in props and isinstance(friendly, str) and friendly:
            props["friendlyName"] = friendly
        digest = kind + json.dumps(props, sort_keys=True, default=str)
        doc = {"name": str(uuid.uuid5(_NAMESPACE, digest)), "type": ENTITY_TYPE, "kind": kind, "properties": props}
        self.active.discard(key)
        self.done[key] = doc
        return doc

    def _reference(self, value: Any) -> tuple[bool, str | list[str] | None]:
        """``(True, name or names)`` when *value* links entities (``{"$ref"}`` or inline entities), else ``(False,
        None)``; an unresolved link or a cycle yields ``None`` / is left out of the list."""
        if _is_ref(value) or _is_entity(value):
            return True, self._name_of(value)
        if isinstance(value, list) and value and all(_is_ref(v) or _is_entity(v) for v in value):
            names = [self._name_of(v) for v in value]
            return True, [n for n in names if n is not None]
        return False, None

    def _name_of(self, link: dict[str, Any]) -> str | None:
        target = self.by_id.get(str(link["$ref"])) if _is_ref(link) else link
        doc = self.convert(target) if target is not None else None
        return doc["name"] if doc is not None else None


def _camel_keys(value: Any) -> Any:
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    if isinstance(value, dict):
        return {camel_case(k): _camel_keys(v) for k, v in value.items()}
    return value


def arm_entities(value: Any) -> list[dict[str, Any]]:
    """ARM entity documents for one SecurityAlert ``Entities`` value (JSON text or decoded list).

    Each is ``{"name", "type": "Microsoft.SecurityInsights/Entities", "kind", "properties"}`` as
    ``POST .../incidents/{id}/entities`` (2025-09-01) spells them: ``kind`` is the ARM ``EntityInnerKind`` (an unknown
    type keeps the service's spelling), property keys are the swagger's (renamed or camelCased; unknown keys are
    kept, camelCased), ``friendlyName`` is added where the service's rule is known, and ``{"$ref"}`` links become
    the ARM ``<x>EntityId(s)`` holding the linked entity's ``name``. ``name`` is a GUID derived from kind and
    properties (equal entities get equal names), not the service's entity id. Entities nested inline are returned
    too; top-level ``{"$ref"}`` items add nothing twice. Unparseable input gives ``[]``.

    Raises:
        SerializationError: entities linked or nested deeper than the interpreter's recursion limit (hundreds of
            levels; real alerts have a handful), rather than an untyped RecursionError from the stream.
    """
    try:
        return _Converter(_decode(value)).documents()
    except RecursionError:
        raise SerializationError("cannot convert SecurityAlert Entities: entities are nested too deeply") from None
