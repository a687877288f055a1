"""m365sentinel: connect Microsoft 365 Defender (Defender XDR) to Microsoft Sentinel and operate that link from code.

The public surface is this module (``__all__``); submodules with a leading underscore are private.
``m365sentinel.kql`` is the KQL builder, ``m365sentinel.models`` the typed models, ``m365sentinel.emulator`` the
offline emulator (imported only when used).
"""

from __future__ import annotations

import importlib
from contextlib import suppress as _suppress
from typing import TYPE_CHECKING as _TYPE_CHECKING

from ._api_versions import ApiVersions
from ._connector import Connector, ConnectorStatus, DisconnectResult, RuleStatus
from ._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    CheckpointConflictError,
    CheckpointError,
    ClientClosedError,
    ConflictError,
    ConnectError,
    ConsentRequiredError,
    CredentialError,
    EventLoopError,
    FleetIncidentsError,
    InvalidInputError,
    MissingExtraError,
    NotFoundError,
    PartialApplyError,
    PermissionDeniedError,
    PreconditionFailedError,
    PreflightError,
    QueryError,
    QueryLimitError,
    RateLimitedError,
    RequestTimeout,
    SentinelError,
    SerializationError,
    ServerError,
    StalePlanError,
    TransportError,
    UnsafeRequestError,
    UnsupportedApiVersionError,
    UnsupportedCloudError,
)
from ._ids import WorkspaceId
from ._providers import ProviderNames, provider_names
from ._session import Session
from ._transport import Audience, Cloud, RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "APIStatusError",
    "Action",
    "AnalyticsRule",
    "ApiVersions",
    "ApplyResult",
    "AsyncBlobCheckpointStore",
    "Audience",
    "AuthenticationError",
    "BadRequestError",
    "BlobCheckpointStore",
    "Change",
    "ChartsUnavailableError",
    "Checkpoint",
    "CheckpointConflictError",
    "CheckpointError",
    "CheckpointStore",
    "ClientClosedError",
    "Cloud",
    "ConflictError",
    "ConnectError",
    "Connector",
    "ConnectorStatus",
    "ConsentRequiredError",
    "CredentialError",
    "DefenderIncidents",
    "DisconnectResult",
    "EntitySync",
    "EventLoopError",
    "FieldChange",
    "FileCheckpointStore",
    "Fleet",
    "FleetIncident",
    "FleetIncidentRun",
    "FleetIncidents",
    "FleetIncidentsError",
    "FleetQueryResult",
    "FleetReport",
    "FleetTarget",
    "HuntingTable",
    "IncidentHandle",
    "IncidentRun",
    "IncidentStream",
    "InvalidInputError",
    "ManualStep",
    "MemoryCheckpointStore",
    "MissingExtraError",
    "NotFoundError",
    "PartialApplyError",
    "PermissionDeniedError",
    "Plan",
    "PreconditionFailedError",
    "PreflightError",
    "Prerequisite",
    "ProviderNames",
    "QueryBatch",
    "QueryError",
    "QueryLimitError",
    "QueryResult",
    "RateLimitedError",
    "ReconcileReport",
    "RequestTimeout",
    "RetryPolicy",
    "RuleStatus",
    "RuleTemplate",
    "SQLiteCheckpointStore",
    "SampleQuery",
    "SentinelError",
    "SerializationError",
    "ServerError",
    "Session",
    "StalePlanError",
    "StreamedIncident",
    "TableIngestion",
    "TimeSeries",
    "TransportError",
    "UnsafeRequestError",
    "UnsupportedApiVersionError",
    "UnsupportedCloudError",
    "UpdateResult",
    "Verdict",
    "VerificationLine",
    "VerificationReport",
    "WorkspaceId",
    "WorkspaceQueryResult",
    "WorkspaceResult",
    "__version__",
    "kql",
    "models",
    "parse_workspaces",
    "provider_names",
    "sample_queries",
    "write_png",
    "write_svg",
]

