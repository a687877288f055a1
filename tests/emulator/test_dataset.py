"""The generated dataset: deterministic, sized as promised, realistic shapes."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from m365sentinel.emulator import Emulator

from .conftest import NOW


def test_same_seed_same_data_and_different_seed_differs(shared_emu: Emulator) -> None:
    again = Emulator(now=NOW, seed=0, incidents=240)
    assert sorted(again._workspace.incidents) == sorted(shared_emu._workspace.incidents)
    assert again.tenant_id == shared_emu.tenant_id and again.customer_id == shared_emu.customer_id
    other = Emulator(now=NOW, seed=5, incidents=20)
    assert set(other._workspace.incidents).isdisjoint(shared_emu._workspace.incidents)
    again.close()
    other.close()


def test_sizes_and_append_only_rows(shared_emu: Emulator) -> None:
    ws = shared_emu._workspace
    assert shared_emu.count_incidents_created(NOW - timedelta(days=14), NOW) == 240
    assert shared_emu.count_incidents_created(NOW - timedelta(days=16), NOW) == 252  # + 5% older ones
    rows = ws.tables.rows["SecurityIncident"]
    per_incident = Counter(r["IncidentName"] for r in rows)
    assert set(per_incident) == set(ws.incidents)
    assert max(per_incident.values()) >= 3 and min(per_incident.values()) == 1
    statuses = {r["IncidentName"]: r["Status"] for r in sorted(rows, key=lambda r: r["TimeGenerated"])}
    assert statuses == {name: inc["properties"]["status"] for name, inc in ws.incidents.items()}
    alerts = ws.tables.rows["SecurityAlert"]
    assert len({a["SystemAlertId"] for a in alerts}) < len(alerts)  # several rows per alert
    assert {a["ProviderName"] for a in alerts} == {"MDATP", "OATP", "AATP", "MCAS", "Microsoft Data Loss Prevention"}
    for table in (
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
    ):
        table_rows = ws.tables.rows[table]
        assert 200 <= len(table_rows) <= 5000, table
        assert all(r["Timestamp"] == r["TimeGenerated"] < NOW for r in table_rows)
        assert all(NOW - timedelta(days=16) <= r["TimeGenerated"] for r in table_rows)
    assert ws.tables.rows["Usage"]


def test_xdr_share_renames_the_newest_incidents() -> None:
    emu = Emulator(now=NOW, seed=3, incidents=40, xdr_share=0.25)
    by_time = sorted(emu._workspace.incidents.values(), key=lambda r: r["properties"]["createdTimeUtc"])
    defender = [r["properties"]["providerName"] for r in by_time if r["properties"]["providerName"] != "Azure Sentinel"]
    assert defender.count("Microsoft XDR") == 10
    assert defender[-10:] == ["Microsoft XDR"] * 10
    assert emu.count_incidents_created(NOW - timedelta(days=14), NOW) == 40
    assert emu.count_incidents_created(NOW - timedelta(days=14), NOW, ["Microsoft 365 Defender"]) == 30
    xdr_alerts = {a["ProductName"] for a in emu._workspace.tables.rows["SecurityAlert"] if a["ProductComponentName"]}
    assert xdr_alerts == {"Microsoft Defender XDR"}
    emu.close()


@pytest.mark.parametrize(("asked", "held", "defender"), [(12, 14, 13), (10, 10, 10), (0, 0, 0)])
def test_the_incident_count_is_the_documented_one(asked: int, held: int, defender: int) -> None:
    """``incidents=n``: n recent Defender incidents + round(n * 0.05) older ones + as many "Azure Sentinel" ones."""
    ctl = Emulator(seed=3, incidents=asked).incident_control()
    providers = [ctl.incident(name)["properties"]["providerName"] for name in ctl.names()]
    assert len(providers) == held
    assert len([p for p in providers if p != "Azure Sentinel"]) == defender
