import pytest


def test_connector_flow(sentinel_connector):
    desired = sentinel_connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=True)
    assert desired.plan().apply().writes == 6 and desired.plan().is_empty


@pytest.mark.sentinel_faults(unordered_lists=True, server_error={"times": 2})
def test_stream_under_faults(sentinel_connector, sentinel_emulator):
    streamed = [item.id for item in sentinel_connector.incidents().since(None)]
    ctl = sentinel_emulator.incident_control()  # ground truth: every Defender incident, each delivered once
    assert sorted(streamed) == sorted(
        n for n in ctl.names() if ctl.incident(n)["properties"]["providerName"] != "Azure Sentinel"
    )
