"""``BlobCheckpointStore``: the checkpoint as one JSON blob per stream in Azure Blob Storage (extra ``blob``).

The blob holds the file store's document, ``{"version": n, "checkpoint": {...}}``; the store version the stream
sees is the blob's ETag. Compare-and-swap is a conditional Put Blob (REST ``PUT {container}/{blob}``, the
storage api-version of the installed azure-storage-blob): ``If-None-Match: *`` when nothing was stored,
``If-Match: <etag read>`` after. A 409 or 412 is ``CheckpointConflictError``, unless the blob now holds exactly
what this store wrote (a retried Put whose first attempt landed): then that write stands.

Optional ownership (``lease_seconds``): ``load()`` acquires a blob lease (Lease Blob) or renews it once half of
it has passed, and every write carries the lease id, so only the owner can commit; another consumer's ``load()``
raises ``CheckpointConflictError`` until the lease lapses (the owner stopped renewing) and then takes over. To
lease a stream with no checkpoint yet, the store first writes the placeholder ``{"version": 0, "checkpoint":
null}``, which loads as "no checkpoint".

This module holds the I/O-free part shared with the async twin (``_blob_aio``): argument checks, the document,
the lease clock, and the mapping of storage errors; the stores are thin shells over azure-storage-blob.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import attrs
from azure.core.exceptions import AzureError

from .._errors import CheckpointConflictError, CheckpointError, InvalidInputError, MissingExtraError
from .._inputs import check_text
from ._checkpoint import Checkpoint
from ._stores import StoredCheckpoint, _bad, _check_swap, _conflict, _parse_document, _render_document

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient

__all__ = ["BlobCheckpointStore"]

LEASE_SECONDS = (15, 60)  # what Lease Blob accepts for a finite lease
_CONTAINER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_CONTENT_TYPE = "application/json"
WRITE_ID = "m365sentinelwrite"  # blob metadata: the id of the Put that wrote the blob


def azure_blob(feature: str = "BlobCheckpointStore") -> Any:
    """The azure.storage.blob package, or MissingExtraError naming the ``blob`` extra."""
    try:
        import azure.storage.blob as blob
    except ImportError as exc:
        raise MissingExtraError(feature, "blob", exc.name) from exc
    return blob


# --- I/O-free part, shared with the async store ----------------------------------------------------------------


@attrs.frozen
class Target:
    """Where the checkpoint lives; ``where`` names it in errors (account/container/blob, never a key or SAS)."""

    container: str
    blob: str
    lease_seconds: int | None

    def where(self, account: str | None) -> str:
        return f"{account or '?'}/{self.container}/{self.blob}"


def check_target(container: object, blob: object, lease_seconds: object) -> Target:
    """The store's arguments, checked before any request (InvalidInputError naming the bad value)."""
    if not isinstance(container, str) or not _CONTAINER.fullmatch(container):
        raise InvalidInputError(
            f"container={container!r}: expected a container name (3-63 lowercase letters, digits and single "
            "hyphens, starting and ending with a letter or digit)"
        )
    if not isinstance(blob, str) or not blob or len(blob) > 1024 or blob.endswith(("/", ".")):
        raise InvalidInputError(f"blob={blob!r}: expected a blob name (1-1024 characters, not ending in '/' or '.')")
    check_text(blob, "blob", expected="a blob name")
    low, high = LEASE_SECONDS
    if lease_seconds is not None and (
        isinstance(lease_seconds, bool) or not isinstance(lease_seconds, int) or not low <= lease_seconds <= high
    ):
        raise InvalidInputError(
            f"lease_seconds={lease_seconds!r}: expected None (no lease) or whole seconds from {low} to {high}"
        )
    return Target(container, blob, lease_seconds)


