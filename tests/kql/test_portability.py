"""Defender → Sentinel portability checker: tokenizer, each finding, and the practitioner hunting queries.

The tokenizer's string, timespan and datetime tokens are compared with Microsoft's lexer (through the parser
harness), so "never matches inside a string literal or a comment" rests on the real lexical rules.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from m365sentinel import kql
from m365sentinel._errors import InvalidInputError
from m365sentinel.kql import fn
from m365sentinel.kql._lexer import tokenize

DATA = Path(__file__).parent / "data" / "hunting_queries"
PREFIX = "print x = "  # the harness's `literal` op lexes PREFIX + text
DEVICE_TABLES = (
    "DeviceInfo",
    "DeviceNetworkInfo",
    "DeviceProcessEvents",
    "DeviceNetworkEvents",
    "DeviceFileEvents",
    "DeviceRegistryEvents",
    "DeviceLogonEvents",
    "DeviceImageLoadEvents",
    "DeviceEvents",
    "DeviceFileCertificateInfo",
)  # the source document's "Connect events" list


def query_of(path: Path) -> str:
    """The ``query: |`` block scalar of a hunting-query YAML file (every file here uses that form)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("query: |"))
    body: list[str] = []
    for line in lines[start + 1 :]:
        if line and not line.startswith(" "):
            break
        body.append(line[2:])
    return "\n".join(body).rstrip("\n") + "\n"


def ms_tokens(kql_parser: Any, text: str) -> list[tuple[str, int, str]]:
    """Microsoft's tokens of ``text``: (kind, offset in text, token text)."""
    reply = kql_parser.literal(text)
    pos = len(PREFIX.rstrip())
    out = []
    for tok in reply["tokens"]:
        start = pos + len(tok["trivia"])
        out.append((tok["kind"], start - len(PREFIX), tok["text"]))
        pos = start + len(tok["text"])
    return out


def findings(text: str | kql.Query, **kw: Any) -> list[tuple[str, str, int, int, int, str]]:
    report = kql.check_portability(text, **kw)
    return [(f.code, f.severity, f.line, f.column, f.offset, f.text) for f in report.findings]


# tokenizer ----------------------------------------------------------------------------------------------
def test_strings_and_comments_hide_words() -> None:
    toks = tokenize('x has "a // b" // c "d\ny')
    assert [(t.kind, t.text, t.offset) for t in toks] == [
        ("name", "x", 0),
        ("name", "has", 2),
        ("string", '"a // b"', 6),
        ("name", "y", 23),
    ]


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ('@"C:\\a\\" x', '@"C:\\a\\"'),  # verbatim: backslash is not an escape
        ('@"a""b" x', '@"a""b"'),  # verbatim: doubled quote
        ("'it\\'s' x", "'it\\'s'"),
        ('h"secret" x', 'h"secret"'),
        ("H@'C:\\' x", "H@'C:\\'"),
        ('```a\n"b\n``` x', '```a\n"b\n```'),
    ],
)
def test_string_forms(text: str, literal: str) -> None:
    toks = tokenize(text)
    assert [(t.kind, t.text) for t in toks] == [("string", literal), ("name", "x")]


def test_unterminated_string_ends_at_line_end() -> None:
    assert [(t.kind, t.text) for t in tokenize('"abc\nX')] == [("string", '"abc'), ("name", "X")]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("45d", "timespan", 45 * 864_000_000_000),
        ("1.5h", "timespan", 54_000_000_000),
        ("10days", "timespan", 8_640_000_000_000),
        ("2microseconds", "timespan", 20),
        ("timespan(31d)", "timespan", 31 * 864_000_000_000),
        ("timespan(-1d)", "timespan", -864_000_000_000),
        ("1d1", "name", None),
        ("1e5", "number", None),
        ("0x1F", "number", None),
        ("datetime(2023-08-10T00:00:00Z)", "literal", None),
        ("guid(74be27de-1e4e-49d9-b579-fe0b331d3642)", "literal", None),
    ],
)
def test_number_forms(text: str, kind: str, value: int | None) -> None:
    toks = tokenize(text)
    assert [(t.kind, t.text, t.value) for t in toks] == [(kind, text, value)]


def test_operators_and_join_sides() -> None:
    toks = tokenize("$left.a==$right.b and c !has d in~ (1..2)")
    assert [t.text for t in toks] == [
        "$left",
        ".",
        "a",
        "==",
        "$right",
        ".",
        "b",
        "and",
        "c",
        "!",
        "has",
        "d",
        "in",
        "~",
        "(",
        "1",
        "..",
        "2",
        ")",
    ]


