"""BlobCheckpointStore and AsyncBlobCheckpointStore on Azurite (issue 14): corruption, leases, credentials kept
secret, arguments, the missing extra, the async twin. The compare-and-swap contract itself runs for every store in
test_checkpoint_and_stores.py; the processes in test_blob_processes.py."""

from __future__ import annotations

import asyncio
import gc
import logging
import pickle
import re
import subprocess
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceModifiedError
from azure.storage.blob import BlobClient, BlobLeaseClient

from m365sentinel import (
    AsyncBlobCheckpointStore,
    BlobCheckpointStore,
    CheckpointConflictError,
    CheckpointError,
    InvalidInputError,
)
from m365sentinel._incidents import Checkpoint

from .test_corrupt_stores import FILE_VARIANTS

KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # Azurite's
CP = Checkpoint(watermark=datetime(2025, 11, 20, 11, tzinfo=UTC))
CP2 = Checkpoint(watermark=datetime(2025, 11, 20, 12, tzinfo=UTC))


def _store(azurite, container, **kw):
    return BlobCheckpointStore.from_connection_string(azurite.connection_string, container, "cp.json", **kw)


def _raw(azurite, container):
    return BlobClient.from_connection_string(azurite.connection_string, container, "cp.json")


# The corrupt checkpoint files of test_corrupt_stores, as blobs: the same CheckpointError at load().
CONTENT_VARIANTS = {name: (write, match) for name, (write, match) in FILE_VARIANTS.items() if write.__name__ == "write"}


@pytest.mark.parametrize("variant", CONTENT_VARIANTS, ids=list(CONTENT_VARIANTS))
def test_a_corrupt_blob_is_a_checkpoint_error_naming_it(variant, azurite, blob_container, tmp_path):
    write, match = CONTENT_VARIANTS[variant]
    write(tmp_path / "f")
    with _raw(azurite, blob_container) as raw:
        raw.upload_blob((tmp_path / "f").read_bytes())
    with _store(azurite, blob_container) as store, pytest.raises(CheckpointError) as exc:
        store.load()
    if variant == "empty file":
        # azure-storage-blob leaves the socket of its first, ranged GET of an empty blob (416) unclosed: an SDK
        # leak on this corrupt case only, collected here so that it is not reported against a later test.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
    assert re.search(match, str(exc.value))
    assert exc.value.path == f"devstoreaccount1/{blob_container}/cp.json"
    assert not isinstance(exc.value, CheckpointConflictError)


def test_at_least_30_blob_variants():
    assert len(CONTENT_VARIANTS) >= 30


def test_a_missing_container_is_a_checkpoint_error_not_a_new_stream(azurite):
    with _store(azurite, "no-such-container") as store:
        with pytest.raises(CheckpointError, match="container does not exist; create it first"):
            store.load()
        with pytest.raises(CheckpointError, match="container does not exist"):
            store.compare_and_swap(None, CP)


def test_the_blob_holds_the_file_stores_document(azurite, blob_container):
    with _store(azurite, blob_container) as store:
        version = store.compare_and_swap(None, CP)
        with _raw(azurite, blob_container) as raw:
            props = raw.get_blob_properties()
            body = raw.download_blob().readall()
    assert version == props.etag and props.content_settings.content_type == "application/json"
    assert body == b'{"version":1,"checkpoint":' + CP.dumps().encode() + b"}"


def test_a_retried_put_whose_first_attempt_landed_stands(azurite, blob_container, monkeypatch):
    # The Put reached the service but its answer was lost; the retry got 412: the blob is ours, not a conflict.
    store = _store(azurite, blob_container)
    v1 = store.compare_and_swap(None, CP)
    real = store._put

    def put_then_lose_the_answer(*args, **kw):
        real(*args, **kw)
        error = ResourceModifiedError("condition not met")
        error.status_code = 412
        raise error

    monkeypatch.setattr(store, "_put", put_then_lose_the_answer)
    v2 = store.compare_and_swap(v1, CP2)
    monkeypatch.undo()
    with _store(azurite, blob_container) as other:
        stored = other.load()
    assert (stored.version, stored.checkpoint) == (v2, CP2) and v2 != v1
    store.close()


