"""Bulk-path entities (SecurityAlert ``Entities`` JSON) reshaped like ``POST .../incidents/{id}/entities``.

Realistic inputs: the two SecurityAlert rows in tests/reference/samples/tables/ (an Azure Security Center sample
alert and a real MDATP test alert, from stix-shifter) and the official ARM examples.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from m365sentinel._incidents._alerts import alerts_and_entities_from_rows
from m365sentinel._incidents._entity_shape import arm_entities, arm_kind, camel_case
from m365sentinel.models import IncidentEntities

from .test_emulator_e2e import s

REF = Path(__file__).resolve().parents[1] / "reference"
ET = "Microsoft.SecurityInsights/Entities"

# Host entity of the official example Entities_List (api-version 2024-01-01-preview), Azure/azure-rest-api-specs
# specification/securityinsights/resource-manager/Microsoft.SecurityInsights/preview/2024-01-01-preview/examples/
# entities/GetEntities.json @ 3873f33d7b91f28c55d7c98b6eb7da8aa5a5bda4 (properties copied verbatim).
ARM_HOST_EXAMPLE = {
    "kind": "Host",
    "properties": {
        "friendlyName": "vm1",
        "dnsDomain": "contoso",
        "ntDomain": "domain",
        "hostName": "vm1",
        "netBiosName": "contoso",
        "azureID": "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/myRg/providers/"
        "Microsoft.Compute/virtualMachines/vm1",
        "omsAgentID": "70fbdad0-7441-4564-b2b5-2b8862d0fee0",
        "osFamily": "Windows",
        "osVersion": "1.0",
        "isDomainJoined": True,
    },
}


def _alert_rows() -> list[dict]:
    data = json.loads(
        (REF / "samples/tables/SecurityIncident+SecurityAlert+SecurityEvent.stix-shifter-rows.json").read_text()
    )
    return [r for r in data["rows"] if r.get("Entities")]


def _by(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


# -- kinds and property names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alert_type", "kind"),
    [
        ("account", "Account"),
        ("HOST", "Host"),
        ("ip", "Ip"),
        ("file", "File"),
        ("filehash", "FileHash"),
        ("process", "Process"),
        ("url", "Url"),
        ("malware", "Malware"),
        ("mailbox", "Mailbox"),
        ("registry-key", "RegistryKey"),
        ("registry-value", "RegistryValue"),
        ("security-group", "SecurityGroup"),
        ("cloud-application", "CloudApplication"),
        ("azure-resource", "AzureResource"),
        ("dns", "DnsResolution"),
        ("iotdevice", "IoTDevice"),
        ("mailCluster", "MailCluster"),
        ("mailMessage", "MailMessage"),
        ("SubmissionMail", "SubmissionMail"),
        # not in the 2025-09-01 EntityInnerKind enum: the service's spelling is kept
        ("host-logon-session", "host-logon-session"),
        ("network-connection", "network-connection"),
        ("nic", "nic"),
    ],
)
def test_alert_type_maps_to_the_arm_entity_kind(alert_type, kind):
    assert arm_kind(alert_type) == kind


@pytest.mark.parametrize(
    ("key", "camel"),
    [
        ("Name", "name"),
        ("NTDomain", "ntDomain"),
        ("UPNSuffix", "upnSuffix"),
        ("OSFamily", "osFamily"),
        ("OMSAgentID", "omsAgentID"),
        ("AzureID", "azureID"),
        ("PUID", "puid"),
        ("SID", "sid"),
        ("AadUserId", "aadUserId"),
        ("P1SenderDomain", "p1SenderDomain"),
        ("SenderIP", "senderIP"),
        ("alreadyCamel", "alreadyCamel"),
    ],
)
def test_camel_case_spells_keys_as_the_swagger_does(key, camel):
    assert camel_case(key) == camel


# -- realistic alerts, exact values ----------------------------------------------------------------------------


def test_security_center_sample_alert_exact_shape_and_resolved_references():
    docs = arm_entities(_alert_rows()[0]["Entities"])
    assert [d["kind"] for d in docs] == [
        "Host",
        "Process",
        "Account",
        "File",
        "Process",
        "host-logon-session",
        "FileHash",
        "File",
    ]
    assert all(d["type"] == ET and str(uuid.UUID(d["name"])) == d["name"] for d in docs)
    host, proc1, account, file1, proc2, session, filehash, file2 = docs
    assert host["properties"] == {
        "dnsDomain": "",
        "ntDomain": "",
        "hostName": "Sample-VM",
        "netBiosName": "Sample-VM",
        "azureID": "/SUBSCRIPTIONS/083de1fb-cd2d-4b7c-895a-2b5af1d091e8/RESOURCEGROUPS/Sample-RG/providers/"
        "Microsoft.Compute/virtualMachines/Sample-VM",
        "omsAgentID": "00000000-0000-0000-0000-000000000001",
        "osFamily": "Windows",
        "osVersion": "Windows",
        "isDomainJoined": False,
        "friendlyName": "Sample-VM",
    }
    assert proc1["properties"] == {"processId": "0x1020", "commandLine": "", "hostEntityId": host["name"]}
    assert account["properties"] == {
        "accountName": "Sample-account",
        "ntDomain": "Sample-VM",
        "hostEntityId": host["name"],
        "sid": "S-1-5-21-3061399664-1673012318-3185014992-20022",
        "isDomainJoined": False,
        "logonId": "0x427d8dd9",  # not in the swagger: kept, camelCased
        "friendlyName": "Sample-account",
    }
    assert file1["properties"] == {"directory": "c:\\temp", "fileName": "sample.exe", "friendlyName": "sample.exe"}
    assert proc2["properties"] == {
        "processId": "0x1640",
        "commandLine": ".\\sample.exe -t 4",
        "elevationToken": "Default",
        "creationTimeUtc": "2023-03-22T07:27:09.4896442Z",
        "imageFileEntityId": file1["name"],
        "accountEntityId": account["name"],
        "parentProcessEntityId": proc1["name"],
        "hostEntityId": host["name"],
    }
    # unknown kind: spelling and properties kept; its links lose only the {"$ref"} wrapper
    assert session["properties"] == {
        "sessionId": "0x427d8dd9",
        "startTimeUtc": "2023-03-22T07:27:09.4896442Z",
        "endTimeUtc": "2023-03-22T07:27:09.4896442Z",
        "host": host["name"],
        "account": account["name"],
    }
    assert filehash["properties"] == {"algorithm": "SHA256", "hashValue": "Sample-SHA"}
    assert file2["properties"] == {
        "directory": "https://Sample-Storage.blob.core.windows.net/Sample",
        "fileName": "Sample-Name",
        "fileHashEntityIds": [filehash["name"]],
        "friendlyName": "Sample-Name",
    }


def test_mdatp_alert_nested_entities_listed_once_and_linked_by_name():
    docs = arm_entities(_alert_rows()[1]["Entities"])
    kinds = [d["kind"] for d in docs]
    assert kinds.count("Process") == 5 and kinds.count("File") == 2 and kinds.count("FileHash") == 6
    assert kinds.count("Account") == 1 and kinds.count("Host") == 1 and len(docs) == 15
    cmd = next(d for d in _by(docs, "File") if d["properties"]["fileName"] == "cmd.exe")
    hashes = {d["name"]: d["properties"] for d in _by(docs, "FileHash")}
    assert [hashes[n] for n in cmd["properties"]["fileHashEntityIds"]] == [
        {"algorithm": "SHA1", "hashValue": "ded8fd7f36417f66eb6ada10e0c0d7c0022986e9"},
        {"algorithm": "MD5", "hashValue": "911d039e71583a07320b32bde22f8e22"},
        {"algorithm": "SHA256", "hashValue": "bc866cfcdda37e24dc2634dc282c7a0e6f55209da17a8fa105b07414c0e7c527"},
    ]
    by_pid = {d["properties"]["processId"]: d for d in _by(docs, "Process")}
    assert by_pid["7548"]["properties"]["imageFileEntityId"] == cmd["name"]
    assert by_pid["7548"]["properties"]["parentProcessEntityId"] == by_pid["2056"]["name"]
    assert by_pid["7532"]["properties"]["imageFileEntityId"] == cmd["name"]  # {"$ref": "4"} to a nested file
    assert by_pid["5908"]["properties"]["parentProcessEntityId"] == by_pid["7532"]["name"]
    host = _by(docs, "Host")[0]["properties"]
    assert (host["hostName"], host["osVersion"], host["mdatpDeviceId"], host["friendlyName"]) == (
        "alert-windows",
        "1809",
        "4f22ab5dc4be96566ee3c9adb3b77280dc08bfdb",
        "alert-windows",
    )


def test_more_kinds_exact_values():
    entities = [
        {
            "$id": "2",
            "Address": "203.0.113.7",
            "Location": {"CountryCode": "NL", "City": "Amsterdam", "Asn": 64500},
            "Type": "ip",
        },
        {"$id": "3", "Url": "https://login.contoso-verify.example/a", "Type": "url"},
        {
            "$id": "4",
            "MailboxPrimaryAddress": "alice@contoso.com",
            "DisplayName": "Alice",
            "Upn": "alice@contoso.com",
            "ExternalDirectoryObjectId": "18cc8fdc-e169-4451-983a-bd027db286eb",
            "Type": "mailbox",
        },
        {
            "$id": "5",
            "Hive": "HKEY_LOCAL_MACHINE",
            "Key": "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
            "Type": "registry-key",
        },
        {
            "$id": "6",
            "Key": {"$ref": "5"},
            "Name": "updater",
            "Value": "C:\\Users\\Public\\u.exe",
            "ValueType": "String",
            "Type": "registry-value",
        },
        {"$id": "7", "Directory": "C:\\Users\\Public", "Name": "u.exe", "Type": "file"},
        {
            "$id": "8",
            "Name": "Trojan:Win32/Wacatac.B!ml",
            "Category": "Trojan",
            "Files": [{"$ref": "7"}],
            "Type": "malware",
        },
        {"$id": "9", "DomainName": "contoso-verify.example", "IpAdresses": [{"$ref": "2"}], "Type": "dns"},
        {"$id": "10", "AppId": 11161, "Name": "Office 365", "InstanceName": "Office 365", "Type": "cloud-application"},
        {
            "$id": "11",
            "DistinguishedName": "CN=Admins,DC=contoso,DC=com",
            "SID": "S-1-5-21-1-2-3-512",
            "Type": "security-group",
        },
        {
            "$id": "12",
            "Recipient": "alice@contoso.com",
            "P1Sender": "it@contoso-verify.example",
            "SenderIP": "203.0.113.7",
            "Subject": "Verify",
            "Files": [{"$ref": "7"}],
            "Type": "mailMessage",
        },
    ]
    docs = {d["kind"]: d for d in arm_entities(json.dumps(entities))}
    assert list(docs) == [
        "Ip",
        "Url",
        "Mailbox",
        "RegistryKey",
        "RegistryValue",
        "File",
        "Malware",
        "DnsResolution",
        "CloudApplication",
        "SecurityGroup",
        "MailMessage",
    ]
    props = {k: d["properties"] for k, d in docs.items()}
    assert props["Ip"] == {
        "address": "203.0.113.7",
        "location": {"countryCode": "NL", "city": "Amsterdam", "asn": 64500},
        "friendlyName": "203.0.113.7",
    }
    assert props["Url"] == {"url": "https://login.contoso-verify.example/a"}  # no known friendlyName rule
    assert props["Mailbox"] == {
        "mailboxPrimaryAddress": "alice@contoso.com",
        "displayName": "Alice",
        "upn": "alice@contoso.com",
        "externalDirectoryObjectId": "18cc8fdc-e169-4451-983a-bd027db286eb",
        "friendlyName": "alice@contoso.com",
    }
    assert props["RegistryKey"] == {
        "hive": "HKEY_LOCAL_MACHINE",
        "key": "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
        "friendlyName": "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
    }
    assert props["RegistryValue"] == {
        "keyEntityId": docs["RegistryKey"]["name"],
        "valueName": "updater",
        "valueData": "C:\\Users\\Public\\u.exe",
        "valueType": "String",
        "friendlyName": "C:\\Users\\Public\\u.exe",
    }
    assert props["Malware"] == {
        "malwareName": "Trojan:Win32/Wacatac.B!ml",
        "category": "Trojan",
        "fileEntityIds": [docs["File"]["name"]],
        "friendlyName": "Trojan:Win32/Wacatac.B!ml",
    }
    assert props["DnsResolution"] == {
        "domainName": "contoso-verify.example",
        "ipAddressEntityIds": [docs["Ip"]["name"]],
    }
    assert props["CloudApplication"] == {"appId": 11161, "appName": "Office 365", "instanceName": "Office 365"}
    assert props["SecurityGroup"] == {"distinguishedName": "CN=Admins,DC=contoso,DC=com", "sid": "S-1-5-21-1-2-3-512"}
    assert props["MailMessage"] == {
        "recipient": "alice@contoso.com",
        "p1Sender": "it@contoso-verify.example",
        "senderIP": "203.0.113.7",
        "subject": "Verify",
        "fileEntityIds": [docs["File"]["name"]],
    }


def test_unknown_kind_and_unknown_properties_are_kept_camel_cased():
    docs = arm_entities(
        [
            {"$id": "2", "Name": "bob", "CloudAppAccountId": "42", "Type": "account"},
            {
                "$id": "3",
                "SessionId": "s-1",
                "UserAgent": "curl/8.0",
                "Account": {"$ref": "2"},
                "Type": "cloud-logon-session",
            },
        ]
    )
    assert [(d["kind"], d["properties"]) for d in docs] == [
        ("Account", {"accountName": "bob", "cloudAppAccountId": "42", "friendlyName": "bob"}),
        ("cloud-logon-session", {"sessionId": "s-1", "userAgent": "curl/8.0", "account": docs[0]["name"]}),
    ]


def test_links_unresolved_or_cyclic_are_dropped_and_bad_input_gives_nothing():
    docs = arm_entities(
        [
            {"$id": "2", "HostName": "h1", "Type": "host"},
            {"$id": "3", "ProcessId": "1", "Host": {"$ref": "99"}, "ParentProcess": {"$ref": "4"}, "Type": "process"},
            {"$id": "4", "ProcessId": "2", "ParentProcess": {"$ref": "3"}, "Type": "process"},
        ]
    )
    p3, p4 = _by(docs, "Process")
    assert p3["properties"] == {"processId": "1", "parentProcessEntityId": p4["name"]}
    assert p4["properties"] == {"processId": "2"}  # the link back to 3 would close a cycle
    for bad in ("not json", None, '{"Type": "account"}', [1, "x", {"no": "type"}]):
        assert arm_entities(bad) == []


def test_equal_entities_get_equal_names_and_different_ones_do_not():
    a = arm_entities([{"$id": "2", "Name": "alice", "NTDomain": "CONTOSO", "Type": "account"}])
    b = arm_entities([{"$id": "7", "NTDomain": "CONTOSO", "Name": "alice", "Type": "Account"}])
    c = arm_entities([{"$id": "2", "Name": "alice", "NTDomain": "FABRIKAM", "Type": "account"}])
    assert a[0]["name"] == b[0]["name"] != c[0]["name"]


# -- one shape on both paths -----------------------------------------------------------------------------------


def test_same_account_and_host_have_the_same_kind_and_keys_on_both_paths():
    official = json.loads((REF / "arm/2025-09-01/examples/incidents/GetAllIncidentEntities.json").read_text())
    arm_account = official["responses"]["200"]["body"]["entities"][0]
    alert_json = json.dumps(
        [
            {"$id": "2", "Name": "administrator", "NTDomain": "domain", "Type": "account"},
            {
                "$id": "3",
                "DnsDomain": "contoso",
                "NTDomain": "domain",
                "HostName": "vm1",
                "NetBiosName": "contoso",
                "AzureID": ARM_HOST_EXAMPLE["properties"]["azureID"],
                "OMSAgentID": "70fbdad0-7441-4564-b2b5-2b8862d0fee0",
                "OSFamily": "Windows",
                "OSVersion": "1.0",
                "IsDomainJoined": True,
                "Type": "host",
            },
        ]
    )
    _, by_incident = alerts_and_entities_from_rows([{"IncidentName": "INC-1", "Entities": alert_json}])
    bulk_account, bulk_host = by_incident["inc-1"]
    per_incident = IncidentEntities.from_json({"entities": [arm_account, ARM_HOST_EXAMPLE]}).entities
    for bulk, arm in zip((bulk_account, bulk_host), per_incident, strict=True):
        assert bulk.kind == arm.kind
        assert sorted(bulk.properties or {}) == sorted(arm.properties or {})
        assert dict(bulk.properties or {}) == dict(arm.properties or {})
        assert bulk.friendly_name == arm.friendly_name


def test_bulk_entities_deduplicated_per_incident():
    account = {"$id": "2", "Name": "alice", "NTDomain": "CONTOSO", "UPNSuffix": "contoso.com", "Type": "account"}
    host = {"$id": "3", "HostName": "pc-1", "OSFamily": "Windows", "Type": "host"}
    process = {"$id": "4", "ProcessId": "10", "Host": {"$ref": "3"}, "Type": "process"}
    rows = [
        {"IncidentName": "A", "SystemAlertId": "1", "Entities": json.dumps([account, host, process])},
        {"IncidentName": "a", "SystemAlertId": "2", "Entities": json.dumps([host, {**account, "$id": "5"}])},
        {"IncidentName": "B", "SystemAlertId": "3", "Entities": json.dumps([account])},
    ]
    _, entities = alerts_and_entities_from_rows(rows)
    assert [(e.kind, e.friendly_name) for e in entities["a"]] == [
        ("Account", "alice"),
        ("Host", "pc-1"),
        ("Process", None),
    ]
    assert entities["a"][2].properties == {"processId": "10", "hostEntityId": entities["a"][1].name}
    assert [(e.kind, dict(e.properties or {})) for e in entities["b"]] == [
        (
            "Account",
            {"accountName": "alice", "ntDomain": "CONTOSO", "upnSuffix": "contoso.com", "friendlyName": "alice"},
        )
    ]
    assert entities["b"][0].name == entities["a"][0].name


def test_emulator_bulk_and_per_incident_entities_agree(emu, emu_connector):
    # Every kind the emulator generates, with no extra property on either side (FileHash entities are compared
    # through tests/incidents/test_related_paths.py, which resolves the fileHashEntityIds links).
    kinds = ("Account", "Host", "Ip", "File", "Url", "Mailbox")
    compared = dict.fromkeys(kinds, 0)
    items = [i for i in s(emu_connector, emu).with_entities().page(50) if i.entities][:8]
    for item in items:
        direct = emu_connector.incidents().get(item.id).entities()
        assert sorted({e.kind for e in item.entities}) == sorted({e.kind for e in direct})
        for e in (e for e in direct if e.kind in kinds):
            own = {k: v for k, v in (e.properties or {}).items() if k != "fileHashEntityIds"}
            match = [
                b
                for b in item.entities
                if b.kind == e.kind
                and {k: v for k, v in (b.properties or {}).items() if k != "fileHashEntityIds"} == own
            ]
            assert len(match) == 1, (e.kind, e.friendly_name)
            assert set(match[0].properties or {}) == set(e.properties or {})
            compared[e.kind] += 1
    assert all(n > 0 for n in compared.values()), compared


def test_entities_nested_beyond_the_recursion_limit_are_a_serialization_error():
    """A ParentProcess chain deeper than the recursion limit escaped as an untyped RecursionError from the stream."""
    import sys

    from m365sentinel._errors import SerializationError

    root = node = {"$id": "0", "Type": "process"}
    for n in range(1, sys.getrecursionlimit() + 100):
        node["ParentProcess"] = node = {"$id": str(n), "Type": "process"}
    with pytest.raises(SerializationError, match="entities are nested too deeply"):
        arm_entities([root])  # decoded already, as the bulk path hands a dynamic cell over
    shallow = [{"$id": "0", "Type": "process", "ParentProcess": {"$id": "1", "Type": "process"}}]
    assert len(arm_entities(json.dumps(shallow))) == 2