if _TYPE_CHECKING:
    from . import kql, models
    from ._charts import ChartsUnavailableError, write_png, write_svg
    from ._content import AnalyticsRule, RuleTemplate, SampleQuery, sample_queries
    from ._entities import EntitySync, Prerequisite
    from ._fleet import Fleet, FleetReport, FleetTarget, WorkspaceResult, parse_workspaces
    from ._fleet_incidents import FleetIncident, FleetIncidentRun, FleetIncidents
    from ._fleet_query import FleetQueryResult, QueryBatch, WorkspaceQueryResult
    from ._hunting import HuntingTable, TableIngestion
    from ._incidents import (
        AsyncBlobCheckpointStore,
        BlobCheckpointStore,
        Checkpoint,
        CheckpointStore,
        DefenderIncidents,
        FileCheckpointStore,
        IncidentHandle,
        IncidentRun,
        IncidentStream,
        MemoryCheckpointStore,
        ReconcileReport,
        SQLiteCheckpointStore,
        StreamedIncident,
        UpdateResult,
    )
    from ._plan import Action, ApplyResult, Change, FieldChange, ManualStep, Plan
    from ._verify import Verdict, VerificationLine, VerificationReport
    from .models import QueryResult, TimeSeries

# The KQL builder, the models and the plan machinery load on first use (``m365sentinel.kql``, ``from m365sentinel
# import QueryResult``): attrs builds every class at import time, and a script needs few of them.
_LAZY = {
    "kql": None,
    "models": None,
    "QueryResult": ".models",
    "TimeSeries": ".models",
    "HuntingTable": "._hunting",
    "TableIngestion": "._hunting",
    "EntitySync": "._entities",
    "Prerequisite": "._entities",
    "Verdict": "._verify",
    "VerificationLine": "._verify",
    "VerificationReport": "._verify",
    "IncidentStream": "._incidents",
    "StreamedIncident": "._incidents",
    "IncidentRun": "._incidents",
    "IncidentHandle": "._incidents",
    "UpdateResult": "._incidents",
    "Checkpoint": "._incidents",
    "CheckpointStore": "._incidents",
    "MemoryCheckpointStore": "._incidents",
    "FileCheckpointStore": "._incidents",
    "SQLiteCheckpointStore": "._incidents",
    "BlobCheckpointStore": "._incidents",
    "AsyncBlobCheckpointStore": "._incidents",
    "DefenderIncidents": "._incidents",
    "ReconcileReport": "._incidents",
    "AnalyticsRule": "._content",
    "RuleTemplate": "._content",
    "SampleQuery": "._content",
    "sample_queries": "._content",
    "ChartsUnavailableError": "._charts",
    "write_png": "._charts",
    "write_svg": "._charts",
    "Fleet": "._fleet",
    "FleetReport": "._fleet",
    "FleetIncident": "._fleet_incidents",
    "FleetIncidentRun": "._fleet_incidents",
    "FleetIncidents": "._fleet_incidents",
    "FleetTarget": "._fleet",
    "WorkspaceResult": "._fleet",
    "parse_workspaces": "._fleet",
    "FleetQueryResult": "._fleet_query",
    "WorkspaceQueryResult": "._fleet_query",
    "QueryBatch": "._fleet_query",
    "Action": "._plan",
    "ApplyResult": "._plan",
    "Change": "._plan",
    "FieldChange": "._plan",
    "ManualStep": "._plan",
    "Plan": "._plan",
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    source = _LAZY[name]
    value = (
        importlib.import_module(f".{name}", __name__)
        if source is None
        else getattr(importlib.import_module(source, __name__), name)
    )
    globals()[name] = value
    return value


# Exported objects report the package as their home (tracebacks and reprs show m365sentinel.X, not a private module).
for _name in set(__all__) - set(_LAZY):
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("m365sentinel._"):
        with _suppress(AttributeError, TypeError):  # functions and classes accept it; other objects are skipped
            _obj.__module__ = __name__
del _name, _obj