TRICKY = [
    'T | where a has @"copy \\client\\c$\\aaaa\\" or b == "x\\"y // z" // has "q\n| where c == \'it\\\'s\'',
    "T | where a == h@'x''y' and b > ago(1.5h) and c < datetime(2023-08-10T00:00:00Z) and X['k'] == ['a b']",
    'T | extend a = ```multi "line\n// not a comment``` , b = 10days, c = timespan(45d), d = 2microseconds',
]


@pytest.mark.parametrize(
    "text", [*TRICKY, *(query_of(DATA / q["file"]) for q in json.loads((DATA / "index.json").read_text())["queries"])]
)
def test_literal_tokens_match_microsofts_lexer(kql_parser: Any, text: str) -> None:
    kinds = {
        "StringLiteralToken": "string",
        "TimespanLiteralToken": "timespan",
        "DateTimeLiteralToken": "literal",
        "GuidLiteralToken": "literal",
    }
    theirs = [(kinds[k], off, t) for k, off, t in ms_tokens(kql_parser, text) if k in kinds]
    ours = [(t.kind, t.offset, t.text) for t in tokenize(text) if t.kind in ("string", "timespan", "literal")]
    assert ours == theirs


# findings -----------------------------------------------------------------------------------------------
def test_defender_only_functions() -> None:
    text = (
        "DeviceFileEvents\n| invoke FileProfile(SHA1, 1000)\n| extend Ip = AssignedIPAddresses(DeviceName)\n"
        "| extend D = DeviceFromIP(RemoteIP, now())\n| invoke SeenBy()"
    )
    assert findings(text) == [
        ("defender-only-function", "error", 2, 10, 26, "FileProfile"),
        ("defender-only-function", "error", 3, 15, 64, "AssignedIPAddresses"),
        ("defender-only-function", "error", 4, 14, 109, "DeviceFromIP"),
        ("defender-only-function", "error", 5, 10, 148, "SeenBy"),
    ]
    report = kql.check_portability(text)
    assert not report.ok
    assert "Sentinel has no such function" in report.findings[0].message
    assert report.findings[0].fix.startswith("enrich from workspace data")


def test_words_inside_strings_and_comments_are_not_findings() -> None:
    text = (
        'DeviceEvents\n| where ProcessCommandLine has "FileProfile(" or FolderPath == @"DeviceTvmSoftwareInventory"'
        " // AdditionalFields has \"x\", ago(45d), Timestamp, DeviceFromIP(x)\n| where ActionType == 'ago(90d)'"
    )
    report = kql.check_portability(text)
    assert report.findings == ()
    assert report.ok
    assert str(report) == "portable: no findings"


def test_tables_never_streamed() -> None:
    text = "DeviceTvmSoftwareVulnerabilities\n| join kind=inner ['DeviceTvmSoftwareInventory'] on DeviceId"
    assert findings(text) == [
        ("table-not-streamed", "error", 1, 1, 0, "DeviceTvmSoftwareVulnerabilities"),
        ("table-not-streamed", "error", 2, 19, 51, "['DeviceTvmSoftwareInventory']"),
    ]


@pytest.mark.parametrize(
    ("text", "expected_column"),
    [
        ('DeviceEvents | where AdditionalFields has "x"', 22),
        ('DeviceEvents | where AdditionalFields !contains "x"', 22),
        ('DeviceEvents | where AdditionalFields == "{}"', 22),
        ('DeviceEvents | where AdditionalFields matches regex "a.b"', 22),
        ('DeviceEvents | extend P = extractjson("$.Port", AdditionalFields, typeof(long))', 49),
        ('DeviceEvents | extend P = extract("Port\\":(\\\\d+)", 1, AdditionalFields)', 55),
        ("DeviceEvents | parse AdditionalFields with * 'Port\":' Port:long '}'", 22),
    ],
)
def test_additional_fields_as_string(text: str, expected_column: int) -> None:
    (finding,) = kql.check_portability(text).findings
    assert (finding.code, finding.severity, finding.column, finding.text) == (
        "additionalfields-as-string",
        "warning",
        expected_column,
        "AdditionalFields",
    )
    assert finding.fix.startswith("read a property (AdditionalFields.Name")


