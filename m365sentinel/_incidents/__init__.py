"""Incidents: ``IncidentStream`` (resumable streaming with alerts and entities), checkpoints and their stores,
the Defender XDR side over Graph, Sentinel ↔ Defender mapping, update/close, reconcile.

Modules, one responsibility each: ``_filters`` (OData rendering), ``_checkpoint`` (checkpoint value + watermark
rules), ``_stores`` (compare-and-swap stores), ``_blob``/``_blob_aio`` (the
Azure Blob Storage store, sync and async), ``_requests`` (request builders), ``_alerts`` (bulk-alert parsing),
``_stream`` (the ARM stream), ``_graph`` (Graph side), ``_mapping`` (portal mapping), ``_handle`` (one incident:
update/close), ``_reconcile`` (drift report).
"""

from __future__ import annotations

from ._blob import BlobCheckpointStore
from ._blob_aio import AsyncBlobCheckpointStore
from ._checkpoint import DEFAULT_LAG, Checkpoint
from ._filters import odata_string
from ._graph import DefenderIncidents
from ._handle import IncidentChange, IncidentHandle, UpdateResult
from ._mapping import CLOSE_REASONS
from ._reconcile import Drift, ReconcileReport
from ._stores import (
    CheckpointConflictError,
    CheckpointStore,
    FileCheckpointStore,
    MemoryCheckpointStore,
    SQLiteCheckpointStore,
    StoredCheckpoint,
)
from ._stream import IncidentRun, IncidentStream, StreamedIncident

__all__ = [
    "CLOSE_REASONS",
    "DEFAULT_LAG",
    "AsyncBlobCheckpointStore",
    "BlobCheckpointStore",
    "Checkpoint",
    "CheckpointConflictError",
    "CheckpointStore",
    "DefenderIncidents",
    "Drift",
    "FileCheckpointStore",
    "IncidentChange",
    "IncidentHandle",
    "IncidentRun",
    "IncidentStream",
    "MemoryCheckpointStore",
    "ReconcileReport",
    "SQLiteCheckpointStore",
    "StoredCheckpoint",
    "StreamedIncident",
    "UpdateResult",
    "odata_string",
]
