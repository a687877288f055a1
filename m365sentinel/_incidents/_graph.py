"""The Defender XDR side over Microsoft Graph: ``/security/incidents`` (optionally with alerts) and
``/security/alerts_v2``, paged with ``@odata.nextLink`` until the ``$top + $skip`` limit, then by a cursor.

Graph's nextLink pages by a growing ``$skip`` and the service rejects ``$top + $skip`` above 6,000 (case B4).
Before following a link that would cross it, the listing restarts with ``lastUpdateDateTime ge <last seen>``
(ordered ascending) and skips, at that boundary, the items it already yielded. Graph documents no ``$orderby``
for security incidents, so the order is checked item by item: a listing served out of order is split into two
time windows instead (``ListWindow``). Every item is checked against the window asked for (a service may
ignore ``$filter``), and each change (id, ``lastUpdateDateTime``) is yielded once. Every request carries
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
from collections.abc import Callable, Generator, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .._errors import BadRequestError, InvalidInputError, SerializationError, ServerError
from .._inputs import check_json
from .._transport import Pager, RequestSpec, next_link_of
from .._transport._flow import Flow, send_json
from ..models import GraphAlert, GraphIncident
from ..models._time import parse_datetime
from ._filters import render_graph_cursor_filter
from ._requests import GRAPH_SKIP_LIMIT, IncidentRequests

__all__ = ["DefenderIncidents", "ListWindow", "crosses_skip_limit"]

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
        """Incidents updated at or after ``since`` (all when None), each change once, in the service's order
        (asked for oldest update first; not relied on).

        GET /v1.0/security/incidents?$filter=lastUpdateDateTime ge ...&$orderby=lastUpdateDateTime asc&$top=N
        [&$expand=alerts]. Raises APIStatusError subclasses, TransportError, SerializationError."""
        return self._session.http.iterate(self._iterate("incidents", since, with_alerts, GraphIncident.from_json))  # type: ignore[no-any-return]

    def alerts(self, *, since: datetime | None = None) -> Iterator[GraphAlert]:
        """Alerts (``/security/alerts_v2``) updated at or after ``since``, each change once (order as for
        ``incidents``)."""
        return self._session.http.iterate(self._iterate("alerts_v2", since, False, GraphAlert.from_json))  # type: ignore[no-any-return]

    def get(self, incident_id: str, *, with_alerts: bool = False) -> GraphIncident:
        """GET /v1.0/security/incidents/{id}[?$expand=alerts] (an ``alerts@odata.nextLink`` followed to its end)."""
        return self._session.run(self._get(incident_id, with_alerts))  # type: ignore[no-any-return]

    def _get(self, incident_id: str, with_alerts: bool) -> Flow[GraphIncident]:
        spec = self._reqs.graph_get(incident_id, expand_alerts=with_alerts)
        item = yield from send_json(spec)
        if with_alerts:
            yield from self._complete_alerts(spec, item)
        return GraphIncident.from_json(item)

    def patch(self, incident_id: str, body: Mapping[str, Any]) -> GraphIncident:
        """GET /v1.0/security/incidents/{id}; when a field of ``body`` (assignedTo, classification, determination,
        status, customTags) differs from it, PATCH ``body`` and GET it back (the API has no etag, so the re-read is
        what the caller compares). An incident that already has every value is returned as read, without a PATCH
        (as ``IncidentHandle.update`` skips its PUT). Raises InvalidInputError (before any request),
        NotFoundError, APIStatusError, TransportError."""
        if not isinstance(body, Mapping):
            raise InvalidInputError(f"body={body!r}: expected a mapping of Graph incident fields (status, ...)")
        if not body:
            raise InvalidInputError("nothing to change: the PATCH body is empty")
        check_json(body, "body")
        return self._session.run(self._patch_changed(incident_id, body))  # type: ignore[no-any-return]

    def _patch_changed(self, incident_id: str, body: Mapping[str, Any]) -> Flow[GraphIncident]:
        before = yield from self._get(incident_id, False)
        if all(key in before.raw and before.raw[key] == value for key, value in body.items()):
            return before  # already as asked: nothing to send
        return (yield from self._patch(incident_id, body))

    def _patch(self, incident_id: str, body: Mapping[str, Any]) -> Flow[GraphIncident]:
        yield from send_json(self._reqs.graph_patch(incident_id, body))
        return (yield from self._get(incident_id, False))

    def _iterate(
        self, collection: str, since: datetime | None, expand: bool, typed: Callable[[Any], Any]
    ) -> Generator[Any, Any, None]:
        """The listing flow behind ``incidents``/``alerts``: yields its requests and each item, typed."""
        by_incident = False  # alerts fetched per incident (after a failed $expand)
        yielded: dict[str, str] = {}  # id -> lastUpdateDateTime text: each change once
        ranges: list[tuple[datetime | None, datetime | None]] = [(since, None)]
        split = False
        while ranges:
            window = ListWindow(*ranges.pop())
            first = self._reqs.graph_list(
                collection,
                filter=render_graph_cursor_filter(window.lower, until=window.upper),
                top=self._page,
                expand_alerts=expand,
            )
            pager = Pager(first, link_key="@odata.nextLink")
            spec: RequestSpec | None = first
            while spec is not None:
                try:
                    page = yield from send_json(spec)
                except (ServerError, BadRequestError) as exc:
                    if not expand:
                        raise
                    LOGGER.warning(
                        "Graph %s with $expand=alerts failed (%s); listing without $expand, alerts per incident",
                        collection,
                        type(exc).__name__,
                    )
                    expand, by_incident = False, True
                    ranges.append((window.lower, window.upper))  # this window again; what was yielded is skipped
                    break
                values = page.get("value") if isinstance(page, dict) else None
                if not isinstance(values, list):
                    raise SerializationError(f"Graph {collection} page has no 'value' array")
                link = next_link_of(page, "@odata.nextLink")
                for item in values:
                    ident = item.get("id") if isinstance(item, dict) else None
                    if not isinstance(ident, str) or not ident:
                        # Items are told apart, deduplicated and read again by id: id-less ones would be one item.
                        raise SerializationError(
                            f"Graph {collection} page: an item without an id ({str(item)[:200]}): it cannot be "
                            "deduplicated or read again"
                        )
                    text = item.get("lastUpdateDateTime")
                    if not window.admit(parse_datetime(text) if text else None):
                        continue  # outside the window asked for: the service ignored $filter
                    if yielded.get(ident) == str(text):
                        continue
                    if expand:
                        yield from self._complete_alerts(spec, item)
                    elif by_incident:
                        item["alerts"] = yield from self._alerts_of(ident)
                    yielded[ident] = str(text)
                    yield typed(item)
                if link is not None and crosses_skip_limit(link, self._limit):
                    rest = window.rest(collection, self._page * max(1, self._limit // self._page), self._limit)
                    split = split or len(rest) > 1
                    if not split and rest and rest[0][0] is not None:
                        # One ascending cursor: what lies before it is done, and its ties are skipped above.
                        yielded = {i: t for i, t in yielded.items() if _at_or_after(t, rest[0][0])}
                    ranges.extend(rest)
                    break
                spec = pager.follow(page)

    def _complete_alerts(self, spec: RequestSpec, item: Any) -> Flow[None]:
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
            page = yield from send_json(following)
            values = page.get("value") if isinstance(page, dict) else None
            if not isinstance(values, list):
                raise SerializationError(f"Graph incident {item.get('id')!r}: an alerts page has no 'value' array")
            rest.extend(values)
            following = pager.follow(page)
        item["alerts"] = alerts + rest
        del item[_ALERTS_LINK]

    def _alerts_of(self, incident_id: str) -> Flow[list[dict[str, Any]]]:
        """GET /security/alerts_v2?$filter=incidentId eq '<id>', every page; alerts of another incident dropped."""
        first = self._reqs.graph_alerts_of(incident_id, top=self._page)
        pager = Pager(first, link_key="@odata.nextLink")
        spec: RequestSpec | None = first
        out: list[dict[str, Any]] = []
        while spec is not None:
            page = yield from send_json(spec)
            values = page.get("value") if isinstance(page, dict) else None
            if not isinstance(values, list):
                raise SerializationError("Graph alerts_v2 page has no 'value' array")
            out.extend(a for a in values if isinstance(a, dict) and str(a.get("incidentId")) == incident_id)
            spec = pager.follow(page)
        return out


class ListWindow:
    """One Graph listing of ``lastUpdateDateTime`` in ``[lower, upper)`` (I/O-free): re-checks the bounds on every
    item, checks the ascending order it asked for, and says how to go on past the ``$top + $skip`` limit.

    In order, the listing restarts at the last update it saw (as many windows as needed). Out of order, the
    window is split in two at the median update it saw, each listed again (what was yielded is skipped): no item
    is assumed to lie before or after another because of where it was served.
    """

    __slots__ = ("lower", "ordered", "outside", "times", "untimed", "upper")

    def __init__(self, lower: datetime | None, upper: datetime | None) -> None:
        self.lower, self.upper = lower, upper
        self.ordered = True
        self.outside = False
        self.untimed = False
        self.times: list[datetime] = []

    def admit(self, updated: datetime | None) -> bool:
        """False for an item outside the window (not yielded)."""
        if updated is None:
            self.untimed = True
            return True
        if (self.lower is not None and updated < self.lower) or (self.upper is not None and updated >= self.upper):
            self.outside = True
            return False
        if self.times and updated < self.times[-1]:
            self.ordered = False
        self.times.append(updated)
        return True

    def rest(self, collection: str, window: int, limit: int) -> list[tuple[datetime | None, datetime | None]]:
        """The windows still to list once this one reached the skip limit; SerializationError when none can
        make progress."""
        if self.untimed:
            raise SerializationError(
                f"Graph {collection}: the items before the $top + $skip limit have no lastUpdateDateTime; "
                "cannot page on"
            )
        if self.outside:
            raise SerializationError(
                f"Graph {collection}: the service ignores $filter and holds more than {limit} items: a listing "
                "cannot go on past the $top + $skip limit"
            )
        if self.ordered:
            last = self.times[-1] if self.times else None
            if last is None or last == self.lower:
                # The full window read from the cursor holds only items updated at the cursor: a restart from the
                # same time would read the same window again.
                raise SerializationError(
                    f"Graph {collection}: {window} or more items share lastUpdateDateTime {self.lower}, as many "
                    f"as one $top + $skip window holds (limit {limit}); cannot page on"
                )
            return [(last, self.upper)]
        distinct = sorted(set(self.times))
        mid = distinct[len(distinct) // 2]  # > the earliest served: both halves shrink
        return [(self.lower, mid), (mid, self.upper)]


def _at_or_after(text: str, when: datetime) -> bool:
    try:
        return parse_datetime(text) >= when
    except InvalidInputError:
        return True
