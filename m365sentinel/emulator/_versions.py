"""api-versions the emulated services accept, per route family (data; the SDK's own choice is elsewhere)."""

from __future__ import annotations

__all__ = ["MIN_MTP_PREVIEW", "SECURITY_INSIGHTS_PREVIEW", "SECURITY_INSIGHTS_STABLE", "SUBSCRIPTION", "WORKSPACE"]

SECURITY_INSIGHTS_STABLE = (
    "2025-09-01",
    "2025-06-01",
    "2025-03-01",
    "2024-09-01",
    "2024-03-01",
    "2023-11-01",
    "2023-02-01",
    "2022-11-01",
    "2022-08-01",
    "2021-10-01",
    "2020-01-01",
)
SECURITY_INSIGHTS_PREVIEW = (
    "2025-10-01-preview",
    "2025-07-01-preview",
    "2025-04-01-preview",
    "2025-01-01-preview",
    "2024-10-01-preview",
    "2024-04-01-preview",
    "2024-01-01-preview",
    "2023-12-01-preview",
    "2023-10-01-preview",
    "2023-06-01-preview",
    "2022-12-01-preview",
    "2022-01-01-preview",
    "2021-09-01-preview",
    "2021-03-01-preview",
    "2019-01-01-preview",
)
# The MicrosoftThreatProtection kind with dataTypes.alerts exists from this preview on (case A1).
MIN_MTP_PREVIEW = "2025-07-01-preview"
WORKSPACE = ("2025-02-01", "2023-09-01", "2022-10-01", "2021-12-01-preview", "2021-06-01", "2020-10-01", "2020-08-01")
SUBSCRIPTION = ("2022-12-01", "2021-01-01", "2020-01-01", "2019-11-01", "2016-06-01")
LA_VIA_ARM = ("2017-10-01", "2020-08-01")
