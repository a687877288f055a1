"""The generated fast structure functions (issue 17): nested value objects inline, objects built into their slots.

Each must give exactly what cattrs' detailed converter gives, refuse exactly what it refuses (that converter then
names the path), and build objects that behave exactly like ``cls(**values)``'s.
"""

from __future__ import annotations

import importlib
import pickle
import re
import types
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from m365sentinel._errors import SerializationError
from m365sentinel.models import (
    FrozenJson,
    Incident,
    IncidentAdditionalData,
    IncidentLabel,
    IncidentOwner,
    converter,
    thaw,
)
from m365sentinel.models._converter import _builder, _fast_hook, _json_array, structure

T0 = "2026-12-05T01:12:16.4241770Z"
DT0 = datetime(2026, 12, 5, 1, 12, 16, 424177, tzinfo=UTC)


def _incident(**props: Any) -> dict[str, Any]:
    """An incident as the emulator's list route returns it (issue 17's measured page), with ``props`` replaced."""
    base: dict[str, Any] = {
        "title": "Multi-stage incident 2000 on one endpoint",
        "severity": "Informational",
        "status": "New",
        "owner": {"objectId": None, "email": None, "assignedTo": "a@b.c", "userPrincipalName": None},
        "labels": [{"labelName": "bulk", "labelType": "User"}],
        "firstActivityTimeUtc": T0,
        "lastActivityTimeUtc": T0,
        "createdTimeUtc": T0,
        "lastModifiedTimeUtc": T0,
        "incidentNumber": 2000,
        "providerName": "Microsoft 365 Defender",
        "providerIncidentId": "502000",
        "relatedAnalyticRuleIds": [],
        "additionalData": {
            "alertsCount": 1,
            "alertProductNames": ["Microsoft Defender for Endpoint"],
            "tactics": ["Execution"],
        },
    }
    return {
        "properties": {**base, **props},
        "id": "/x/incidents/i1",
        "name": "i1",
        "etag": '"e1"',
        "type": "Microsoft.SecurityInsights/incidents",
    }


def _fast_and_detailed(doc: Any) -> Incident:
    # The fast function itself, never the fallback: a document it refused would raise here.
    fast = _fast_hook(Incident)(doc, Incident)
    detailed = converter.structure(doc, Incident)
    assert fast == detailed and repr(fast) == repr(detailed) and fast.raw == detailed.raw
    return fast  # type: ignore[no-any-return]


