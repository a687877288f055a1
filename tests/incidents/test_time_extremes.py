"""Year 1 and year 9999 in the stream's datetime arithmetic (issue 10): no crash, no stuck consumer."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from m365sentinel._errors import InvalidInputError
from m365sentinel._incidents import Checkpoint
from m365sentinel._incidents._checkpoint import PassState
from m365sentinel.models._time import format_datetime, shift

from .conftest import NOW, incident

CUSTOMER = "11111111-2222-3333-4444-555555555555"
MIN = datetime.min.replace(tzinfo=UTC)
MAX = datetime.max.replace(tzinfo=UTC)


def _with_alerts_responses(httpx_mock, incidents):
    httpx_mock.add_response(
        url=re.compile(r".*/incidents\?.*"),
        json={"value": incidents},
        headers={"Date": "Thu, 20 Nov 2025 12:00:00 GMT"},
    )
    httpx_mock.add_response(
        url=re.compile(r".*/workspaces/myWorkspace\?api-version=.*"), json={"properties": {"customerId": CUSTOMER}}
    )
    httpx_mock.add_response(method="POST", url=re.compile(r".*/query$"), json={"tables": []})
    # Not in Log Analytics yet: the alerts come from the per-incident call (see _alerts.lagging_incidents).
    httpx_mock.add_response(method="POST", url=re.compile(r".*/incidents/x/alerts\?.*"), json={"value": []})


@pytest.mark.parametrize(
    ("created", "modified"),
    [
        ("0001-01-01T00:00:00Z", "2025-11-20T11:59:00Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ("2025-11-20T11:00:00Z", "9999-12-31T23:59:59.9999999Z"),
    ],
)
def test_incident_created_in_year_1_or_modified_in_9999_with_alerts_is_delivered(
    httpx_mock, connector, created, modified
):
    doc = incident("x", modified, createdTimeUtc=created)
    _with_alerts_responses(httpx_mock, [doc])
    run = iter(connector.incidents().provider(None).clock(lambda: NOW).with_alerts())
    assert [(i.id, i.alerts) for i in run] == [("x", ())]
    body = json.loads(next(r for r in httpx_mock.get_requests() if r.method == "POST").content)
    start, end = body["timespan"].split("/")
    first = min(created, modified)
    expected_start = "0001-01-01T00:00:00.0000000Z" if first.startswith("0001") else "2025-11-19T11:00:00.0000000Z"
    expected_end = "9999-12-31T23:59:59.9999990Z" if modified.startswith("9999") else "2025-11-21T12:00:00.0000000Z"
    assert (start, end) == (expected_start, expected_end)
    assert run.checkpoint.watermark == NOW - timedelta(minutes=5)


def test_shift_clamps_to_the_representable_range():
    assert shift(MIN, -timedelta(days=1)) == MIN
    assert shift(MAX, timedelta(days=1)) == MAX
    assert shift(MIN, timedelta.min) == MIN
    assert shift(MAX, timedelta.max) == MAX
    assert shift(NOW, -timedelta(minutes=5)) == NOW - timedelta(minutes=5)


def test_a_pass_starting_in_year_1_or_9999_does_not_overflow():
    lag = timedelta(minutes=5)
    assert PassState.begin(Checkpoint(), MIN, lag).bound() == MIN
    assert PassState.begin(Checkpoint(), MAX, lag).bound() == MAX - lag
    state = PassState.begin(Checkpoint(), NOW, lag)
    state.page(MIN)  # the service's Date says year 1: the watermark bound is clamped, not an OverflowError
    assert state.next_watermark == MIN
    state = PassState.begin(Checkpoint(), NOW, lag)
    state.page(None)
    state.in_window("x", MIN)  # no Date: the newest change on the first page bounds it
    assert state.next_watermark == MIN


def test_a_year_1_instant_with_a_positive_offset_is_a_typed_input_error_not_overflow():
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))  # 0000-12-31T23:00Z: not representable
    with pytest.raises(InvalidInputError, match="representable"):
        format_datetime(early)
    with pytest.raises(InvalidInputError, match="representable"):
        Checkpoint.starting_at(early)
    late = datetime.max.replace(tzinfo=timezone(-timedelta(hours=1)))
    with pytest.raises(InvalidInputError, match="representable"):
        format_datetime(late)


def test_checkpoint_with_year_1_and_9999_round_trips():
    cp = Checkpoint(watermark=MIN, seen=(("a", MAX, None),))
    assert Checkpoint.from_json(cp.dumps()) == cp


def test_kql_datetime_literals_of_years_1_and_9999():
    from m365sentinel.kql._literals import render_datetime

    assert render_datetime(MIN) == "datetime(0001-01-01T00:00:00.0000000Z)"
    assert render_datetime(MAX) == "datetime(9999-12-31T23:59:59.9999990Z)"
    with pytest.raises(InvalidInputError, match="range"):
        render_datetime(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
