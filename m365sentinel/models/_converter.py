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

Two converters apply these rules: documents are structured by one generated function per model (the fast path:
keys read in place, no per-field error bookkeeping); only a document that fails there is structured again by cattrs'
detailed converter, which names every failing path.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from .._errors import SentinelError, SerializationError
from ._enums import OpenEnum
from ._time import format_datetime, parse_datetime, parse_timespan

__all__ = ["converter", "freeze", "structure", "thaw"]

T = TypeVar("T")

# Where the envelope step hands the frozen document to the ``raw`` field. The step sets it last, so a document key of
# the same name is overwritten, never read. No NUL byte: cattrs before 26.2 pastes keys into generated source.
RAW_KEY = "m365sentinel:raw"
_EMPTY: Mapping[str, Any] = types.MappingProxyType({})
_ENVELOPE_KEYS = ("id", "name", "type", "etag", "kind", "systemData", "location", "tags")


class FrozenJson(Mapping[str, Any]):
    """A read-only view of a decoded JSON object: nested objects are views, arrays come back as tuples.

    Built in O(1): parsing a page of 1,000 incidents does not deep-copy each one (the view takes over the dict it
    wraps, which only the parser holds). Equal to any mapping with the same content.
    """

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return freeze(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FrozenJson({self._data!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenJson):
            return self._data == other._data
        if isinstance(other, Mapping):
            return bool(self._data == thaw(other))  # arrays may have been frozen to tuples on the other side
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable underneath, like a dict


def freeze(value: Any) -> Any:
    """Read-only form of decoded JSON: objects become ``FrozenJson`` views, arrays tuples (of frozen items)."""
    if isinstance(value, dict):
        return FrozenJson(value)
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Inverse of ``freeze``: a fresh, mutable, JSON-serialisable deep copy (dicts and lists).

    Raises SerializationError for JSON nested deeper than the interpreter's recursion limit allows to copy."""
    try:
        return _thaw(value)
    except RecursionError:
        raise SerializationError("the JSON is nested too deeply to copy (beyond the recursion limit)") from None


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_thaw(v) for v in value]
    return value


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _name_from_id(top: Mapping[str, Any], props: Mapping[str, Any], missing: Any) -> Any:
    """An ARM resource's name for a body that left it out: the last segment of its ``id`` (ARM builds the id from the
    name), else ``missing``. Without it, items of a list could not be told apart, checkpointed or read again."""
    resource_id = top.get("id", props.get("id"))
    if isinstance(resource_id, str):
        name = resource_id.rpartition("/")[2]
        if name:
            return name
    return missing


def _structure_datetime(value: Any, _: type) -> datetime:
    return parse_datetime(value)


def _structure_timedelta(value: Any, _: type) -> timedelta:
    return parse_timespan(value)


def _structure_json(value: Any, _: Any) -> Any:
    # Mapping[str, Any] fields get a read-only view of the sub-document (no copy).
    if type(value) is dict:
        return FrozenJson(value)
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return freeze(value) if isinstance(value, dict) else value


def _is_json_mapping(t: Any) -> bool:
    return bool(t == Mapping[str, Any])


def _structure_factory(conv: cattrs.Converter, cls: type) -> Callable[[Any, Any], Any]:
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
    inner: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, conv, **overrides)
    envelope = bool(getattr(cls, "_ENVELOPE", False))
    has_raw = "raw" in attrs.fields_dict(cls)

    if _is_plain(cls):
        # A nested value object (owner, label, ...): cattrs' function reads the dict as it is, no copy needed.
        def structure_plain(data: Any, _: Any) -> Any:
            if type(data) is dict:
                return inner(data, cls)
            if isinstance(data, Mapping):
                return inner(data._data if isinstance(data, FrozenJson) else dict(data), cls)
            raise TypeError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")

        return structure_plain

    def structure_model(data: Any, _: Any) -> Any:
        # Flatten the plain dict under the view: going through the view would wrap every value on the way.
        if type(data) is dict:  # the common case: straight from json.loads
            plain, doc = data, FrozenJson(data)
        elif isinstance(data, FrozenJson):
            plain, doc = data._data, data
        elif isinstance(data, Mapping):
            plain = dict(data)
            doc = FrozenJson(plain)
        else:
            raise TypeError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
        if envelope:
            props = plain.get("properties")
            flat: dict[str, Any] = dict(props) if type(props) is dict or isinstance(props, Mapping) else {}
            flat.update(plain)  # envelope keys win over same-named properties
            flat.pop("properties", None)  # no envelope model has a field of that name (checked below)
        else:
            flat = dict(plain)
        for key, alt in alts:
            if key not in flat and alt in flat:
                flat[key] = flat[alt]
        if envelope and flat.get("name") is None:
            flat["name"] = _name_from_id(plain, flat, flat.get("name"))
        if has_raw:
            flat[RAW_KEY] = doc
        return inner(flat, cls)

    if envelope and "properties" in (o.rename for o in overrides.values()):
        raise TypeError(f"{cls.__name__}: an ARM envelope model cannot have a field read from 'properties'")
    return structure_model


