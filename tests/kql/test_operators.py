"""Operator and expression matrix: exact text, parser-clean, immutability, build-time errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from m365sentinel import kql
from m365sentinel._errors import InvalidInputError
from m365sentinel.kql import fn

SI = kql.table("SecurityIncident")
DE = kql.table("DeviceEvents")
DPE = kql.table("DeviceProcessEvents")
T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)

MATRIX: dict[str, tuple[kql.Query, str]] = {
    "where_eq": (SI.where(SI.c.Status == "New"), 'SecurityIncident\n| where Status == "New"'),
    "where_multi": (
        SI.where(SI.c.Status != "Closed", SI.c.IncidentNumber > 40),
        'SecurityIncident\n| where Status != "Closed" and IncidentNumber > 40',
    ),
    "logic": (
        SI.where((SI.c.Status == "New") | (SI.c.Status == "Active") & ~(SI.c.Severity == "Low")),
        'SecurityIncident\n| where Status == "New" or Status == "Active" and not(Severity == "Low")',
    ),
    "logic_parens": (
        SI.where(((SI.c.Status == "New") | (SI.c.Status == "Active")) & (SI.c.Severity == "High")),
        'SecurityIncident\n| where (Status == "New" or Status == "Active") and Severity == "High"',
    ),
    "arith": (
        SI.extend(N=(SI.c.IncidentNumber + 1) * 2 - 3 / (SI.c.IncidentNumber % 5)),
        "SecurityIncident\n| extend N = (IncidentNumber + 1) * 2 - 3 / (IncidentNumber % 5)",
    ),
    "arith_right_assoc": (
        SI.extend(N=kql.lit(10) - (SI.c.IncidentNumber - 1), M=-SI.c.IncidentNumber),
        "SecurityIncident\n| extend N = 10 - (IncidentNumber - 1), M = -IncidentNumber",
    ),
    "string_ops": (
        DE.where(
            DE.c.DeviceName.has("web"),
            DE.c.DeviceName.not_has("x"),
            DE.c.ActionType.has_cs("Av"),
            DE.c.FileName.contains("mal"),
            DE.c.FileName.not_contains("ok"),
            DE.c.FileName.startswith("a"),
            DE.c.FileName.not_startswith("b"),
            DE.c.FileName.endswith(".exe"),
            DE.c.FileName.not_endswith(".dll"),
            DE.c.FolderPath.matches_regex("^C:\\Windows"),
            DE.c.ActionType.equals_ci("x"),
            DE.c.ActionType.not_equals_ci("y"),
            DE.c.ActionType.not_has_cs("Q"),
            DE.c.FileName.contains_cs("M"),
            DE.c.FileName.not_contains_cs("N"),
        ),
        'DeviceEvents\n| where DeviceName has "web" and DeviceName !has "x" and ActionType has_cs "Av"'
        ' and FileName contains "mal" and FileName !contains "ok" and FileName startswith "a"'
        ' and FileName !startswith "b" and FileName endswith ".exe" and FileName !endswith ".dll"'
        ' and FolderPath matches regex "^C:\\\\Windows" and ActionType =~ "x" and ActionType !~ "y"'
        ' and ActionType !has_cs "Q" and FileName contains_cs "M" and FileName !contains_cs "N"',
    ),
    "in_forms": (
        DE.where(
            DE.c.ActionType.in_("A", "B"),
            DE.c.ActionType.not_in(["C"]),
            DE.c.ActionType.in_ci("d"),
            DE.c.ActionType.not_in_ci("e"),
            DE.c.FileName.has_any("x", "y"),
            DE.c.FileName.has_all(["z"]),
        ),
        'DeviceEvents\n| where ActionType in ("A", "B") and ActionType !in ("C") and ActionType in~ ("d")'
        ' and ActionType !in~ ("e") and FileName has_any ("x", "y") and FileName has_all ("z")',
    ),
    "between": (
        SI.where(SI.c.TimeGenerated.between(T0, T0 + timedelta(days=1)), SI.c.IncidentNumber.not_between(1, 5)),
        "SecurityIncident\n| where TimeGenerated between (datetime(2024-01-02T03:04:05.0000000Z) .. "
        "datetime(2024-01-03T03:04:05.0000000Z)) and IncidentNumber !between (1 .. 5)",
    ),
    "functions": (
        SI.extend(
            A=fn.ago("1h"),
            B=fn.now(),
            C=fn.bin("TimeGenerated", timedelta(hours=1)),
            D=fn.iff(fn.isnull("ClosedTime"), "open", "closed"),
            E=fn.isnotnull("Owner"),
            F=fn.isempty("Title"),
            G=fn.isnotempty("Title"),
            H=fn.tostring("Owner"),
            I=fn.todatetime("Title"),
            J=fn.format_datetime("CreatedTime", "yyyy-MM-dd"),
            K=fn.strcat("Title", kql.lit(" - "), "Severity"),
            L=fn.coalesce("Title", kql.lit("")),
            M=fn.parse_json("Title"),
            N=SI.c.Owner["email"],
            O=fn.tolower("Title"),
        ),
        "SecurityIncident\n| extend A = ago(1h), B = now(), C = bin(TimeGenerated, 1h), "
        'D = iff(isnull(ClosedTime), "open", "closed"), E = isnotnull(Owner), F = isempty(Title), '
        "G = isnotempty(Title), H = tostring(Owner), I = todatetime(Title), "
        'J = format_datetime(CreatedTime, "yyyy-MM-dd"), K = strcat(Title, " - ", Severity), '
        'L = coalesce(Title, ""), M = parse_json(Title), N = Owner["email"], O = tolower(Title)',
    ),
    "aggregations": (
        SI.summarize(
            fn.count(),
            D=fn.dcount("Owner"),
            CI=fn.countif(SI.c.Status == "New"),
            S=fn.sum("IncidentNumber"),
            Mi=fn.min("CreatedTime"),
            Ma=fn.max("CreatedTime"),
            Av=fn.avg("IncidentNumber"),
            MS=fn.make_set("Status"),
            ML=fn.make_list("Title"),
            P=fn.percentile("IncidentNumber", 95),
            by=["Severity", fn.bin("CreatedTime", "1d")],
        ),
        'SecurityIncident\n| summarize count(), D = dcount(Owner), CI = countif(Status == "New"), '
        "S = sum(IncidentNumber), Mi = min(CreatedTime), Ma = max(CreatedTime), Av = avg(IncidentNumber), "
        "MS = make_set(Status), ML = make_list(Title), P = percentile(IncidentNumber, 95) "
        "by Severity, bin(CreatedTime, 1d)",
    ),
    "arg_min": (
        SI.summarize(fn.arg_min("TimeGenerated", "Status", "Title"), by="IncidentNumber"),
        "SecurityIncident\n| summarize arg_min(TimeGenerated, Status, Title) by IncidentNumber",
    ),
    "project_family": (
        SI.project("IncidentNumber", "Title", Sev=kql.col("Severity"))
        .project_rename(Number="IncidentNumber")
        .project_away("Sev"),
        "SecurityIncident\n| project IncidentNumber, Title, Sev = Severity\n"
        "| project-rename Number = IncidentNumber\n| project-away Sev",
    ),
    "sort_forms": (
        SI.sort_by(SI.c.CreatedTime.desc(nulls="last"), SI.c.Title.asc(nulls="first")).order_by(
            "IncidentNumber", order="asc"
        ),
        "SecurityIncident\n| sort by CreatedTime desc nulls last, Title asc nulls first\n| order by IncidentNumber asc",
    ),
    "top_take_limit": (
        SI.top(5, "CreatedTime").take(3).limit(2),
        "SecurityIncident\n| top 5 by CreatedTime desc\n| take 3\n| limit 2",
    ),
    "distinct_count": (
        SI.distinct("Status", "Severity").count(),
        "SecurityIncident\n| distinct Status, Severity\n| count",
    ),
    "join_kinds": (
        SI.project("IncidentNumber", "AlertIds")
        .mv_expand(AlertId="AlertIds")
        .extend(SystemAlertId=fn.tostring("AlertId"))
        .join(kql.table("SecurityAlert").project("SystemAlertId", "AlertName"), on="SystemAlertId", kind="leftouter"),
        "SecurityIncident\n| project IncidentNumber, AlertIds\n| mv-expand AlertId = AlertIds\n"
        "| extend SystemAlertId = tostring(AlertId)\n| join kind=leftouter (\n    SecurityAlert\n"
        "    | project SystemAlertId, AlertName\n) on SystemAlertId",
    ),
    "join_left_right": (
        DE.join(DPE, on=[("DeviceId", "DeviceId"), kql.left("ReportId") == kql.right("ReportId")], kind="inner"),
        "DeviceEvents\n| join kind=inner DeviceProcessEvents on $left.DeviceId == $right.DeviceId, "
        "$left.ReportId == $right.ReportId",
    ),
    "lookup": (
        DE.lookup(kql.table("DeviceInfo").project("DeviceId", "OSPlatform"), on="DeviceId", kind="leftouter"),
        "DeviceEvents\n| lookup kind=leftouter (\n    DeviceInfo\n    | project DeviceId, OSPlatform\n) on DeviceId",
    ),
    "union_head": (
        kql.union("DeviceEvents", kql.table("DeviceFileEvents").take(1), withsource="Source", kind="outer").take(5),
        "union kind=outer withsource=Source DeviceEvents, (\n    DeviceFileEvents\n    | take 1\n)\n| take 5",
    ),
    "let_all": (
        kql.table("Recent")
        .where(kql.col("Sev") == kql.var("Level"))
        .let("Recent", SI.project(Sev=kql.col("Severity")).take(10))
        .let("Level", "High")
        .let("F", kql.function([("n", "long")], kql.var("n") * 2)),
        "let Recent = (\n    SecurityIncident\n    | project Sev = Severity\n    | take 10\n);\n"
        'let Level = "High";\nlet F = (n: long) { n * 2 };\nRecent\n| where Sev == Level',
    ),
    "datatable": (
        kql.datatable(
            [("Name", "string"), ("N", "long"), ("When", "datetime")], [["a'b", 1, T0], ["c\nd", -2, T0]]
        ).where(kql.col("N") > 0),
        'datatable(Name: string, N: long, When: datetime) ["a\'b", 1, '
        'datetime(2024-01-02T03:04:05.0000000Z), "c\\nd", long(-2), '
        "datetime(2024-01-02T03:04:05.0000000Z)]\n| where N > 0",
    ),
    "range_print": (
        kql.range_("x", 1, 10, 2).extend(y=kql.col("x") * 2),
        "range x from 1 to 10 step 2\n| extend y = x * 2",
    ),
    "print": (kql.print_(A=kql.lit("x"), B=fn.now()), 'print A = "x", B = now()'),
    "parse": (
        DE.parse("AdditionalFields", "prefix ", ("Code", "long"), " [", ("Msg", "string"), "]", "*").project(
            "Code", "Msg"
        ),
        'DeviceEvents\n| parse AdditionalFields with "prefix " Code: long " [" Msg: string "]" *\n| project Code, Msg',
    ),
    "render_props": (
        SI.summarize(C=fn.count(), by=fn.bin("CreatedTime", "1d")).render(
            "columnchart", title='Incidents "per" day', ytitle="count"
        ),
        "SecurityIncident\n| summarize C = count() by bin(CreatedTime, 1d)\n"
        '| render columnchart with (title="Incidents \\"per\\" day", ytitle="count")',
    ),
    "quoted_names": (
        SI.extend(**{"Device Name": kql.lit("x"), "where": 1}).project("Device Name", "where"),
        "SecurityIncident\n| extend ['Device Name'] = \"x\", ['where'] = 1\n| project ['Device Name'], ['where']",
    ),
    "subquery_paren_head": (SI.take(1).paren().project("Title"), "(SecurityIncident\n| take 1)\n| project Title"),
    "mv_expand_limit": (
        SI.mv_expand("Labels", limit=10).project("Labels"),
        "SecurityIncident\n| mv-expand Labels limit 10\n| project Labels",
    ),
    "null_typed": (SI.extend(X=kql.null("datetime")), "SecurityIncident\n| extend X = datetime(null)"),
    "raw_unsafe": (SI.where(kql.raw_unsafe("Status == 'New'")), "SecurityIncident\n| where Status == 'New'"),
}


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_operator_matrix_exact_text(name: str) -> None:
    query, expected = MATRIX[name]
    assert query.to_kql() == expected


@pytest.mark.kqlparser
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_operator_matrix_parses_clean(kql_parser, name: str) -> None:  # type: ignore[no-untyped-def]
    query, _ = MATRIX[name]
    kql_parser.assert_clean(query.to_kql())


def test_every_call_returns_a_new_query() -> None:
    base = kql.table("SecurityIncident")
    before = base.to_kql()
    derived = base.where(base.c.Status == "New")
    derived.take(5)
    assert base.to_kql() == before == "SecurityIncident"
    assert derived.to_kql() == 'SecurityIncident\n| where Status == "New"'
    assert derived is not base


@pytest.mark.parametrize("use", ["and", "or", "not", "if"])
def test_python_boolean_operators_raise_type_error_naming_bitwise(use: str) -> None:
    a = kql.col("A") == 1
    b = kql.col("B") == 2
    with pytest.raises(TypeError, match=r"&.*\|.*~"):
        if use == "and":
            _ = a and b
        elif use == "or":
            _ = a or b
        elif use == "not":
            _ = not a
        else:
            if a:
                pass


def test_misspelled_column_fails_at_build_time() -> None:
    with pytest.raises(
        InvalidInputError,
        match=r"unknown column 'ProviderNam' in SecurityIncident; did you mean "
        r"'ProviderName'",
    ):
        SI.where(kql.col("ProviderNam") == "x")
    with pytest.raises(InvalidInputError, match="unknown column 'Statu'"):
        _ = SI.c.Statu


def test_wrong_literal_kind_fails_at_build_time() -> None:
    with pytest.raises(
        InvalidInputError,
        match=r"column 'TimeGenerated' is datetime; cannot compare it with "
        r"string literal '2024-01-01'",
    ):
        SI.where(kql.col("TimeGenerated") > "2024-01-01")
    with pytest.raises(InvalidInputError, match="'IncidentNumber' is int"):
        SI.where(SI.c.IncidentNumber == "45")
    with pytest.raises(InvalidInputError, match="'Status' is string"):
        SI.where(SI.c.Status.in_(1, 2))
    with pytest.raises(InvalidInputError, match="'TimeGenerated' is datetime"):
        SI.where(SI.c.TimeGenerated.between(1, 2))
    # numeric kinds mix; dynamic accepts anything
    SI.where(SI.c.IncidentNumber == 45.0, SI.c.Owner == "x")


def test_columns_tracked_through_operators() -> None:
    q = SI.project("Title", N="IncidentNumber")
    with pytest.raises(InvalidInputError, match="unknown column 'Status' in SecurityIncident"):
        q.where(kql.col("Status") == "x")
    q.where(kql.col("N") > 1)
    renamed = SI.project_rename(Number="IncidentNumber")
    renamed.where(kql.col("Number") == 1)
    with pytest.raises(InvalidInputError):
        renamed.where(kql.col("IncidentNumber") == 1)


def test_unknown_tables_are_unchecked() -> None:
    assert kql.table("MyCustom_CL").where(kql.col("Anything") == 1).to_kql() == "MyCustom_CL\n| where Anything == 1"


@pytest.mark.parametrize(
    "bad",
    [
        lambda: SI.join(DE, on="DeviceId", kind="sideways"),
        lambda: SI.take(-1),
        lambda: SI.render("bubbles"),
        lambda: SI.union(),
        lambda: kql.datatable([("A", "text")], []),
        lambda: kql.datatable([("A", "long")], [[1, 2]]),
        lambda: SI.sort_by(SI.c.Title.asc(nulls="middle")),
        lambda: fn.call("drop table", 1),
        lambda: SI.let("X", 1).let("X", 2),
    ],
)
def test_invalid_builder_input_raises(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError):
        bad()
