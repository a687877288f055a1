from datetime import UTC, datetime, timedelta, timezone

import pytest

from m365sentinel._errors import InvalidInputError
from m365sentinel._ids import WorkspaceId, validate_guid
from m365sentinel._timespan import to_timespan

WS = "/subscriptions/D0CFE6B2-9AC0-4464-9919-DCCAEE2E48C0/resourceGroups/my.Rg(1)/providers/Microsoft.OperationalInsights/workspaces/my-Workspace"


def test_workspace_id_parses_and_normalises_subscription():
    ws = WorkspaceId.parse(WS)
    assert ws == WorkspaceId("d0cfe6b2-9ac0-4464-9919-dccaee2e48c0", "my.Rg(1)", "my-Workspace")
    assert ws.resource_id == (
        "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/my.Rg(1)"
        "/providers/Microsoft.OperationalInsights/workspaces/my-Workspace"
    )
    assert ws.security_insights == ws.resource_id + "/providers/Microsoft.SecurityInsights"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "my-workspace",
        "/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws1",
        "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/rg/providers/Microsoft.Compute/workspaces/ws1",
        "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/a",
        "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws/../x",
        "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws%2f",
    ],
)
def test_malformed_workspace_id_names_value_and_expected_form(bad):
    with pytest.raises(InvalidInputError) as err:
        WorkspaceId.parse(bad)
    assert repr(bad) in str(err.value)
    assert "/subscriptions/<subscription guid>/resourceGroups/" in str(err.value)


def test_non_string_workspace_rejected():
    with pytest.raises(InvalidInputError, match="got 42"):
        WorkspaceId.parse(42)


def test_guid_validation():
    assert (
        validate_guid("{2070ECC9-B4D5-4AE4-ADAA-936FA1954FA8}", "tenant_id") == "2070ecc9-b4d5-4ae4-adaa-936fa1954fa8"
    )
    with pytest.raises(InvalidInputError, match=r"tenant_id must be a GUID .* got 'contoso.onmicrosoft.com'"):
        validate_guid("contoso.onmicrosoft.com", "tenant_id")
    with pytest.raises(ValueError):  # InvalidInputError is also a ValueError
        validate_guid(None, "tenant_id")


def test_timespan_forms():
    assert to_timespan(timedelta(days=14)) == "P14D"
    assert to_timespan(timedelta(hours=1, seconds=0.5)) == "PT1H0.5S"
    assert to_timespan(timedelta(days=1, minutes=1)) == "P1DT1M"
    assert to_timespan("P14D") == "P14D"
    start = datetime(2026, 11, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    end = datetime(2026, 11, 2, tzinfo=UTC)
    assert to_timespan((start, end)) == "2026-11-01T00:00:00.0000000Z/2026-11-02T00:00:00.0000000Z"
    assert to_timespan("2026-11-01T00:00:00Z/2026-11-02T00:00:00Z") == "2026-11-01T00:00:00Z/2026-11-02T00:00:00Z"


@pytest.mark.parametrize(
    "bad", [timedelta(0), timedelta(days=-1), "14 days", 14, (datetime(2026, 1, 1), datetime(2026, 1, 2))]
)
def test_timespan_rejects_bad_input(bad):
    with pytest.raises(InvalidInputError, match=r"timespan|naive"):
        to_timespan(bad)


def test_api_versions_defaults_and_case_a1_guard():
    from m365sentinel._api_versions import ApiVersions

    v = ApiVersions()
    assert (v.security_insights_preview, v.incidents, v.workspace, v.subscription) == (
        "2025-10-01-preview",
        "2025-09-01",
        "2023-09-01",
        "2022-12-01",
    )
    assert ApiVersions(security_insights_preview="2025-07-01-preview").security_insights_preview == "2025-07-01-preview"
    for old in ("2025-09-01", "2024-01-01-preview", "2021-03-01-preview"):
        with pytest.raises(
            InvalidInputError, match=f"security_insights_preview='{old}' cannot carry the MicrosoftThreatProtection"
        ):
            ApiVersions(security_insights_preview=old)
    with pytest.raises(InvalidInputError, match="not of the form YYYY-MM-DD"):
        ApiVersions(incidents="latest")
