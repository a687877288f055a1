"""The Defender XDR connector's sample queries as typed, runnable ``m365sentinel.kql`` queries (no I/O).

Source: the connector definition's ``sampleQueries`` (Azure/Azure-Sentinel, ``Solutions/Microsoft Defender XDR/Data
Connectors/MicrosoftThreatProtection.JSON`` @ 05bb09d5bd0e36e8f893755a22dc07f58f7514ff; copy in
``tests/reference/samples/connector/``). Differences, on purpose: the alert products come from the provider-name
table (``_data/providers.json``) instead of a literal list; the registry key is the one the original meant (its
backslashes were lost in the JSON: ``SOFTWAREMicrosoftWindows NTCurrentVersionWinlogon``); each query carries the
window it needs as ``timespan`` (run it with ``Connector.query(s.query, timespan=s.timespan)``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import attrs

from .._providers import provider_names

if TYPE_CHECKING:
    from ..kql import Query

__all__ = ["SampleQuery", "sample_queries"]


@attrs.frozen
class SampleQuery:
    """``title`` (the connector page's description), ``query`` (a ``kql.Query``), ``timespan`` (the window)."""

    title: str
    query: Query
    timespan: timedelta

    def to_kql(self) -> str:
        return self.query.to_kql()


def sample_queries() -> tuple[SampleQuery, ...]:
    """The four sample queries of the Defender XDR connector page, built with the KQL builder."""
    from .. import kql

    col, fn = kql.col, kql.fn
    downloads = (
        "WebClient",
        "DownloadFile",
        "DownloadData",
        "DownloadString",
        "WebRequest",
        "Shellcode",
        "http",
        "https",
    )
    base64 = col("ProcessCommandLine")
    return (
        SampleQuery(
            "All Microsoft Defender XDR alerts",
            kql.table("SecurityAlert")
            .where(col("ProductName").in_(list(provider_names().alert_products)))
            .sort_by("TimeGenerated"),
            timedelta(days=1),
        ),
        SampleQuery(
            "Find possible clear text passwords in Windows registry.",
            kql.table("DeviceRegistryEvents")
            .where(col("ActionType") == "RegistryValueSet")
            .where(col("RegistryValueName") == "DefaultPassword")
            .where(col("RegistryKey").has(r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon"))
            .project("Timestamp", "DeviceName", "RegistryKey")
            .top(100, "Timestamp"),
            timedelta(days=30),
        ),
        SampleQuery(
            "Finds PowerShell execution events that could involve a download.",
            kql.union("DeviceProcessEvents", "DeviceNetworkEvents")
            .where(col("Timestamp") > fn.ago(timedelta(days=7)))
            .where(col("FileName").in_ci(["powershell.exe", "powershell_ise.exe"]))
            .where(col("ProcessCommandLine").has_any(list(downloads)))
            .project(
                "Timestamp",
                "DeviceName",
                "InitiatingProcessFileName",
                "InitiatingProcessCommandLine",
                "FileName",
                "ProcessCommandLine",
                "RemoteIP",
                "RemoteUrl",
                "RemotePort",
                "RemoteIPType",
            ),
            timedelta(days=7),
        ),
        SampleQuery(
            "Lookup process executed from binary hidden in Base64 encoded file.",
            kql.table("DeviceProcessEvents")
            .where(col("Timestamp") > fn.ago(timedelta(days=14)))
            .where(
                base64.contains(".decode('base64')")
                | base64.contains("base64 --decode")
                | base64.contains(".decode64(")
            )
            .project(
                "Timestamp",
                "DeviceName",
                "FileName",
                "FolderPath",
                "ProcessCommandLine",
                "InitiatingProcessCommandLine",
            )
            .top(100, "Timestamp"),
            timedelta(days=14),
        ),
    )