def check_account_url(account_url: object) -> str:
    """An https URL of the blob endpoint (plain http only on loopback, e.g. Azurite); no query (a SAS goes in
    ``credential``, so that it never shows in an error)."""
    expected = "an https URL of the blob endpoint, e.g. 'https://myaccount.blob.core.windows.net'"
    if not isinstance(account_url, str) or not account_url:
        raise InvalidInputError(f"account_url={account_url!r}: expected {expected}")
    check_text(account_url, "account_url", expected=expected)
    try:
        parts = urlsplit(account_url)
        host = parts.hostname
    except ValueError as exc:
        raise InvalidInputError(f"account_url: {exc}; expected {expected}") from None
    if parts.query or parts.username or parts.password:
        raise InvalidInputError(
            f"account_url: a query or user part is not accepted (pass a SAS as credential); expected {expected}"
        )
    if not host or not (parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK)):
        raise InvalidInputError(f"account_url={account_url!r}: expected {expected} (http only on loopback)")
    return account_url


@attrs.frozen
class Read:
    """The blob as last read or written: ``etag`` None when absent; ``stored`` None when absent or the
    placeholder; ``number`` the document's store version (0 for none); ``write_id`` the id of the Put that wrote
    it (blob metadata)."""

    etag: str | None
    number: int
    stored: StoredCheckpoint | None
    write_id: str | None = None

    @property
    def version(self) -> str | None:
        """The version the contract speaks of: the ETag of a stored checkpoint, else None."""
        return self.stored.version if self.stored else None


ABSENT = Read(None, 0, None)


def parse_blob(where: str, body: bytes, etag: str, write_id: str | None) -> Read:
    """A downloaded blob, checked like a checkpoint file (CheckpointError naming ``where``)."""
    stored = _parse_document(where, body)
    if stored is None:
        return Read(etag, 0, None, write_id)
    return Read(etag, int(stored.version), StoredCheckpoint(stored.checkpoint, etag), write_id)


def new_write_id() -> str:
    """Names one Put (its retries send the same): after a 409/412, a blob carrying it is this store's own write
    (its first attempt landed), not another consumer's, even with the same content."""
    return uuid.uuid4().hex


def next_body(current: Read, checkpoint: Checkpoint) -> bytes:
    return _render_document(current.number + 1, checkpoint)


def written(current: Read, write_id: str, checkpoint: Checkpoint, etag: str) -> Read:
    """The blob after this store's successful Put (the checkpoint copied, as the memory store does)."""
    stored = StoredCheckpoint(Checkpoint.from_json(checkpoint.to_json()), etag)
    return Read(etag, current.number + 1, stored, write_id)


PLACEHOLDER = _render_document(0, None)


@attrs.define
class LeaseClock:
    """When this store's lease must be acquired or renewed. Times are the caller's monotonic seconds, taken
    before the request (so the local view lapses no later than the service's)."""

    seconds: int
    lease_id: str = attrs.field(factory=lambda: str(uuid.uuid4()))
    renewed_at: float | None = None

    def action(self, now: float) -> str:
        """``"acquire"`` (not held, or lapsed), ``"renew"`` (half of it passed) or ``"none"``."""
        if self.renewed_at is None or now - self.renewed_at >= self.seconds:
            return "acquire"
        return "renew" if now - self.renewed_at >= self.seconds / 2 else "none"

    def held(self, now: float) -> None:
        self.renewed_at = now

    def lost(self) -> None:
        self.renewed_at = None


def status_of(exc: BaseException) -> tuple[int | None, str | None]:
    """(HTTP status, storage error code) of an azure-core error; (None, None) without a response."""
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None)
    code = getattr(code, "value", code)  # a StorageErrorCode member, or the header's text
    return (status if isinstance(status, int) else None), (str(code) if code else None)


def is_conflict(exc: BaseException) -> bool:
    return status_of(exc)[0] in (409, 412)


def absent(exc: BaseException) -> bool:
    """A 404 for the blob (not for its container: that one is the caller's to create)."""
    status, code = status_of(exc)
    return status == 404 and code != "ContainerNotFound"