@pytest.mark.parametrize(
    "text",
    [
        "DeviceEvents | extend P = parse_json(AdditionalFields)",
        "DeviceEvents | extend P = todynamic(AdditionalFields).Port",
        'DeviceEvents | where AdditionalFields.Port == 443 or AdditionalFields["Port"] == 443',
        'DeviceEvents | where tostring(AdditionalFields) has "x"',
        "DeviceEvents | where isnotempty(AdditionalFields) | project AdditionalFields",
    ],
)
def test_additional_fields_as_dynamic_is_fine(text: str) -> None:
    assert kql.check_portability(text).findings == ()


def test_windows_beyond_30_days() -> None:
    text = (
        "DeviceEvents\n| where TimeGenerated > ago(45d) and TimeGenerated < ago(30d)\n"
        "| where TimeGenerated > ago(721h) or TimeGenerated > now() - timespan(31d) or TimeGenerated > ago(720h)"
    )
    assert findings(text) == [
        ("window-beyond-30d", "info", 2, 29, 41, "45d"),
        ("window-beyond-30d", "info", 3, 29, 103, "721h"),
        ("window-beyond-30d", "info", 3, 62, 136, "timespan(31d)"),
    ]
    assert kql.check_portability(text).ok  # info only


def test_timestamp_references_but_not_declarations() -> None:
    text = (
        "DeviceEvents\n| extend Timestamp = TimeGenerated, T2 = AdditionalFields.Timestamp\n"
        "| join (DeviceInfo) on $left.Timestamp == $right.Timestamp\n| project-rename Timestamp = TimeGenerated\n"
        "| summarize (Timestamp, DeviceId) = arg_max(Timestamp, DeviceId) by DeviceName"
    )
    assert findings(text) == [
        ("timestamp-column", "info", 3, 30, 110, "Timestamp"),
        ("timestamp-column", "info", 3, 50, 130, "Timestamp"),
        ("timestamp-column", "info", 5, 45, 227, "Timestamp"),
    ]


def test_tables_not_selected() -> None:
    text = "DeviceEvents\n| union EmailEvents, SecurityIncident, CustomTable_CL\n| lookup DeviceInfo on DeviceId"
    custom = ("custom-table", "warning", 2, 40, 52, "CustomTable_CL")  # never "not streamed"
    assert findings(text, selected_tables=["DeviceEvents"]) == [
        ("table-not-selected", "warning", 2, 9, 21, "EmailEvents"),
        custom,
        ("table-not-selected", "warning", 3, 10, 76, "DeviceInfo"),
    ]
    assert findings(text, selected_tables={"DeviceEvents", "EmailEvents", "DeviceInfo"}) == [custom]
    assert findings(text) == [custom]  # selection not checked without a selection


def test_let_names_are_not_tables() -> None:
    text = "let DeviceInfo = DeviceEvents | take 1;\nDeviceInfo | union (DeviceInfo)"
    assert findings(text, selected_tables=["DeviceEvents"]) == []


def test_built_query_is_rendered_then_checked() -> None:
    q = kql.table("DeviceEvents").where(
        kql.col("AdditionalFields").has("Port"), kql.col("Timestamp") > fn.ago(timedelta(days=45))
    )
    report = kql.check_portability(q, selected_tables=DEVICE_TABLES)
    assert report.query == q.to_kql() == ('DeviceEvents\n| where AdditionalFields has "Port" and Timestamp > ago(45d)')
    assert [(f.code, f.line, f.column, f.text) for f in report.findings] == [
        ("additionalfields-as-string", 2, 9, "AdditionalFields"),
        ("timestamp-column", 2, 41, "Timestamp"),
        ("window-beyond-30d", 2, 57, "45d"),
    ]
    assert str(report).splitlines()[0].startswith("2:9 warning additionalfields-as-string: AdditionalFields is used")


def test_templates_are_portable() -> None:
    for q in (
        kql.table_timechart("DeviceEvents"),
        kql.last_data_received(DEVICE_TABLES),
        kql.daily_volume(DEVICE_TABLES),
    ):
        assert kql.check_portability(q, selected_tables=DEVICE_TABLES).findings == ()


@pytest.mark.parametrize("bad", [42, None, b"DeviceEvents"])
def test_bad_query_input(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="check_portability expects KQL text"):
        kql.check_portability(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["DeviceEvents", [1], [""]])
