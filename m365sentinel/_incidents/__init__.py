"""Incidents: ``IncidentStream`` (resumable streaming with alerts and entities), checkpoints and their stores,
the Defender XDR side over Graph, Sentinel ↔ Defender mapping, update/close, reconcile.

Modules, one responsibility each: ``_filters`` (OData rendering), ``_checkpoint`` (checkpoint value + watermark
rules), ``_stores`` (compare-and-swap stores), ``_blob``/``_blob_aio`` (the
Azure Blob Storage store, sync and async), ``_requests`` (request builders), ``_alerts`` (bulk-alert parsing),
``_stream`` (the ARM stream), ``_graph`` (Graph side), ``_mapping`` (portal mapping), ``_handle`` (one incident:
update/close), ``_reconcile`` (drift report).
"""

from __future__ import annotations

from collections.abc import Callable as _Callable
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from .._lazy import lazy_exports as _lazy_exports

if _TYPE_CHECKING:
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

# Each module loads on first use: a stream's first request should not pay for the Blob store (azure-core's
# pipeline, ~25 ms), the Graph side or reconcile, which the floor it is measured against never loads (issue 17).
_WHERE = {
    "._blob": ("BlobCheckpointStore",),
    "._blob_aio": ("AsyncBlobCheckpointStore",),
    "._checkpoint": ("DEFAULT_LAG", "Checkpoint"),
    "._filters": ("odata_string",),
    "._graph": ("DefenderIncidents",),
    "._handle": ("IncidentChange", "IncidentHandle", "UpdateResult"),
    "._mapping": ("CLOSE_REASONS",),
    "._reconcile": ("Drift", "ReconcileReport"),
    "._stores": (
        "CheckpointConflictError",
        "CheckpointStore",
        "FileCheckpointStore",
        "MemoryCheckpointStore",
        "SQLiteCheckpointStore",
        "StoredCheckpoint",
    ),
    "._stream": ("IncidentRun", "IncidentStream", "StreamedIncident"),
}
__getattr__: _Callable[[str], _Any]
__dir__: _Callable[[], list[str]]
__getattr__, __dir__ = _lazy_exports(__name__, globals(), _WHERE)

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