def _unstructure_factory(conv: cattrs.Converter, cls: type) -> Callable[[Any], Any]:
    overrides: dict[str, Any] = {}
    for a in attrs.fields(cls):
        if a.name == "raw":
            overrides[a.name] = override(omit=True)
        else:
            overrides[a.name] = override(rename=a.metadata.get("key", camel(a.name)))
    return make_dict_unstructure_fn(cls, conv, **overrides)


def _optional_of(t: Any) -> Any:
    """``X`` for ``X | None`` (one non-None member), else None."""
    if typing.get_origin(t) not in (typing.Union, types.UnionType):
        return None
    members = [a for a in typing.get_args(t) if a is not type(None)]
    return members[0] if len(members) == 1 and len(typing.get_args(t)) == 2 else None


def _optional_factory(conv: cattrs.Converter, t: Any) -> Callable[[Any, Any], Any]:
    # Look the member's hook up once per type, not on every value (most model fields are optional).
    member = _optional_of(t)
    if member in (str, int, float, bool):
        hook = conv.get_structure_hook(member)
        return lambda v, _: v if v is None or type(v) is member else hook(v, member)
    if member is datetime:
        return lambda v, _: None if v is None else parse_datetime(v)
    if isinstance(member, type) and issubclass(member, OpenEnum):
        return lambda v, _: None if v is None else _structure_enum(v, member)
    hook = conv.get_structure_hook(member)
    return lambda v, _: None if v is None else hook(v, member)


def _structure_enum(value: Any, cls: type[OpenEnum]) -> OpenEnum:
    # The service almost always sends a member's exact spelling: one dict lookup, no case folding.
    known = cls._exact.get(value) if type(value) is str else None
    return known if known is not None else cls(value)


def _structure_str(value: Any, _: Any) -> str:
    # cattrs' default is str(value): a list or object would become its Python repr, silently. A JSON number is
    # kept as its text (lossless); anything else is refused.
    if type(value) is str:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _structure_int(value: Any, _: Any) -> int:
    # cattrs' default is int(value): 3177.5 became 3177 and true became 1, silently. An integral number (3177.0) or
    # the text of an integer ("3177": services send numbers as strings) is the same value; anything else is refused.
    if type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdecimal():
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__} {value!r:.40}")