def lease_error(exc: BaseException) -> bool:
    return (status_of(exc)[1] or "").startswith("Lease")


def failure(where: str, doing: str, exc: BaseException) -> CheckpointError:
    """A storage failure as CheckpointError naming the blob: status and error code only (the service's message
    and the request are left out: they may carry the URL, and the caller's SAS with it)."""
    status, code = status_of(exc)
    if code == "ContainerNotFound":
        return _bad(where, "container does not exist; create it first (a typo must not start a new stream)")
    if status is None:
        return _bad(where, f"{doing} failed: {type(exc).__name__} (no response from the storage service)")
    if status in (401, 403):
        return _bad(where, f"{doing} refused ({status} {code}): check the credential and its role on the container")
    return _bad(where, f"{doing} failed ({status} {code})")


def lease_lost(where: str, expected: str | None, actual: str | None) -> CheckpointConflictError:
    return CheckpointConflictError(
        f"blob {where!r}: leased by another consumer (or this store's lease lapsed and was taken); wait and reload: "
        "the lease frees once its owner stops renewing it",
        expected=expected,
        actual=actual,
        path=where,
    )


def conflict(where: str, expected: str | None, actual: str | None) -> CheckpointConflictError:
    return _conflict(expected, actual, where)


class BlobStoreShell:
    """The constructors and state both blob stores share: a face names its ``BlobClient`` class (sync or
    ``aio``) and its lock (``threading`` or ``asyncio``)."""

    _lock: Any

    @staticmethod
    def _blob_client_class() -> Any:
        raise NotImplementedError

    @staticmethod
    def _new_lock() -> Any:
        raise NotImplementedError

    def __init__(
        self,
        account_url: str,
        container: str,
        blob: str = "incidents.checkpoint.json",
        *,
        credential: Any = None,
        lease_seconds: int | None = None,
    ) -> None:
        target = check_target(container, blob, lease_seconds)
        url = check_account_url(account_url)
        self._setup(client_from_url(self._blob_client_class(), url, target, credential), target)

    @classmethod
    def from_connection_string(
        cls,
        connection_string: str,
        container: str,
        blob: str = "incidents.checkpoint.json",
        *,
        lease_seconds: int | None = None,
    ) -> Self:
        """A store from a storage connection string (``AccountName=...;AccountKey=...`` or with ``BlobEndpoint=``,
        e.g. Azurite's); the string is never echoed in errors. Raises InvalidInputError, MissingExtraError."""
        target = check_target(container, blob, lease_seconds)
        client = client_from_connection_string(cls._blob_client_class(), connection_string, target)
        store = cls.__new__(cls)
        store._setup(client, target)
        return store

    def _setup(self, client: Any, target: Target) -> None:
        self._client = client
        self._target = target
        self._where = target.where(client.account_name)
        self._lock = self._new_lock()
        self._last: Read | None = None
        self._lease = LeaseClock(target.lease_seconds) if target.lease_seconds else None
        self._clock: Callable[[], float] = time.monotonic

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._where!r}, lease_seconds={self._target.lease_seconds})"


# --- the synchronous store ---------------------------------------------------------------------------------------