def test_bad_selected_tables(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="selected_tables must be an iterable of table names"):
        kql.check_portability("DeviceEvents", selected_tables=bad)  # type: ignore[arg-type]


# the practitioner hunting queries (tests/kql/data/hunting_queries) --------------------------------------
# Each: (findings with no selection, tables reported when only the source document's Device* tables are selected,
# why). Every finding's text is also a token boundary in Microsoft's lexer (checked below).
HUNTING: dict[str, tuple[list[tuple[str, int, int, str]], list[str], str]] = {
    "Execution/PowerShellDownloads.yaml": ([], [], "clean: Device table, TimeGenerated, 7-day window"),
    "Lateral Movement/AccountBruteForce.yaml": ([], [], 'clean (the "\\\\" literal is one string token)'),
    "Email Queries/General/Top 10 External Senders (Malware).yaml": (
        [("timestamp-column", 5, 62, "Timestamp")],
        ["EmailEvents"],
        "arg_max(Timestamp, ...) reads Defender's time column (the (Timestamp, ReportId) = ... names are "
        "declarations, not reported); YOUR_DOMAIN_HERE is the author's placeholder, not a portability issue",
    ),
    "Appspot Phishing Abuse.yaml": (
        [],
        ["EmailUrlInfo", "EmailEvents"],
        "clean: Timestamp1 is the self-join's copy, a different name",
    ),
    "Campaigns/Log4j/DeviceWithLog4jAlerts.yaml": (
        [],
        ["AlertInfo", "AlertEvidence", "AlertEvidence", "AlertInfo"],
        "clean; the missing comma between two titles concatenates them in Defender and Sentinel alike",
    ),
    "Delivered Bad Emails from Top bad IPv4 addresses.yaml": (
        [],
        ["EmailEvents", "EmailEvents"],
        "clean: `cutoff` is a let name",
    ),
    "Email Queries/General/Local time to UTC time conversion.yaml": (
        [("timestamp-column", 2, 9, "Timestamp")],
        ["EmailEvents"],
        "filters on Defender's Timestamp",
    ),
    "Email Queries/General/Hunt for TABL changes.yaml": (
        [("timestamp-column", 3, 12, "Timestamp")],
        ["CloudAppEvents"],
        "sorts on Defender's Timestamp",
    ),
    "Campaigns/JudgementPandaExfilActivity.yaml": (
        [],
        [],
        'clean: verbatim strings ending in a backslash (@"copy .\\1.7z \\") are closed correctly',
    ),
    "Command and Control/ReconWithRundll.yaml": ([], [], "clean"),
}


def test_every_hunting_query_is_covered() -> None:
    index = json.loads((DATA / "index.json").read_text(encoding="utf-8"))
    assert sorted(q["file"] for q in index["queries"]) == sorted(HUNTING)


@pytest.mark.parametrize("name", sorted(HUNTING))
def test_hunting_query_findings(name: str, kql_parser: Any) -> None:
    expected, not_selected, _why = HUNTING[name]
    text = query_of(DATA / name)
    report = kql.check_portability(text)
    assert [(f.code, f.line, f.column, f.text) for f in report.findings] == expected
    assert report.ok
    selected = kql.check_portability(text, selected_tables=DEVICE_TABLES)
    assert [f.text for f in selected.findings if f.code == "table-not-selected"] == not_selected
    boundaries = {(off, t) for _, off, t in ms_tokens(kql_parser, text)}
    assert all((f.offset, f.text) in boundaries for f in selected.findings)


# computed from the two schema sets -------------------------------------------------------------------------
SCHEMA_CASES = {
    # text: (expected findings (code, severity, text), does Microsoft's parser accept it against Sentinel's schemas)
    'IdentityInfo | where AccountUpn =~ "a@b.c" | project EmailAddress, OnPremSid': (
        [
            ("column-renamed", "error", "AccountUpn"),
            ("column-renamed", "error", "EmailAddress"),
            ("column-renamed", "error", "OnPremSid"),
        ],
        False,
    ),
    "IdentityLogonEvents | join (DeviceNetworkEvents | extend Port = RemotePort) on Port": (
        [("join-key-type", "error", "Port")],
        False,
    ),
    'IdentityLogonEvents | where AdditionalFields has "x"': ([], True),  # dynamic on both sides
    'DeviceEvents | where AdditionalFields has "x"': (
        [("additionalfields-as-string", "warning", "AdditionalFields")],
        True,
    ),
    "DeviceTvmSoftwareInventory_CL | take 1": ([("custom-table", "warning", "DeviceTvmSoftwareInventory_CL")], False),
    "DeviceTvmSoftwareInventory | take 1": ([("table-not-streamed", "error", "DeviceTvmSoftwareInventory")], False),
    "UrlClickEvents | where Timestamp > ago(1d)": ([("column-missing", "error", "Timestamp")], False),
    "EmailEvents | where Timestamp > ago(7d) | project Timestamp, Subject": (
        [("timestamp-column", "info", "Timestamp"), ("timestamp-column", "info", "Timestamp")],
        True,
    ),
    "IdentityLogonEvents | where Port == 445": ([("column-type", "warning", "Port")], True),
    "EmailEvents | extend EmailAddress = RecipientEmailAddress | project EmailAddress": ([], True),
}


