"""``AsyncBlobCheckpointStore``: ``BlobCheckpointStore`` over ``azure.storage.blob.aio`` (extra ``blob``, whose
``aio`` part brings aiohttp). The same decisions, from ``_blob``; only the I/O differs."""

from __future__ import annotations

import asyncio
from typing import Any

from azure.core.exceptions import AzureError

from .._errors import MissingExtraError
from ._blob import (
    ABSENT,
    PLACEHOLDER,
    WRITE_ID,
    BlobStoreShell,
    Read,
    absent,
    azure_blob,
    conflict,
    failure,
    is_conflict,
    lease_error,
    lease_lost,
    new_write_id,
    next_body,
    parse_blob,
    put_options,
    written,
)
from ._checkpoint import Checkpoint
from ._stores import StoredCheckpoint, _check_swap

__all__ = ["AsyncBlobCheckpointStore"]


def _aio(feature: str = "AsyncBlobCheckpointStore") -> Any:
    azure_blob(feature)
    try:
        import azure.storage.blob.aio as aio
    except ImportError as exc:  # aiohttp missing: the extra installs it
        raise MissingExtraError(feature, "blob", exc.name) from exc
    return aio


class AsyncBlobCheckpointStore(BlobStoreShell):
    """``BlobCheckpointStore`` with ``async def`` methods (``load``, ``compare_and_swap``, ``release``,
    ``close``; ``async with``), over ``azure.storage.blob.aio``. Same arguments, blob document, compare-and-swap,
    lease rules, guarantees and errors as the sync store; pass an async credential (``azure.identity.aio``).
    One store per event loop; its methods are serialised by an ``asyncio.Lock``."""

    _lock: asyncio.Lock

    @staticmethod
    def _blob_client_class() -> Any:
        return _aio().BlobClient

    @staticmethod
    def _new_lock() -> asyncio.Lock:
        return asyncio.Lock()

    async def load(self) -> StoredCheckpoint | None:
        """As ``BlobCheckpointStore.load``."""
        async with self._lock:
            await self._own()
            self._last = await self._read()
            return self._last.stored

    async def compare_and_swap(self, expected_version: str | None, checkpoint: Checkpoint) -> str:
        """As ``BlobCheckpointStore.compare_and_swap``."""
        _check_swap(expected_version, checkpoint)
        async with self._lock:
            await self._own()
            last = self._last
            current = last if last is not None and last.version == expected_version else await self._read()
            if current.version != expected_version:
                raise conflict(self._where, expected_version, current.version)
            body, write_id = next_body(current, checkpoint), new_write_id()
            try:
                etag = await self._put(body, current.etag, write_id)
            except AzureError as exc:
                if not is_conflict(exc):
                    raise failure(self._where, "Put Blob", exc) from None
                now = await self._read()
                self._last = now
                if now.etag is not None and now.write_id == write_id:  # a retried Put whose first attempt landed
                    return now.etag
                if lease_error(exc) and self._lease is not None:
                    self._lease.lost()
                    raise lease_lost(self._where, expected_version, now.version) from None
                raise conflict(self._where, expected_version, now.version) from None
            self._last = written(current, write_id, checkpoint, etag)
            return etag

    async def release(self) -> None:
        """As ``BlobCheckpointStore.release``."""
        async with self._lock:
            if self._lease is None or self._lease.renewed_at is None:
                return
            self._lease.lost()
            try:
                await self._lease_client().release()
            except AzureError as exc:
                if not is_conflict(exc):
                    raise failure(self._where, "Lease Blob (release)", exc) from None

    async def close(self) -> None:
        """Release the lease (if held) and close the HTTP session. Idempotent."""
        try:
            await self.release()
        finally:
            await self._client.close()

    async def __aenter__(self) -> AsyncBlobCheckpointStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # I/O shells

    async def _read(self) -> Read:
        try:
            downloader = await self._client.download_blob()
            body = await downloader.readall()
        except AzureError as exc:
            if absent(exc):
                return ABSENT
            raise failure(self._where, "Get Blob", exc) from None
        properties = downloader.properties
        return parse_blob(self._where, body, properties.etag, (properties.metadata or {}).get(WRITE_ID))

    async def _put(self, body: bytes, etag: str | None, write_id: str, *, leased: bool = True) -> str:
        lease_id = self._lease.lease_id if self._lease is not None and leased else None
        result = await self._client.upload_blob(body, **put_options(body, etag, lease_id, write_id))
        return str(result["etag"])

    def _lease_client(self) -> Any:
        assert self._lease is not None
        return _aio().BlobLeaseClient(self._client, lease_id=self._lease.lease_id)

    async def _own(self) -> None:
        lease = self._lease
        if lease is None:
            return
        now = self._clock()
        action = lease.action(now)
        if action == "none":
            return
        if action == "acquire":
            lease.lost()
            try:
                await self._put(PLACEHOLDER, None, new_write_id(), leased=False)
            except AzureError as exc:
                if not is_conflict(exc):
                    raise failure(self._where, "Put Blob (placeholder)", exc) from None
        try:
            client = self._lease_client()
            await (client.renew() if action == "renew" else client.acquire(lease_duration=lease.seconds))
        except AzureError as exc:
            if not is_conflict(exc):
                raise failure(self._where, f"Lease Blob ({action})", exc) from None
            lease.lost()
            raise lease_lost(self._where, None, None) from None
        lease.held(now)