class BlobCheckpointStore(BlobStoreShell):
    """A checkpoint as one JSON blob (``{"version": n, "checkpoint": {...}}``) in Azure Blob Storage, swapped with
    a conditional Put Blob; the version is the blob's ETag. Needs the ``blob`` extra (azure-storage-blob).

    ::

        store = BlobCheckpointStore(
            "https://myaccount.blob.core.windows.net", "checkpoints", "incidents.json",
            credential=DefaultAzureCredential(), lease_seconds=30,
        )
        # or BlobCheckpointStore.from_connection_string(conn_str, "checkpoints", "incidents.json")

    Parameters: ``account_url`` (https; http only on loopback), ``container`` (must exist: nothing is created
    but the blob), ``blob`` (one per stream), ``credential`` (an azure-identity credential, a SAS string, an
    ``AzureNamedKeyCredential``, anything azure-storage-blob takes), ``lease_seconds`` (None: compare-and-swap
    only; 15-60: one owner at a time through a blob lease, see ``load``).

    Guarantees. Without a lease: no commit is lost or applied twice; two active consumers may both handle one
    change (the loser's commit raises ``CheckpointConflictError``; it reloads and goes on past what the winner
    committed). With a lease: one active consumer; a standby's ``load()`` raises ``CheckpointConflictError``
    until the owner has not renewed for ``lease_seconds``, then takes over; a consumer that lost its lease cannot
    commit (its write carries the old lease id: ``CheckpointConflictError``).

    Errors: ``CheckpointError`` naming ``account/container/blob`` for a missing container, refused credentials,
    an unreachable service, a corrupt blob; ``CheckpointConflictError`` as above; ``InvalidInputError`` for bad
    arguments (before any request); ``MissingExtraError`` without the extra. Keys and SAS tokens never appear
    in reprs or errors. Requests: Get Blob, Put Blob, Lease Blob (acquire, renew, release), with azure-storage-
    blob's own retry policy.
    """

    _lock: threading.Lock
    _client: BlobClient

    @staticmethod
    def _blob_client_class() -> Any:
        return azure_blob().BlobClient

    @staticmethod
    def _new_lock() -> threading.Lock:
        return threading.Lock()

    def load(self) -> StoredCheckpoint | None:
        """The stored checkpoint (None: none yet), after making sure of the lease in lease mode (acquire, or
        renew when half of it passed; ``CheckpointConflictError`` while another consumer holds it)."""
        with self._lock:
            self._own()
            self._last = self._read()
            return self._last.stored

    def compare_and_swap(self, expected_version: str | None, checkpoint: Checkpoint) -> str:
        """Store ``checkpoint`` if the blob still is at ``expected_version`` (an ETag this store returned, or None
        for none stored); returns the new ETag. ``CheckpointConflictError`` otherwise, the blob unchanged."""
        _check_swap(expected_version, checkpoint)
        with self._lock:
            self._own()
            last = self._last
            current = last if last is not None and last.version == expected_version else self._read()
            if current.version != expected_version:
                raise conflict(self._where, expected_version, current.version)
            body, write_id = next_body(current, checkpoint), new_write_id()
            try:
                etag = self._put(body, current.etag, write_id)
            except AzureError as exc:
                if not is_conflict(exc):
                    raise failure(self._where, "Put Blob", exc) from None
                now = self._read()
                if now.etag is not None and now.write_id == write_id:  # a retried Put whose first attempt landed
                    self._last = now
                    return now.etag
                self._last = now
                if lease_error(exc) and self._lease is not None:
                    self._lease.lost()
                    raise lease_lost(self._where, expected_version, now.version) from None
                raise conflict(self._where, expected_version, now.version) from None
            self._last = written(current, write_id, checkpoint, etag)
            return etag

    def release(self) -> None:
        """Give up the lease now (a standby may take over at once); no-op without one. Idempotent."""
        with self._lock:
            if self._lease is None or self._lease.renewed_at is None:
                return
            self._lease.lost()
            try:
                self._lease_client().release()
            except AzureError as exc:
                if not is_conflict(exc):  # already lapsed and taken: nothing of ours to release
                    raise failure(self._where, "Lease Blob (release)", exc) from None

    def close(self) -> None:
        """Release the lease (if held) and close the HTTP session. Idempotent."""
        try:
            self.release()
        finally:
            close: Any = self._client.close  # typed only from azure-storage-blob 12.19 on
            close()

    def __enter__(self) -> BlobCheckpointStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # I/O shells

    def _read(self) -> Read:
        try:
            downloader = self._client.download_blob()
            body = downloader.readall()
        except AzureError as exc:
            if absent(exc):
                return ABSENT
            raise failure(self._where, "Get Blob", exc) from None
        properties: Any = downloader.properties  # Optional in the 12.18 stubs; set once the download succeeded
        return parse_blob(self._where, body, properties.etag, (properties.metadata or {}).get(WRITE_ID))

    def _put(self, body: bytes, etag: str | None, write_id: str, *, leased: bool = True) -> str:
        lease_id = self._lease.lease_id if self._lease is not None and leased else None
        result = self._client.upload_blob(body, **put_options(body, etag, lease_id, write_id))
        return str(result["etag"])

    def _lease_client(self) -> Any:
        assert self._lease is not None
        return azure_blob().BlobLeaseClient(self._client, lease_id=self._lease.lease_id)

    def _own(self) -> None:
        lease = self._lease
        if lease is None:
            return
        now = self._clock()
        action = lease.action(now)
        if action == "none":
            return
        if action == "acquire":
            lease.lost()
            self._create_placeholder()
        try:
            client = self._lease_client()
            client.renew() if action == "renew" else client.acquire(lease_duration=lease.seconds)
        except AzureError as exc:
            if not is_conflict(exc):
                raise failure(self._where, f"Lease Blob ({action})", exc) from None
            lease.lost()
            raise lease_lost(self._where, None, None) from None
        lease.held(now)

    def _create_placeholder(self) -> None:
        """The lease needs a blob: write the placeholder unless one exists (a 409/412 says it does)."""
        try:
            self._put(PLACEHOLDER, None, new_write_id(), leased=False)
        except AzureError as exc:
            if not is_conflict(exc):
                raise failure(self._where, "Put Blob (placeholder)", exc) from None


