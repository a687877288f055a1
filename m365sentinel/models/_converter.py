"""The one cattrs converter: camelCase keys, ARM envelopes, UTC timestamps, Kusto timespans, open enums.

Rules live here, not on the model classes (cattrs' own advice):

- Every attrs field ``foo_bar`` reads the JSON key ``fooBar``; a field may name another key with
  ``metadata={"key": "@odata.type"}`` and a fallback key with ``metadata={"alt": "tags"}``.
- A model with ``_ENVELOPE = True`` is an ARM resource: ``id``, ``name``, ``type``, ``etag``, ``kind`` and
  ``systemData`` sit at the top and ``properties`` is flattened into the same fields (envelope keys win).
- A model with a ``raw`` field receives the whole JSON object, deep-frozen (``freeze``), so writers can merge
  intended changes into exactly what was read and unknown fields survive a PUT.
- ``datetime`` uses ``parse_datetime``; ``timedelta`` uses ``parse_timespan``; ``OpenEnum`` keeps unknown values.
- Extra keys are ignored (responses grow without notice). Failures raise ``SerializationError`` naming the path.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from .._errors import SentinelError, SerializationError
from ._enums import OpenEnum
from ._time import format_datetime, parse_datetime, parse_timespan

__all__ = ["converter", "freeze", "structure", "thaw"]

T = TypeVar("T")

RAW_KEY = "\x00raw"  # where the envelope step hands the frozen document to the ``raw`` field
_EMPTY: Mapping[str, Any] = types.MappingProxyType({})
_ENVELOPE_KEYS = ("id", "name", "type", "etag", "kind", "systemData", "location", "tags")


def freeze(value: Any) -> Any:
    """Deep read-only copy of decoded JSON: dicts become ``MappingProxyType``, lists become tuples."""
    if isinstance(value, dict):
        return types.MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Inverse of ``freeze``: a fresh, mutable, JSON-serialisable deep copy (dicts and lists)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [thaw(v) for v in value]
    return value


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=True)


def _structure_datetime(value: Any, _: type) -> datetime:
    return parse_datetime(value)


def _structure_timedelta(value: Any, _: type) -> timedelta:
    return parse_timespan(value)


def _structure_json(value: Any, _: Any) -> Any:
    # Mapping[str, Any] fields take the frozen sub-document as is (already read-only, no copy).
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _is_json_mapping(t: Any) -> bool:
    return bool(t == Mapping[str, Any])


converter.register_structure_hook(datetime, _structure_datetime)
converter.register_structure_hook(timedelta, _structure_timedelta)
converter.register_structure_hook_func(_is_json_mapping, _structure_json)
converter.register_structure_hook_func(lambda t: isinstance(t, type) and issubclass(t, OpenEnum), lambda v, t: t(v))
converter.register_unstructure_hook(datetime, format_datetime)
converter.register_unstructure_hook(timedelta, lambda td: str(td))
converter.register_unstructure_hook_func(lambda t: isinstance(t, type) and issubclass(t, OpenEnum), lambda v: v.raw)
converter.register_unstructure_hook_func(_is_json_mapping, thaw)


def _structure_factory(cls: type) -> Callable[[Any, Any], Any]:
    overrides: dict[str, Any] = {}
    alts: list[tuple[str, str]] = []
    for a in attrs.fields(cls):
        if a.name == "raw":
            overrides[a.name] = override(rename=RAW_KEY)
            continue
        key = a.metadata.get("key", camel(a.name))
        overrides[a.name] = override(rename=key)
        if "alt" in a.metadata:
            alts.append((key, a.metadata["alt"]))
    inner: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, converter, **overrides)
    envelope = bool(getattr(cls, "_ENVELOPE", False))
    has_raw = "raw" in attrs.fields_dict(cls)

    def structure_model(data: Any, _: Any) -> Any:
        if not isinstance(data, Mapping):
            raise TypeError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
        doc = data if isinstance(data, types.MappingProxyType) else freeze(dict(data))
        if envelope:
            props = doc.get("properties")
            flat: dict[str, Any] = dict(props) if isinstance(props, Mapping) else {}
            flat.update((k, v) for k, v in doc.items() if k != "properties")
        else:
            flat = dict(doc)
        for key, alt in alts:
            if key not in flat and alt in flat:
                flat[key] = flat[alt]
        if has_raw:
            flat[RAW_KEY] = doc
        return inner(flat, cls)

    return structure_model


def _unstructure_factory(cls: type) -> Callable[[Any], Any]:
    overrides: dict[str, Any] = {}
    for a in attrs.fields(cls):
        if a.name == "raw":
            overrides[a.name] = override(omit=True)
        else:
            overrides[a.name] = override(rename=a.metadata.get("key", camel(a.name)))
    return make_dict_unstructure_fn(cls, converter, **overrides)


converter.register_structure_hook_factory(attrs.has, _structure_factory)
converter.register_unstructure_hook_factory(attrs.has, _unstructure_factory)


def _format_exception(exc: BaseException, type_: type | None) -> str:
    # Our own parsers already say what they expected; keep their words instead of cattrs' generic text.
    if isinstance(exc, SentinelError):
        return str(exc)
    if isinstance(exc, TypeError) and type_ is None:
        return str(exc)
    return format_exception(exc, type_)


def structure(data: Any, cls: type[T]) -> T:
    """Structure decoded JSON into ``cls`` with the converter; failures become ``SerializationError``.

    The message lists every failing path, e.g. ``Incident.severity: expected ...``; the cattrs error is chained.
    """
    try:
        return converter.structure(data, cls)
    except Exception as exc:
        details = cattrs.transform_error(exc, path=cls.__name__, format_exception=_format_exception)
        raise SerializationError(f"cannot parse {cls.__name__}: " + "; ".join(details)) from exc