def test_the_same_checkpoint_written_by_another_consumer_is_still_a_conflict(azurite, blob_container):
    # Two consumers that handled the same first item build identical checkpoints: only one commit may win.
    a, b = _store(azurite, blob_container), _store(azurite, blob_container)
    assert a.load() is None and b.load() is None
    version = a.compare_and_swap(None, CP)
    with pytest.raises(CheckpointConflictError) as exc:
        b.compare_and_swap(None, CP)
    assert (exc.value.expected, exc.value.actual) == (None, version)
    a.close()
    b.close()


def test_leases_one_owner_a_standby_waits_and_takes_over_on_release(azurite, blob_container):
    owner, standby = (
        _store(azurite, blob_container, lease_seconds=15),
        _store(azurite, blob_container, lease_seconds=15),
    )
    assert owner.load() is None  # the placeholder written to lease a stream with no checkpoint yet loads as none
    with pytest.raises(CheckpointConflictError, match="leased by another consumer"):
        standby.load()
    v1 = owner.compare_and_swap(None, CP)
    with pytest.raises(CheckpointConflictError):  # a standby cannot commit either
        standby.compare_and_swap(v1, CP2)
    owner.release()
    assert standby.load().version == v1  # took over at once
    with pytest.raises(CheckpointConflictError, match="leased by another consumer"):  # the old owner is fenced
        owner.compare_and_swap(v1, CP2)
    v2 = standby.compare_and_swap(v1, CP2)
    with _store(azurite, blob_container) as reader:  # reading needs no lease
        assert reader.load().version == v2
    owner.close()
    standby.close()


def test_a_lease_lost_between_renewals_fences_the_next_write(azurite, blob_container):
    owner = _store(azurite, blob_container, lease_seconds=15)
    v1 = owner.compare_and_swap(None, CP)
    with _raw(azurite, blob_container) as raw:  # the lease is broken behind the owner's back, another one taken
        BlobLeaseClient(raw, lease_id=owner._lease.lease_id).break_lease(lease_break_period=0)
        BlobLeaseClient(raw).acquire(lease_duration=15)
    with pytest.raises(CheckpointConflictError, match="leased by another consumer") as exc:
        owner.compare_and_swap(v1, CP2)  # the owner thinks its lease is fresh: the lease id on the Put says no
    assert (exc.value.expected, exc.value.actual) == (v1, v1)
    assert owner._lease.renewed_at is None  # it knows it lost the lease: the next load tries to acquire
    owner._client.close()


def test_keys_never_show_in_reprs_errors_or_logs(azurite, blob_container, caplog):
    caplog.set_level(logging.DEBUG)
    store = _store(azurite, blob_container, lease_seconds=15)
    assert repr(store) == f"BlobCheckpointStore('devstoreaccount1/{blob_container}/cp.json', lease_seconds=15)"
    store.compare_and_swap(store.load() and None, CP)
    wrong = azurite.connection_string.replace(KEY, "A" * 86 + "==")
    bad = BlobCheckpointStore.from_connection_string(wrong, blob_container, "cp.json")
    with pytest.raises(CheckpointError) as refused:
        bad.load()
    assert "Get Blob refused (403 " in str(refused.value)
    with pytest.raises(InvalidInputError) as malformed:
        BlobCheckpointStore.from_connection_string(f"AccountKey={KEY}", blob_container)
    with pytest.raises(CheckpointConflictError) as conflict:
        store.compare_and_swap(None, CP)
    texts = [repr(store), repr(bad), caplog.text]
    for exc in (refused.value, malformed.value, conflict.value):
        texts += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__), str(pickle.loads(pickle.dumps(exc)))]
    assert not [t for t in texts if KEY in t or KEY[:20] in t]
    store.close()
    bad.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"container": "Bad_Name"}, "container='Bad_Name': expected a container name"),
        ({"container": "ab"}, "container='ab'"),
        ({"blob": ""}, "blob='': expected a blob name"),
        ({"blob": "a/"}, "blob='a/'"),
        ({"blob": "a\x00b"}, "blob"),
        ({"lease_seconds": 10}, "lease_seconds=10: expected None .* from 15 to 60"),
        ({"lease_seconds": True}, "lease_seconds=True"),
        ({"lease_seconds": -1}, "lease_seconds=-1"),
        ({"account_url": "http://myaccount.blob.core.windows.net"}, "expected an https URL .*http only on loopback"),
        ({"account_url": "https://a.blob.core.windows.net/?sv=x&sig=SECRET"}, "a query or user part is not accepted"),
        ({"account_url": 7}, "account_url=7"),
    ],
)
def test_bad_arguments_are_invalid_input_before_any_request(kwargs, message):
    args = {"account_url": "https://myaccount.blob.core.windows.net", "container": "checkpoints", "blob": "x.json"}
    args.update(kwargs)
    url = args.pop("account_url")
    for cls in (BlobCheckpointStore, AsyncBlobCheckpointStore):
        with pytest.raises(InvalidInputError, match=message) as exc:
            cls(url, **args)
        assert "SECRET" not in str(exc.value)


