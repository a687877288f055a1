"""m365sentinel.aio: the async face (Azure SDK convention: the same names, awaited).

``Connector`` (``await connector.plan()``, ``await plan.apply()``, ``status``, ``verify``, ``query``,
``disconnect``, ``list_tables``), ``Session`` (one pool and token cache for many connectors),
``Fleet`` (many workspaces at once), ``IncidentStream`` (``async for``, ``follow()``), incident handles and the
Defender (Graph) side. Credentials come from ``azure.identity.aio``; a sync credential is InvalidInputError.
Both faces drive one set of sans-IO flows (``m365sentinel._transport._flow``), so their requests, checks,
retries and errors are the same.
"""

from __future__ import annotations

from .._transport._aclient import AsyncHttpClient
from ._connector import Connector, Plan
from ._fleet import Fleet
from ._incidents import DefenderIncidents, IncidentHandle, IncidentRun, IncidentStream
from ._session import Session

__all__ = [
    "AsyncHttpClient",
    "Connector",
    "DefenderIncidents",
    "Fleet",
    "IncidentHandle",
    "IncidentRun",
    "IncidentStream",
    "Plan",
    "Session",
]