def put_options(body: bytes, etag: str | None, lease_id: str | None, write_id: str) -> dict[str, Any]:
    """Keyword arguments of ``upload_blob`` for a conditional Put Blob of ``body`` (one request: the body is far
    below the single-put size)."""
    from azure.core import MatchConditions

    options: dict[str, Any] = {
        "overwrite": True,
        "length": len(body),
        "content_settings": azure_blob().ContentSettings(content_type=_CONTENT_TYPE),
        "metadata": {WRITE_ID: write_id},
    }
    if etag is None:
        options["match_condition"] = MatchConditions.IfMissing  # If-None-Match: *
    else:
        options["etag"] = etag
        options["match_condition"] = MatchConditions.IfNotModified  # If-Match: <etag>
    if lease_id is not None:
        options["lease"] = lease_id
    return options


def client_from_url(factory: Any, account_url: str, target: Target, credential: Any) -> Any:
    """``factory(account_url, container, blob, credential=)``; a URL the SDK refuses is InvalidInputError."""
    try:
        return factory(account_url, target.container, target.blob, credential=credential)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"account_url={account_url!r} or credential refused by azure-storage-blob: {exc}"
        ) from None


def client_from_connection_string(factory: Any, connection_string: object, target: Target) -> Any:
    """``factory.from_connection_string`` with the string checked; errors never echo it (it holds the key)."""
    expected = "a storage connection string ('AccountName=...;AccountKey=...' or with 'BlobEndpoint=...')"
    if not isinstance(connection_string, str) or "=" not in connection_string:
        shown = type(connection_string).__name__ if not isinstance(connection_string, str) else "a str without '='"
        raise InvalidInputError(f"connection_string ({shown}): expected {expected}")
    try:
        client = factory.from_connection_string(connection_string, target.container, target.blob)
    except Exception:  # the SDK's parser: ValueError mostly, whatever else a malformed string provokes
        raise InvalidInputError(
            f"connection_string (not shown: it may hold a key) is malformed: expected {expected}"
        ) from None
    scheme = urlsplit(client.url).scheme
    host = client.primary_hostname.split(":")[0]
    if scheme != "https" and host not in _LOOPBACK:
        client.close()
        raise InvalidInputError(
            f"connection_string: endpoint {host!r} over {scheme}: expected https (http only on loopback)"
        )
    return client