@pytest.mark.parametrize(
    "value",
    ["", "not a connection string", 42, "BlobEndpoint=http://example.test/acct;AccountName=acct;AccountKey=SECRETKEY"],
)
def test_a_bad_connection_string_is_invalid_input_and_never_echoed(value):
    with pytest.raises(InvalidInputError, match=r"connection_string.*expected .*(connection string|https)") as exc:
        BlobCheckpointStore.from_connection_string(value, "checkpoints")
    assert "SECRETKEY" not in str(exc.value)


def test_the_name_imports_without_the_extra_and_using_it_names_the_extra():
    code = (
        "import sys\nsys.modules['azure.storage'] = None\nsys.modules['azure.storage.blob'] = None\n"
        "import m365sentinel\n"
        "from m365sentinel import BlobCheckpointStore, AsyncBlobCheckpointStore\n"
        "for cls in (BlobCheckpointStore, AsyncBlobCheckpointStore):\n"
        "    try:\n"
        "        cls.from_connection_string('UseDevelopmentStorage=true', 'checkpoints')\n"
        "    except m365sentinel.MissingExtraError as exc:\n"
        "        print(exc.extra, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == (
        "blob BlobCheckpointStore needs the 'blob' extra: pip install 'm365sentinel[blob]'\n"
        "blob AsyncBlobCheckpointStore needs the 'blob' extra: pip install 'm365sentinel[blob]'\n"
    )


def test_the_async_store_keeps_the_same_contract(azurite, blob_container):
    async def scenario():
        async with AsyncBlobCheckpointStore(
            azurite.account_url, blob_container, "cp.json", credential=azurite.credential
        ) as store:
            assert await store.load() is None
            v1 = await store.compare_and_swap(None, CP)
            assert (await store.load()).checkpoint == CP
            v2 = await store.compare_and_swap(v1, CP2)
            with pytest.raises(CheckpointConflictError) as exc:
                await store.compare_and_swap(v1, CP)
            assert (exc.value.expected, exc.value.actual) == (v1, v2)
            with pytest.raises(CheckpointConflictError):
                await store.compare_and_swap(None, CP)
        leased = [
            AsyncBlobCheckpointStore.from_connection_string(
                azurite.connection_string, blob_container, "leased.json", lease_seconds=15
            )
            for _ in range(2)
        ]
        assert await leased[0].load() is None
        with pytest.raises(CheckpointConflictError, match="leased by another consumer"):
            await leased[1].load()
        v = await leased[0].compare_and_swap(None, CP)
        await leased[0].close()  # releases the lease
        assert (await leased[1].load()).version == v
        assert await leased[1].compare_and_swap(v, CP2) != v
        await leased[1].close()
        return v2

    v2 = asyncio.run(scenario())
    with _store(azurite, blob_container) as store:
        assert store.load().version == v2


def test_a_stream_refuses_a_corrupt_blob_before_any_request(azurite, blob_container, connector, httpx_mock):
    with _raw(azurite, blob_container) as raw:
        raw.upload_blob(b'{"version": 1, "checkpoint": {"v": 99}}')
    with (
        _store(azurite, blob_container) as store,
        pytest.raises(CheckpointError, match="unknown checkpoint version 99"),
    ):
        next(iter(connector.incidents().since(store)))
    assert httpx_mock.get_requests() == []


def test_the_consumer_script_is_where_the_process_tests_expect_it():
    assert (Path(__file__).parent / "blob_consumer.py").is_file()