@pytest.mark.parametrize("text", sorted(SCHEMA_CASES))
def test_findings_computed_from_both_schemas_and_parser_agrees(text: str, kql_parser: Any) -> None:
    expected, parses = SCHEMA_CASES[text]
    report = kql.check_portability(text)
    assert [(f.code, f.severity, f.text) for f in report.findings] == expected
    clean = [d for d in kql_parser.check(text)["diagnostics"] if d["severity"] == "Error"] == []
    assert clean is parses
    assert not report.ok or clean  # nothing the checker passes fails in Microsoft's parser


def test_renamed_finding_names_the_fix_and_position() -> None:
    (finding,) = kql.check_portability("IdentityInfo\n| where AccountUpn == 'x'").findings
    assert (finding.line, finding.column, finding.fix) == (2, 9, "use AccountUPN")
    assert finding.message == "AccountUpn is named AccountUPN in Sentinel's IdentityInfo."


def test_unknown_table_positions() -> None:
    text = (
        "let x = 1;\nMtpAlerts | join kind=inner (Other | take 1) on A | union T2, (T3 | take 1)\n"
        "| extend Y = make_set(A), Z = iif(isnotempty(url), url, ip)"
    )
    assert [(f.code, f.text) for f in kql.check_portability(text).findings] == [
        ("unknown-table", "MtpAlerts"),
        ("unknown-table", "Other"),
        ("unknown-table", "T2"),
        ("unknown-table", "T3"),
    ]


def test_own_column_shadows_only_in_later_operators() -> None:
    text = "UrlClickEvents\n| summarize (Timestamp, Url) = arg_max(Timestamp, Url) by AccountUpn\n| project Timestamp"
    assert [(f.code, f.line, f.text) for f in kql.check_portability(text).findings] == [
        ("column-missing", 2, "Timestamp")
    ]  # the argument reads the table; line 3 reads the query's own column


def test_missing_semicolon_between_statements() -> None:
    text = "EmailEvents\n| summarize count() by SenderFromAddress\n\nEmailEvents\n| take 1"
    assert [(f.code, f.severity, f.line) for f in kql.check_portability(text).findings] == [
        ("missing-semicolon", "error", 4)
    ]
    assert kql.check_portability("DeviceEvents | join kind=inner EmailEvents on ReportId").findings == ()


def test_unknown_column_compared_on_known_tables() -> None:
    text = (
        'DeviceNetworkEvents\n| where RegistryValueData contains "http://"\n| summarize count() by DeviceId\n'
        "| where count_ > 1"
    )
    assert [(f.code, f.line, f.text) for f in kql.check_portability(text).findings] == [
        ("unknown-column", 2, "RegistryValueData")
    ]
    # columns that bag_unpack (or parse, ...) adds are not followed: no finding
    assert kql.check_portability('EmailEvents | evaluate bag_unpack(X) | where DMARC == "fail"').findings == ()


def test_column_after_summarize() -> None:
    text = (
        "DeviceProcessEvents\n| summarize C = dcount(ProcessCommandLine) by DeviceId, bin(TimeGenerated, 5m)\n"
        "| where C > 10\n| extend H = iff(DeviceName has '.', 1, 2), D = DeviceId"
    )
    assert [(f.code, f.severity, f.line, f.text) for f in kql.check_portability(text).findings] == [
        ("column-after-summarize", "error", 4, "DeviceName")
    ]
    joined = "DeviceProcessEvents | summarize by DeviceId | join (DeviceInfo) on DeviceId | project DeviceName"
    assert kql.check_portability(joined).findings == ()