def _structure_float(value: Any, _: Any) -> float:
    # float(True) is 1.0: a boolean is not a number here. The text of a number is read as that number.
    if isinstance(value, float | int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise TypeError(f"expected a number, got {type(value).__name__} {value!r:.40}")


def _structure_bool(value: Any, _: Any) -> bool:
    # bool("false") is True: only a JSON boolean, or the text "true"/"false" in any case, is a boolean.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise TypeError(f"expected a boolean, got {type(value).__name__} {value!r:.40}")


def _json_array(v: Any) -> list[Any] | tuple[Any, ...]:
    """``v`` if it is a decoded JSON array (a list, or a tuple from ``freeze``), ``()`` for JSON null (services send
    null for "no items": one ``"labels": null`` must not fail a page); a string is never its characters, nor an
    object its keys."""
    if isinstance(v, (list, tuple)):
        return v
    if v is None:
        return ()
    raise TypeError(f"expected a JSON array, got {type(v).__name__}")


def _detailed_tuple_factory(conv: cattrs.Converter, t: Any) -> Callable[[Any, Any], Any]:
    # ``_tuple_factory``'s rules with cattrs' per-index error notes.
    item = typing.get_args(t)[0]
    hook = conv.get_structure_hook(item)

    def structure_tuple(v: Any, _: Any) -> tuple[Any, ...]:
        out, errors = [], []
        for i, x in enumerate(_json_array(v)):
            try:
                out.append(hook(x, item))
            except Exception as exc:
                exc.__notes__ = [*getattr(exc, "__notes__", []), IterableValidationNote(f"@ index {i}", i, item)]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {t!r}", errors, t)
        return tuple(out)

    return structure_tuple


def _is_homogeneous_tuple(t: Any) -> bool:
    args = typing.get_args(t)
    return typing.get_origin(t) is tuple and len(args) == 2 and args[1] is Ellipsis


def _tuple_factory(conv: cattrs.Converter, t: Any) -> Callable[[Any, Any], Any]:
    # ``tuple[X, ...]`` from a JSON array, with the item hook looked up once per type.
    item = typing.get_args(t)[0]
    hook = conv.get_structure_hook(item)

    def structure_tuple(v: Any, _: Any) -> tuple[Any, ...]:
        if not _json_array(v):
            return ()
        if item is str:
            for x in v:  # a plain loop: cheaper than all(<genexpr>) for the short lists models carry
                if type(x) is not str:
                    break
            else:
                return tuple(v)
        return tuple([hook(x, item) for x in v])

    return structure_tuple


_MISSING = object()
_SCALARS = (str, int, float, bool)


@functools.cache
def _builder(cls: type) -> type | None:
    """A twin of ``cls`` that takes plain attribute stores, or None when ``cls(**values)`` does more than store them.

    attrs' frozen ``__init__`` takes keywords and stores each through ``object.__setattr__`` (about 50 ns a field,
    a third of an incident's structuring). The generated functions fill an instance of the twin instead (a subclass
    adding no slots, with the default ``__setattr__``: a store takes a few ns), then give it its class (``__class__``
    assignment; the layout is the same). The result is the object ``cls(**values)`` returns. Anything that makes
    ``__init__`` do more (validators, converters, init hooks, a hash cache or any other extra slot, ``init=False``
    fields, a hand-written ``__init__`` or ``__new__``) keeps the call.
    """
    c: Any = cls
    if (
        not getattr(getattr(c.__init__, "__code__", None), "co_filename", "").startswith("<attrs generated")
        or c.__new__ is not object.__new__
        or getattr(c, "__attrs_pre_init__", None) is not None
        or getattr(c, "__attrs_post_init__", None) is not None
    ):
        return None
    slots: set[str] = set()
    for klass in c.__mro__:
        names = klass.__dict__.get("__slots__", ())
        slots.update((names,) if isinstance(names, str) else names)
    fields = attrs.fields(c)
    if slots - {"__weakref__"} != {a.name for a in fields}:
        return None
    if any(not a.init or a.validator is not None or a.converter is not None for a in fields):
        return None
    body = {"__slots__": (), "__setattr__": object.__setattr__, "__delattr__": object.__delattr__}
    twin = type(f"{c.__name__}Builder", (c,), body)
    try:
        object.__new__(twin).__class__ = c
    except TypeError:  # a layout CPython does not let us swap
        return None
    return twin


class _Source:
    """The source of one generated structure function and the namespace its names resolve in."""

    def __init__(self, conv: cattrs.Converter) -> None:
        self.conv = conv
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {
            "M": _MISSING,
            "FrozenJson": FrozenJson,
            "Mapping": Mapping,
            "new": object.__new__,
            "parse_datetime": parse_datetime,
            "fromisoformat": datetime.fromisoformat,
            "UTC": UTC,
            "structure_enum": _structure_enum,
        }
        self._names: dict[int, str] = {}
        self._count = 0

    def add(self, indent: str, *lines: str) -> None:
        self.lines += [indent + line for line in lines]

    def local(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def name(self, value: Any, prefix: str) -> str:
        """A global name bound to ``value`` (one per object)."""
        name = self._names.get(id(value))
        if name is None:
            name = self._names[id(value)] = self.local(prefix)
            self.ns[name] = value
        return name

    def hook(self, t: Any) -> str:
        """``h(v, t)``'s text: the fast converter's hook for ``t``, looked up once."""
        return f"{self.name(self.conv.get_structure_hook(t), 'h')}(v, {self.name(t, 't')})"

    def model(self, cls: type, read: Callable[[str, str], list[str]], indent: str, stack: tuple[type, ...]) -> None:
        """Lines that set ``v`` to ``cls`` built from the document, each key's value read by ``read(key, missing)``
        (lines setting ``v``; ``missing`` when absent). A ``raw`` field gets ``r``, set by the caller."""
        attrs.resolve_types(cls)
        values: list[tuple[attrs.Attribute[Any], str]] = []
        for a in attrs.fields(cls):
            if not a.init:
                continue
            var = self.local("a")
            values.append((a, var))
            if a.name == "raw":
                self.add(indent, f"{var} = r")
                continue
            key = a.metadata.get("key", camel(a.name))
            member = _optional_of(a.type)
            # An optional field defaulting to None: absent and null give the same None, so no separate branch.
            absent_is_null = member is not None and a.default is None and "alt" not in a.metadata
            self.add(indent, *read(key, "None" if absent_is_null else "M"))
            if "alt" in a.metadata:
                self.add(indent, "if v is M:", *("    " + line for line in read(a.metadata["alt"], "M")))
            inner = indent
            if not absent_is_null:
                self.add(indent, "if v is M:")
                if a.default is attrs.NOTHING:
                    self.add(indent, f"    raise KeyError({key!r})")
                elif isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
                    if a.default.takes_self:
                        raise TypeError(f"{cls.__name__}.{a.name}: a default that takes self is not supported")
                    self.add(indent, f"    {var} = {self.name(a.default.factory, 'f')}()")
                else:
                    self.add(indent, f"    {var} = {self.name(a.default, 'd')}")
                self.add(indent, "else:")
                inner = indent + "    "
            self.value(a.type if member is None else member, member is not None, inner, stack)
            self.add(inner, f"{var} = v")
        self.construct(cls, values, indent)

    def value(self, t: Any, optional: bool, indent: str, stack: tuple[type, ...]) -> None:
        """Lines converting ``v`` (present in the document) to ``t``, keeping ``None`` when ``optional``."""
        if t in _SCALARS:
            tn = self.name(t, "t")
            none = "v is not None and " if optional else ""
            self.add(indent, f"if {none}v.__class__ is not {tn}:", f"    v = {self.hook(t)}")
            return
        if optional:
            self.add(indent, "if v is not None:")
            indent += "    "
        item = typing.get_args(t)[0] if _is_homogeneous_tuple(t) else None
        if t is datetime:
            # ``parse_datetime``'s common case inline (four per incident): ``fromisoformat`` gave UTC (a ``Z`` form).
            self.add(
                indent,
                "try:",
                "    w = fromisoformat(v)",
                "except (TypeError, ValueError):",
                "    w = None",
                "v = w if w is not None and w.tzinfo is UTC else parse_datetime(v)",
            )
        elif isinstance(t, type) and issubclass(t, OpenEnum):
            # The member lookup of ``_structure_enum`` inline (two enums per incident); other values go through it.
            self.add(
                indent,
                f"k = {self.name(t._exact, 'x')}.get(v) if v.__class__ is str else None",
                f"v = k if k is not None else structure_enum(v, {self.name(t, 'e')})",
            )
        elif item is str:
            # Arrays of strings (tactics, rule ids) are on every incident: the all-strings case inline, saving a call
            # per field; anything else goes to the tuple hook, which checks every item and raises the same.
            hook = self.hook(t)
            self.add(
                indent,
                "if v.__class__ is list:",
                "    for x in v:",
                "        if x.__class__ is not str:",
                f"            v = {hook}",
                "            break",
                "    else:",
                "        v = tuple(v)",
                "else:",
                f"    v = {hook}",
            )
        elif item is not None and _is_plain(item) and item not in stack:
            # An array of nested value objects (labels): one loop, each object built inline.
            items, x = self.local("l"), self.local("x")
            self.add(indent, "if v.__class__ is list:", f"    {items} = []", f"    for {x} in v:")
            self.nested(item, x, indent + "        ", stack)
            self.add(indent, f"        {items}.append(v)", f"    v = tuple({items})")
            self.add(indent, "else:", f"    v = {self.hook(t)}")
        elif _is_plain(t) and t not in stack:
            o = self.local("o")
            self.add(indent, f"{o} = v")
            self.nested(t, o, indent, stack)
        else:
            self.add(indent, f"v = {self.hook(t)}")

    def nested(self, cls: type, o: str, indent: str, stack: tuple[type, ...]) -> None:
        """Lines setting ``v`` to the nested value object ``cls`` read from ``o``: inline from a dict, else (another
        mapping, not an object) through its own function, which reads views and raises the same."""
        self.add(indent, f"if {o}.__class__ is dict:")
        self.model(cls, lambda key, missing: [f"v = {o}.get({key!r}, {missing})"], indent + "    ", (*stack, cls))
        own = self.name(self.conv.get_structure_hook(cls), "h")
        self.add(indent, "else:", f"    v = {own}({o}, {self.name(cls, 't')})")

    def construct(self, cls: type, values: list[tuple[attrs.Attribute[Any], str]], indent: str) -> None:
        """Lines setting ``v`` to ``cls`` built from the locals in ``values``."""
        twin = _builder(cls)
        c = self.name(cls, "c")
        if twin is None:
            self.add(indent, f"v = {c}({', '.join(f'{a.alias}={var}' for a, var in values)})")
            return
        self.add(indent, f"v = new({self.name(twin, 'b')})", *(f"v.{a.name} = {var}" for a, var in values))
        self.add(indent, f"v.__class__ = {c}")


def _is_plain(cls: Any) -> bool:
    """A nested value object (owner, label, ...): an attrs class without ARM envelope, ``raw`` or fallback keys."""
    return (
        attrs.has(cls)
        and not getattr(cls, "_ENVELOPE", False)
        and not any(a.name == "raw" or "alt" in a.metadata for a in attrs.fields(cls))
    )


def _fast_structure_factory(conv: cattrs.Converter, cls: type) -> Callable[[Any, Any], Any]:
    """The fast converter's structure function for an attrs model: the rules above in one generated function.

    It reads each field's key straight from the decoded dict (an ARM envelope: the top level first, then
    ``properties``; then the ``alt`` key), converts it with the same hook the detailed converter uses (scalars,
    datetimes, open enums, string arrays and nested value objects inline) and builds each object once, straight into
    its slots where ``__init__`` would only store. No flattened copy of the document, no dict of keyword arguments
    per item: this is the hot path of listing incidents. Whatever it raises makes ``structure`` retry with the
    detailed converter, which names the failing path.
    """
    attrs.resolve_types(cls)
    envelope = bool(getattr(cls, "_ENVELOPE", False))
    src = _Source(conv)
    src.add(
        "    ",
        "if data.__class__ is dict:",
        "    o = data",
        "elif isinstance(data, FrozenJson):",
        "    o = data._data",
        "elif isinstance(data, Mapping):",
        "    o = dict(data)",
        "else:",
        f"    raise TypeError(f'expected a JSON object for {cls.__name__}, got {{type(data).__name__}}')",
    )
    if "raw" in attrs.fields_dict(cls):
        # The view over the dict read, built without a call to ``FrozenJson.__init__`` (it only stores the dict).
        src.add("    ", "if isinstance(data, FrozenJson):", "    r = data", "else:")
        src.add("    ", "    r = new(FrozenJson)", "    r._data = o")
    if envelope:
        # Properties' fields are read from ``q``: ``properties`` itself when the top level holds only envelope keys
        # (every ARM response), else the flattened document (top-level keys win, as in the detailed path).
        top = src.name(frozenset((*_ENVELOPE_KEYS, "properties")), "TOP")
        src.add(
            "    ",
            "p = o.get('properties')",
            "if p.__class__ is not dict:",
            "    p = dict(p) if isinstance(p, Mapping) else {}",
            f"q = p if o.keys() <= {top} else {{**p, **o}}",
        )
        for a in attrs.fields(cls):
            if a.metadata.get("key", camel(a.name)) == "properties":
                raise TypeError(f"{cls.__name__}: an ARM envelope model cannot have a field read from 'properties'")

    def read(key: str, missing: str) -> list[str]:
        if not envelope:
            return [f"v = o.get({key!r}, {missing})"]
        if key not in _ENVELOPE_KEYS:
            return [f"v = q.get({key!r}, {missing})"]
        lines = [f"v = o.get({key!r}, M)", "if v is M:", f"    v = p.get({key!r}, {missing})"]
        if key == "name":  # a body without its name: the id's last segment (``_name_from_id``)
            lines += [f"if v is None or v is {missing}:", f"    v = {src.name(_name_from_id, 'n')}(o, p, {missing})"]
        return lines

    src.model(cls, read, "    ", (cls,))
    src.add("    ", "return v")
    source = "def structure(data, _):\n" + "\n".join(src.lines) + "\n"
    exec(compile(source, f"<m365sentinel structure {cls.__qualname__}>", "exec"), src.ns)
    fn: Callable[[Any, Any], Any] = src.ns["structure"]
    return fn


def _make_converter(*, detailed: bool) -> cattrs.Converter:
    """The SDK's conversion rules on a cattrs Converter (camelCase, ARM envelopes, UTC datetimes, timespans, open
    enums, read-only JSON views)."""
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=detailed)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(timedelta, _structure_timedelta)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook_func(_is_json_mapping, _structure_json)
    conv.register_structure_hook_func(lambda t: isinstance(t, type) and issubclass(t, OpenEnum), _structure_enum)
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_unstructure_hook(timedelta, lambda td: str(td))
    conv.register_unstructure_hook_func(lambda t: isinstance(t, type) and issubclass(t, OpenEnum), lambda v: v.raw)
    conv.register_unstructure_hook_func(_is_json_mapping, thaw)
    conv.register_structure_hook_factory(lambda t: _optional_of(t) is not None, lambda t: _optional_factory(conv, t))
    # The detailed converter's tuple hook names the failing index (cattrs' notes), which its errors report.
    tuples = _detailed_tuple_factory if detailed else _tuple_factory
    conv.register_structure_hook_factory(_is_homogeneous_tuple, lambda t: tuples(conv, t))
    if detailed:
        conv.register_structure_hook_factory(attrs.has, lambda cls: _structure_factory(conv, cls))
    else:
        conv.register_structure_hook_factory(attrs.has, lambda cls: _fast_structure_factory(conv, cls))
    conv.register_unstructure_hook_factory(attrs.has, lambda cls: _unstructure_factory(conv, cls))
    return conv


# The one set of rules, on two converters: documents are structured on the fast path (no per-field error
# bookkeeping); only a document that fails is structured again with detailed validation, to name every bad path.
converter: cattrs.Converter = _make_converter(detailed=True)
_fast = _make_converter(detailed=False)
# One hook lookup per model class, not per document (a dict read: a third of functools.cache's call).
_fast_hooks: dict[Any, Callable[[Any, Any], Any]] = {}


def _fast_hook(cls: Any) -> Callable[[Any, Any], Any]:
    hook = _fast_hooks.get(cls)
    if hook is None:
        hook = _fast_hooks[cls] = _fast.get_structure_hook(cls)
    return hook


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
        result: T = (_fast_hooks.get(cls) or _fast_hook(cls))(data, cls)
        return result
    except Exception:
        pass
    try:
        return converter.structure(data, cls)
    except Exception as exc:
        details = cattrs.transform_error(exc, path=cls.__name__, format_exception=_format_exception)
        raise SerializationError(f"cannot parse {cls.__name__}: " + "; ".join(details)) from exc
