"""Shared behaviour of the JSON-backed models: ``from_json``, ``raw``, kind dispatch, PUT-body merging."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import attrs

from .._errors import SerializationError
from ._converter import structure, thaw

__all__ = ["JsonModel", "raw_field"]

_EMPTY: Mapping[str, Any] = types.MappingProxyType({})


def raw_field() -> Any:
    """The ``raw`` field: the full JSON as read, deep-frozen; excluded from ``repr`` (it can be large)."""
    return attrs.field(default=_EMPTY, repr=False, eq=False)


class JsonModel:
    """Mixin for models parsed from a whole JSON document (they carry ``raw``).

    Subclasses with ``_KINDS`` dispatch on ``kind``: ``DataConnector.from_json`` returns the most specific
    registered model for the document's kind (matched case-insensitively), or the generic class.
    """

    __slots__ = ()
    _ENVELOPE: ClassVar[bool] = False
    _KIND: ClassVar[str | None] = None
    _KINDS: ClassVar[dict[str, type[Any]] | None] = None
    # readOnly properties (per the swagger) that ``put_body`` leaves out by default.
    _READ_ONLY: ClassVar[tuple[str, ...]] = ()

    raw: Mapping[str, Any]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        kind = cls.__dict__.get("_KIND")
        if kind:
            for base in cls.__mro__[1:]:
                registry = base.__dict__.get("_KINDS")
                if registry is not None:
                    registry[kind.casefold()] = cls

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Parse one decoded JSON object (as the service sent it) into this model.

        Raises:
            SerializationError: the document does not fit the model; the message names the failing path.
        """
        if cls._KINDS is None and cls._KIND is None:  # no kind dispatch anywhere in the hierarchy (incidents)
            return structure(data, cls)
        target: type[Self] = cls
        registry = cls.__dict__.get("_KINDS")
        if registry is not None and isinstance(data, Mapping):
            kind = data.get("kind")
            if isinstance(kind, str):
                target = registry.get(kind.casefold(), cls)
        elif cls._KIND is not None and isinstance(data, Mapping):
            kind = data.get("kind")
            if not isinstance(kind, str) or kind.casefold() != cls._KIND.casefold():
                raise SerializationError(f"cannot parse {cls.__name__}: kind is {kind!r}, expected {cls._KIND!r}")
        return structure(data, target)

    @classmethod
    def list_from_json(cls, page: Mapping[str, Any], *, items: str = "value") -> tuple[Self, ...]:
        """Parse every item of a list page (``{"value": [...], "nextLink": ...}``)."""
        values = page.get(items)
        if not isinstance(values, (list, tuple)):
            raise SerializationError(f"cannot parse {cls.__name__} list: {items!r} is not an array")
        return tuple(cls.from_json(v) for v in values)

    def to_json(self) -> dict[str, Any]:
        """The JSON that was read, as a fresh mutable deep copy."""
        return thaw(self.raw)  # type: ignore[no-any-return]

    def put_body(
        self, properties: Mapping[str, Any] | None = None, *, deep: bool = True, keep_read_only: bool = False
    ) -> dict[str, Any]:
        """A PUT body built from exactly what was read, with ``properties`` merged into its ``properties``.

        Shape: ``{"kind"?, "etag"?, "properties": {...}}``. Keys this SDK does not model survive. With ``deep``
        (default) nested objects merge key by key (``{"dataTypes": {"alerts": {...}}}`` keeps ``incidents``);
        with ``deep=False`` each given top-level property replaces the one read (e.g. a new ``owner``). Lists
        always replace. The swagger's readOnly properties are dropped unless ``keep_read_only``. The etag is the
        one read, for optimistic concurrency.
        """
        body: dict[str, Any] = {}
        if "kind" in self.raw:
            body["kind"] = self.raw["kind"]
        if self.raw.get("etag") is not None:
            body["etag"] = self.raw["etag"]
        props = thaw(self.raw.get("properties") or {})
        if not keep_read_only:
            for key in self._READ_ONLY:
                props.pop(key, None)
        if properties:
            if deep:
                _deep_merge(props, properties)
            else:
                props.update((k, thaw(v)) for k, v in properties.items())
        body["properties"] = props
        return body


def _deep_merge(target: dict[str, Any], changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _deep_merge(current, value)
        else:
            target[key] = thaw(value)
