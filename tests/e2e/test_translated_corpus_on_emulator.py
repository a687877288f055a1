"""Translated corpus queries run offline: ``kql.to_sentinel`` output of Defender XDR hunting queries (the vendored
corpus, tests/kql/data/corpus) through ``Connector.query`` against the emulator's hunting tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kql.corpus import load

from m365sentinel import Connector, InvalidInputError, kql
from m365sentinel.emulator import Emulator

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CORPUS = {entry.path.rsplit("/", 1)[1]: entry.query for entry in load()}


@pytest.fixture(scope="module")
def connector() -> Any:
    emu = Emulator(now=NOW, seed=3)
    emu.populate_hunting_tables()
    with Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as c:
        yield c
    emu.close()


def _run(connector: Connector, name: str) -> tuple[kql.Translation, list[tuple[str, str]], list[dict[str, Any]]]:
    translated = kql.to_sentinel(CORPUS[name])
    assert translated.unresolved == ()
    table = connector.query(translated.text, timespan=timedelta(days=30)).tables[0]
    return translated, [(c.name, c.type) for c in table.columns], table.to_dicts()


def test_a_translated_query_runs_and_returns_typed_rows(connector: Connector) -> None:
    tr, cols, rows = _run(connector, "Top 10 Users clicking on Malicious URLs (Malware+Phish+Spam).yaml")
    assert [(c.before, c.after) for c in tr.changes] == [("Timestamp", "TimeGenerated")]  # UrlClickEvents has none
    assert cols == [
        ("AccountUpn", "string"),
        ("Count", "long"),
        ("Timestamp", "datetime"),
        ("NetworkMessageId", "string"),
    ]
    assert [(r["AccountUpn"], r["Count"]) for r in rows] == [("avery.lee@contoso.com", 2), ("casey.ng@contoso.com", 1)]
    assert all(isinstance(r["Timestamp"], datetime) and r["Timestamp"].tzinfo is not None for r in rows)


@pytest.mark.parametrize(
    ("name", "columns", "rows"),
    [
        (
            "MDO_URLClickedinEmail.YAML",
            [("AccountUpn", "string"), ("ActionType", "string"), ("Url", "string")],
            [
                {
                    "AccountUpn": "casey.ng@contoso.com",
                    "ActionType": "ClickAllowed",
                    "Url": "https://invoices-contoso.example/pay/2",
                }
            ],
        ),
        (
            "Top users targeted by Malware.yaml",
            [("RecipientEmailAddress", "string"), ("count_", "long")],
            [{"RecipientEmailAddress": "casey.ng@contoso.com", "count_": 1}],
        ),
        (
            "Top 100 senders.yaml",
            [("SenderMailFromAddress", "string"), ("mailCountBySender", "long")],  # uses Timestamp
            [{"SenderMailFromAddress": "billing@invoices-contoso.example", "mailCountBySender": 5}],
        ),
        ("Top 10 External Senders (Phish).yaml", None, None),
    ],
)
def test_queries_that_run_unchanged_run_on_the_emulator(
    connector: Connector, name: str, columns: Any, rows: Any
) -> None:
    tr, cols, got = _run(connector, name)
    assert tr.changes == () and tr.text == CORPUS[name]
    if columns is not None:
        assert (cols, got) == (columns, rows)
    else:
        assert len(got) == 1


def test_every_streamed_hunting_table_has_rows_typed_by_the_sentinel_schema(connector: Connector) -> None:
    for name in (
        "EmailEvents",
        "EmailUrlInfo",
        "EmailAttachmentInfo",
        "EmailPostDeliveryEvents",
        "UrlClickEvents",
        "IdentityLogonEvents",
        "IdentityQueryEvents",
        "IdentityDirectoryEvents",
        "CloudAppEvents",
        "AlertInfo",
        "AlertEvidence",
    ):
        table = connector.query(f"{name} | take 100", timespan=timedelta(days=2)).tables[0]
        schema = kql.schema_for(name)
        assert schema is not None
        assert [c.name for c in table.columns] == [c for c, _ in schema.columns], name
        assert len(table.rows) == 5, name


def test_alerts_join_their_evidence_on_shared_ids(connector: Connector) -> None:
    q = kql.table("AlertInfo").join(kql.table("AlertEvidence"), "AlertId").summarize(N=kql.fn.count())
    assert connector.query(q, timespan=timedelta(days=2)).tables[0].to_dicts() == [{"N": 9}]


def test_populate_hunting_tables_refuses_a_bad_row_count() -> None:
    emu = Emulator(now=NOW, seed=3, dataset=False)
    try:
        with pytest.raises(InvalidInputError, match="rows=0"):
            emu.populate_hunting_tables(rows=0)
    finally:
        emu.close()
