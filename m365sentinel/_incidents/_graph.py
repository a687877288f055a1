"""The Defender XDR side over Microsoft Graph: ``/security/incidents`` (optionally with alerts) and
``/security/alerts_v2``, paged with ``@odata.nextLink`` until the ``$top + $skip`` limit, then by a cursor.

Graph's nextLink pages by a growing ``$skip`` and the service rejects ``$top + $skip`` above 6,000 (case B4).
Before following a link that would cross it, the listing restarts with ``lastUpdateDateTime ge <last seen>``
(ordered ascending) and skips, at that boundary, the items it already yielded. Every request carries
``Prefer: include-unknown-enum-members`` (case D1), so ``awaitingAction`` and other new values arrive as typed
unknown members instead of ``unknownFutureValue``.

Completeness with ``with_alerts``: an expanded ``alerts`` collection that carries ``alerts@odata.nextLink`` is
followed to its end (same ``Pager`` rules as every list) before the incident is yielded. When the ``$expand``
request itself fails (a 5xx after the retries, or a 400), the listing restarts from its current cursor without
``$expand`` (items already yielded are skipped) and each incident's alerts come from
``GET /security/alerts_v2?$filter=incidentId eq '<id>'`` instead; alerts of another incident in that answer (a
service ignoring the filter) are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .._errors import BadRequestError, InvalidInputError, SerializationError, ServerError
from .._inputs import check_json
from .._transport import Pager, RequestSpec, next_link_of
from ..models import GraphAlert, GraphIncident
from ..models._time import parse_datetime
from ._filters import render_graph_cursor_filter
from ._requests import GRAPH_SKIP_LIMIT, IncidentRequests

__all__ = ["DefenderIncidents", "crosses_skip_limit"]

LOGGER = logging.getLogger("m365sentinel")
_ALERTS_LINK = "alerts@odata.nextLink"


def crosses_skip_limit(next_link: str, limit: int = GRAPH_SKIP_LIMIT) -> bool:
    """True when following ``next_link`` would ask for ``$top + $skip`` above ``limit`` (pure)."""
    params = dict(parse_qsl(urlsplit(next_link).query))
    try:
        top = int(params.get("$top", "0"))
        skip = int(params.get("$skip", "0"))
    except ValueError:
        return False
    return top + skip > limit


class DefenderIncidents:
    """Graph security incidents and alerts of the workspace's tenant (token audience: Microsoft Graph)."""

    def __init__(self, session: Any, *, page_size: int = 50, skip_limit: int = GRAPH_SKIP_LIMIT) -> None:
        if not isinstance(page_size, int) or not 1 <= page_size <= 1000:
            raise InvalidInputError(f"page_size={page_size!r}: expected an integer from 1 to 1000")
        self._session = session
        self._reqs = IncidentRequests(session.routes)
        self._page = page_size
        self._limit = skip_limit

    def incidents(self, *, since: datetime | None = None, with_alerts: bool = False) -> Iterator[GraphIncident]:
        """Incidents updated at or after ``since`` (all when None), oldest update first, each once.

        GET /v1.0/security/incidents?$filter=lastUpdateDateTime ge ...&$orderby=lastUpdateDateTime asc&$top=N
        [&$expand=alerts]. Raises APIStatusError subclasses, TransportError, SerializationError."""
        for item in self._iterate("incidents", since, with_alerts):
            yield GraphIncident.from_json(item)

    def alerts(self, *, since: datetime | None = None) -> Iterator[GraphAlert]:
        """Alerts (``/security/alerts_v2``) updated at or after ``since``, oldest update first, each once."""
        for item in self._iterate("alerts_v2", since, False):
            yield GraphAlert.from_json(item)

    def get(self, incident_id: str, *, with_alerts: bool = False) -> GraphIncident:
        """GET /v1.0/security/incidents/{id}[?$expand=alerts] (an ``alerts@odata.nextLink`` followed to its end)."""
        spec = self._reqs.graph_get(incident_id, expand_alerts=with_alerts)
        item = self._session.http.send_json(spec)
        if with_alerts:
            self._complete_alerts(spec, item)
        return GraphIncident.from_json(item)

    def patch(self, incident_id: str, body: Mapping[str, Any]) -> GraphIncident:
        """PATCH /v1.0/security/incidents/{id} with ``body`` (assignedTo, classification, determination, status,
        customTags), then GET it back: the API has no etag, so the re-read is what the caller compares."""
        if not isinstance(body, Mapping):
            raise InvalidInputError(f"body={body!r}: expected a mapping of Graph incident fields (status, ...)")
        if not body:
            raise InvalidInputError("nothing to change: the PATCH body is empty")
        check_json(body, "body")
        self._session.http.send_json(self._reqs.graph_patch(incident_id, body))
        return self.get(incident_id)

    def _iterate(self, collection: str, since: datetime | None, expand: bool) -> Iterator[dict[str, Any]]:
        http = self._session.http
        cursor = since
        by_incident = False  # alerts fetched per incident (after a failed $expand)
        yielded: dict[str, str] = {}  # id -> lastUpdateDateTime text, for de-duplication at a cursor boundary
        while True:
            first = self._reqs.graph_list(
                collection, filter=render_graph_cursor_filter(cursor), top=self._page, expand_alerts=expand
            )
            pager = Pager(first, link_key="@odata.nextLink")
            spec: RequestSpec | None = first
            last_seen: datetime | None = None
            progressed = False
            crossed = False
            while spec is not None:
                try:
                    page = http.send_json(spec)
                except (ServerError, BadRequestError) as exc:
                    if not expand:
                        raise
                    LOGGER.warning(
                        "Graph %s with $expand=alerts failed (%s); listing without $expand, alerts per incident",
                        collection,
                        type(exc).__name__,
                    )
                    expand, by_incident = False, True
                    break
                values = page.get("value") if isinstance(page, dict) else None
                if not isinstance(values, list):
                    raise SerializationError(f"Graph {collection} page has no 'value' array")
                link = next_link_of(page, "@odata.nextLink")
                for item in values:
                    ident, updated = str(item.get("id")), str(item.get("lastUpdateDateTime"))
                    if yielded.get(ident) == updated:
                        continue
                    if expand:
                        self._complete_alerts(spec, item)
                    elif by_incident:
                        item["alerts"] = self._alerts_of(ident)
                    yielded[ident] = updated
                    progressed = True
                    if item.get("lastUpdateDateTime"):
                        last_seen = parse_datetime(item["lastUpdateDateTime"])
                    yield item
                if link is not None and crosses_skip_limit(link, self._limit):
                    crossed = True
                    break
                spec = pager.follow(page)
            else:
                return  # the last page had no link: done
            if not crossed:
                continue  # $expand failed: the same window again without it; what was yielded is skipped
            if last_seen is None or last_seen == cursor:
                if progressed and last_seen is None:
                    raise SerializationError(
                        f"Graph {collection}: the items before the $top + $skip limit have no lastUpdateDateTime; "
                        "cannot page on"
                    )
                # The full window read from the cursor holds only items updated at the cursor: a restart from the
                # same time would read the same window again.
                window = self._page * max(1, self._limit // self._page)
                raise SerializationError(
                    f"Graph {collection}: {window} or more items share lastUpdateDateTime {cursor}, as many as one "
                    f"$top + $skip window holds (limit {self._limit}); cannot page on"
                )
            # Restart from the last update seen; the boundary items already yielded are skipped above.
            cursor = last_seen
            yielded = {i: t for i, t in yielded.items() if _at_or_after(t, last_seen)}

    def _complete_alerts(self, spec: RequestSpec, item: Any) -> None:
        """Follow an expanded ``alerts`` collection's ``alerts@odata.nextLink`` to its end, in place (``spec``: the
        request that returned ``item``)."""
        if not isinstance(item, dict) or next_link_of(item, _ALERTS_LINK) is None:
            return
        alerts = item.get("alerts")
        if not isinstance(alerts, list):
            raise SerializationError(f"Graph incident {item.get('id')!r}: 'alerts' is not an array")
        pager = Pager(spec, link_key=_ALERTS_LINK, items_key="alerts")
        following = pager.follow(item)
        pager = pager.continued(link_key="@odata.nextLink", items_key="value")
        rest: list[Any] = []
        while following is not None:
            page = self._session.http.send_json(following)
            values = page.get("value") if isinstance(page, dict) else None
            if not isinstance(values, list):
                raise SerializationError(f"Graph incident {item.get('id')!r}: an alerts page has no 'value' array")
            rest.extend(values)
            following = pager.follow(page)
        item["alerts"] = alerts + rest
        del item[_ALERTS_LINK]

    def _alerts_of(self, incident_id: str) -> list[dict[str, Any]]:
        """GET /security/alerts_v2?$filter=incidentId eq '<id>', every page; alerts of another incident dropped."""
        first = self._reqs.graph_alerts_of(incident_id, top=self._page)
        pager = Pager(first, link_key="@odata.nextLink")
        spec: RequestSpec | None = first
        out: list[dict[str, Any]] = []
        while spec is not None:
            page = self._session.http.send_json(spec)
            values = page.get("value") if isinstance(page, dict) else None
            if not isinstance(values, list):
                raise SerializationError("Graph alerts_v2 page has no 'value' array")
            out.extend(a for a in values if isinstance(a, dict) and str(a.get("incidentId")) == incident_id)
            spec = pager.follow(page)
        return out


def _at_or_after(text: str, when: datetime) -> bool:
    try:
        return parse_datetime(text) >= when
    except InvalidInputError:
        return True