class _View(Mapping[str, Any]):
    """A mapping that is neither a dict nor a FrozenJson."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._d = data

    def __getitem__(self, key: str) -> Any:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)


def test_an_emulator_incident_takes_the_fast_path_with_every_value_typed() -> None:
    inc = _fast_and_detailed(_incident())
    assert type(inc) is Incident and type(inc.owner) is IncidentOwner
    assert type(inc.labels) is tuple and type(inc.labels[0]) is IncidentLabel
    assert type(inc.additional_data) is IncidentAdditionalData
    assert inc.owner == IncidentOwner(assigned_to="a@b.c")
    assert inc.labels == (IncidentLabel(label_name="bulk", label_type="User"),)
    assert inc.additional_data == IncidentAdditionalData(
        alerts_count=1, alert_product_names=("Microsoft Defender for Endpoint",), tactics=("Execution",)
    )
    assert (inc.created_time_utc, inc.last_activity_time_utc) == (DT0, DT0)
    assert (inc.name, inc.incident_number, inc.severity, inc.related_analytic_rule_ids) == (
        "i1",
        2000,
        "Informational",
        (),
    )


def test_the_fast_path_builds_objects_without_their_init(monkeypatch: pytest.MonkeyPatch) -> None:
    # Objects are stored into their slots: attrs' keyword __init__ is a third of an incident's cost.
    def refuse(self: object, **kw: Any) -> None:
        raise AssertionError("__init__ called")

    for cls in (Incident, IncidentOwner, IncidentLabel, IncidentAdditionalData):
        monkeypatch.setattr(cls, "__init__", refuse)
    assert Incident.from_json(_incident()).labels[0].label_name == "bulk"


def test_objects_built_into_slots_behave_like_init_built_ones() -> None:
    inc = Incident.from_json(_incident())
    ref = Incident(**{a.alias: getattr(inc, a.name) for a in attrs.fields(Incident)})
    assert inc == ref and hash(inc) == hash(ref) and repr(inc) == repr(ref)
    assert attrs.asdict(inc) == attrs.asdict(ref)
    owner_ref = IncidentOwner(assigned_to="a@b.c")
    assert inc.owner == owner_ref and hash(inc.owner) == hash(owner_ref) and repr(inc.owner) == repr(owner_ref)
    copy = pickle.loads(pickle.dumps(inc))
    assert copy == inc and type(copy) is Incident and copy.raw == inc.raw
    assert attrs.evolve(inc, title="t2").title == "t2" and attrs.evolve(inc) == inc
    assert inc.to_json() == _incident() and inc.put_body() == ref.put_body()
    assert inc.put_body({"status": "Closed"})["properties"]["status"] == "Closed"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        inc.title = "x"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        inc.labels[0].label_name = "x"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del inc.owner  # type: ignore[misc]


@pytest.mark.parametrize(
    ("props", "attr", "expected"),
    [
        ({"owner": {"email": "e", "futureField": [1]}}, "owner", IncidentOwner(email="e")),
        ({"owner": {}}, "owner", IncidentOwner()),
        ({"owner": None}, "owner", None),
        ({"owner": FrozenJson({"email": "e"})}, "owner", IncidentOwner(email="e")),
        ({"owner": types.MappingProxyType({"email": "e"})}, "owner", IncidentOwner(email="e")),
        ({"owner": {"ownerType": "Group", "objectId": 7}}, "owner", IncidentOwner(owner_type="Group", object_id="7")),  # type: ignore[arg-type]
        ({"labels": []}, "labels", ()),
        ({"labels": ({"labelName": "t"},)}, "labels", (IncidentLabel(label_name="t"),)),
        (
            {"labels": [{"labelName": "a", "x": 1}, FrozenJson({"labelName": "b"})]},
            "labels",
            (IncidentLabel(label_name="a"), IncidentLabel(label_name="b")),
        ),
        ({"labels": [{"labelName": "a", "labelType": None}]}, "labels", (IncidentLabel(label_name="a"),)),
        ({"labels": None}, "labels", ()),  # JSON null for an array: no items, as when the key is absent
        ({"relatedAnalyticRuleIds": None}, "related_analytic_rule_ids", ()),
        ({"labels": [{"labelName": 5}]}, "labels", (IncidentLabel(label_name="5"),)),
        ({"additionalData": {}}, "additional_data", IncidentAdditionalData()),
        ({"additionalData": _View({"tactics": ["t"]})}, "additional_data", IncidentAdditionalData(tactics=("t",))),
        (
            {"additionalData": {"techniques": ("T1",), "alertsCount": 2}},
            "additional_data",
            IncidentAdditionalData(techniques=("T1",), alerts_count=2),
        ),
        (
            {"createdTimeUtc": "2024-01-02T03:04:05+02:00"},
            "created_time_utc",
            datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC),
        ),
        ({"createdTimeUtc": "2024-01-02T03:04:05"}, "created_time_utc", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (
            {"createdTimeUtc": "2024-01-02 03:04:05.123456789z"},
            "created_time_utc",
            datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        ),
        ({"createdTimeUtc": None}, "created_time_utc", None),
    ],
)
def test_every_generated_branch_matches_the_detailed_converter(props: dict[str, Any], attr: str, expected: Any) -> None:
    value = getattr(_fast_and_detailed(_incident(**props)), attr)
    assert value == expected
    assert type(value) is type(expected)
    if attr == "created_time_utc" and value is not None:
        assert value.tzinfo is UTC


@pytest.mark.parametrize("wrap", [FrozenJson, types.MappingProxyType, _View])
def test_non_dict_documents_take_the_fast_path(wrap: Any) -> None:
    doc = _incident()
    wrapped = wrap(doc)
    inc = _fast_and_detailed(wrapped)
    assert inc == Incident.from_json(doc) and thaw(inc.raw) == doc
    assert isinstance(inc.raw, FrozenJson)
    assert (inc.raw is wrapped) is (wrap is FrozenJson)  # a view is kept as given, not wrapped again


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"owner": {"email": ["x"]}}, "invalid value for type, expected str | None @ Incident.owner.email"),
        (
            {"owner": "x"},
            "invalid value for type, expected m365sentinel.models._arm.IncidentOwner | None @ Incident.owner",
        ),
        ({"labels": ["x"]}, "invalid value for type, expected IncidentLabel @ Incident.labels[0]"),
        ({"labels": {"labelName": "x"}}, "invalid value for type, expected tuple @ Incident.labels"),
        (
            {"labels": [{"labelName": "a"}, {"labelType": "User"}]},
            "required field missing @ Incident.labels[1].label_name",
        ),
        ({"labels": [{"labelName": None}]}, "invalid value for type, expected str @ Incident.labels[0].label_name"),
        ({"additionalData": {"tactics": "Execution"}}, "expected tuple @ Incident.additional_data.tactics"),
        ({"additionalData": {"alertsCount": "three"}}, "expected int | None @ Incident.additional_data.alerts_count"),
        ({"additionalData": [1]}, "Incident.additional_data"),
        (
            {"createdTimeUtc": "2024-13-01T00:00:00Z"},
            "got '2024-13-01T00:00:00Z' (month must be in 1..12) @ Incident.created_time_utc",
        ),
        ({"createdTimeUtc": 5}, "(0-9 fractional digits; no zone = UTC), got 5 @ Incident.created_time_utc"),
    ],
)
def test_malformed_nested_values_are_refused_by_the_fast_path_and_named(props: dict[str, Any], message: str) -> None:
    doc = _incident(**props)
    with pytest.raises(Exception):  # noqa: B017 - any error: structure() then asks the detailed converter
        _fast_hook(Incident)(doc, Incident)
    with pytest.raises(SerializationError, match=re.escape(message)):
        Incident.from_json(doc)


@attrs.frozen(kw_only=True)
class _Validated:
    n: int = attrs.field(validator=attrs.validators.ge(0))


@attrs.frozen(kw_only=True)
class _Converted:
    s: str = attrs.field(converter=str.upper)


@attrs.frozen(kw_only=True)
class _PostInit:
    n: int
    double: int = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "double", 2 * self.n)


@attrs.frozen(kw_only=True, cache_hash=True)
class _CachedHash:
    n: int


@attrs.define(kw_only=True, init=False)
class _OwnInit:
    n: int

    def __init__(self, *, n: int) -> None:
        self.n = n + 1


def test_models_whose_init_does_more_than_store_keep_the_call() -> None:
    for cls in (_Validated, _Converted, _PostInit, _CachedHash, _OwnInit):
        assert _builder(cls) is None, cls
    with pytest.raises(SerializationError, match=r"^cannot parse _Validated: invalid value @ _Validated$"):
        structure({"n": -1}, _Validated)
    assert structure({"s": "a"}, _Converted).s == "A"
    assert structure({"n": 2}, _PostInit).double == 4
    assert hash(structure({"n": 2}, _CachedHash)) == hash(_CachedHash(n=2))
    assert structure({"n": 2}, _OwnInit).n == 3


def test_every_sdk_model_is_built_into_its_slots() -> None:
    # A model that grows a validator, converter or init hook falls back to its __init__: correct, but slow.
    modules = [importlib.import_module(f"m365sentinel.models.{m}") for m in ("_arm", "_graph", "_export", "_query")]
    classes = {c for m in modules for c in vars(m).values() if isinstance(c, type) and attrs.has(c)}
    assert {Incident, IncidentOwner, IncidentLabel, IncidentAdditionalData} < classes and len(classes) >= 30
    assert sorted(c.__name__ for c in classes if _builder(c) is None) == []


def test_both_tuple_hooks_share_the_json_array_check() -> None:
    assert _json_array([1]) == [1] and _json_array(("a",)) == ("a",) and _json_array(None) == ()
    for value, name in (("ab", "str"), ({"a": 1}, "dict"), (0, "int"), (b"ab", "bytes")):
        with pytest.raises(TypeError, match=f"^expected a JSON array, got {name}$"):
            _json_array(value)


def test_timestamps_inline_equal_parse_datetime() -> None:
    from m365sentinel.models import parse_datetime

    for text in (T0, "2024-02-29T23:59:59.9999999Z", "0001-01-01T00:00:00Z", "2024-01-02T03:04:05-01:30"):
        inc = _fast_and_detailed(_incident(lastModifiedTimeUtc=text))
        assert inc.last_modified_time_utc == parse_datetime(text)
    assert parse_datetime("2024-01-02T03:04:05-01:30") == datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=timezone(-timedelta(hours=1, minutes=30))
    )
