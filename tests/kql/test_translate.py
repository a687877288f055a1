"""kql.to_sentinel / kql.to_defender: mechanical rewrites listed in .changes, the rest in .unresolved; the
translated text is checked with Microsoft's parser against the target side's schemas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kqlparser.fixture import KqlParser

from m365sentinel import kql
from m365sentinel._errors import InvalidInputError
from m365sentinel.kql._schemas import defender_side


@pytest.fixture(scope="module")
def defender_parser() -> Iterator[KqlParser]:
    parser = KqlParser({name: t.shape() for name, t in defender_side().tables.items()})
    try:
        yield parser
    finally:
        parser.close()


def errors(parser: Any, text: str) -> list[str]:
    return [d["code"] for d in parser.check(text)["diagnostics"] if d["severity"] == "Error"]


TO_SENTINEL = {
    # Defender text: (Sentinel text, [(before, after)], [unresolved codes])
    'IdentityInfo | where AccountUpn =~ "a@b.c" | project EmailAddress, OnPremSid': (
        'IdentityInfo | where AccountUPN =~ "a@b.c" | project MailAddress, AccountSID',
        [("AccountUpn", "AccountUPN"), ("EmailAddress", "MailAddress"), ("OnPremSid", "AccountSID")],
        [],
    ),
    "UrlClickEvents | where Timestamp > ago(1d) | project Timestamp, Url": (
        "UrlClickEvents | where TimeGenerated > ago(1d) | project TimeGenerated, Url",
        [("Timestamp", "TimeGenerated"), ("Timestamp", "TimeGenerated")],
        [],
    ),
    'DeviceEvents | where AdditionalFields has "x"': (
        'DeviceEvents | where tostring(AdditionalFields) has "x"',
        [("AdditionalFields", "tostring(AdditionalFields)")],
        [],
    ),
    "IdentityLogonEvents | where Port == 445 | take 5": (
        "IdentityLogonEvents | where toint(Port) == 445 | take 5",
        [("Port", "toint(Port)")],
        [],
    ),
    "EmailEvents | where Timestamp > ago(7d) | summarize count() by SenderFromDomain": (
        "EmailEvents | where Timestamp > ago(7d) | summarize count() by SenderFromDomain",
        [],
        [],
    ),
    "DeviceInfo | extend F = FileProfile(SHA1) | join DeviceTvmSoftwareInventory on DeviceId": (
        "DeviceInfo | extend F = FileProfile(SHA1) | join DeviceTvmSoftwareInventory on DeviceId",
        [],
        ["defender-only-function", "table-not-streamed"],
    ),
}


@pytest.mark.parametrize("source", sorted(TO_SENTINEL))
def test_to_sentinel(source: str, kql_parser: Any) -> None:
    text, changes, unresolved = TO_SENTINEL[source]
    t = kql.to_sentinel(source)
    assert t.text == text
    assert [(c.before, c.after) for c in t.changes] == changes
    assert [u.code for u in t.unresolved] == unresolved
    assert t.ok is (not unresolved)
    if t.ok:  # a translation reported complete parses clean against Sentinel's schemas
        assert errors(kql_parser, t.text) == []
    else:
        assert all(u.reason and u.alternative for u in t.unresolved)


def test_to_sentinel_records_position_and_reason() -> None:
    (change,) = kql.to_sentinel("UrlClickEvents\n| where Timestamp > ago(1d)").changes
    assert (change.line, change.column) == (2, 9)
    assert change.reason == "this table has no Timestamp in Sentinel; TimeGenerated holds the event time"


TO_DEFENDER = {
    "DeviceProcessEvents | where TimeGenerated > ago(1d) | extend P = AdditionalFields.Port": (
        "DeviceProcessEvents | where Timestamp > ago(1d) | extend P = parse_json(AdditionalFields).Port",
        [("TimeGenerated", "Timestamp"), ("AdditionalFields", "parse_json(AdditionalFields)")],
        [],
    ),
    'IdentityInfo | where AccountUPN == "a@b.c" | project MailAddress': (
        'IdentityInfo | where AccountUpn == "a@b.c" | project EmailAddress',
        [("AccountUPN", "AccountUpn"), ("MailAddress", "EmailAddress")],
        [],
    ),
    "SecurityIncident | union DeviceEvents": ("SecurityIncident | union DeviceEvents", [], ["table-not-in-defender"]),
}


@pytest.mark.parametrize("source", sorted(TO_DEFENDER))
def test_to_defender(source: str, kql_parser: Any, defender_parser: KqlParser) -> None:
    text, changes, unresolved = TO_DEFENDER[source]
    assert errors(kql_parser, source) == []  # a valid Sentinel query to start from
    t = kql.to_defender(source)
    assert (t.text, [(c.before, c.after) for c in t.changes], [u.code for u in t.unresolved]) == (
        text,
        changes,
        unresolved,
    )
    if t.ok:
        assert errors(defender_parser, t.text) == []


def test_round_trip_of_a_built_query() -> None:
    q = kql.table("DeviceProcessEvents").where(kql.col("TimeGenerated") > kql.fn.ago("1d")).take(3)
    back = kql.to_sentinel(kql.to_defender(q).text)
    assert back.text == "DeviceProcessEvents\n| where Timestamp > ago(1d)\n| take 3"  # Timestamp exists in Sentinel
    assert back.ok


def test_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="to_sentinel expects KQL text"):
        kql.to_sentinel(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="to_defender expects KQL text"):
        kql.to_defender(None)  # type: ignore[arg-type]
