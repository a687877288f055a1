"""The connector's content as code: the Microsoft Defender XDR solution, analytics rule templates and rules, and
the connector's sample queries. Pure rules live in the submodules; ``read_solution`` and ``plan_content`` are
flows that both faces drive."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._transport._flow import Flow, list_items, send_json
from ._plan import SOLUTION_ID, SOLUTION_NAME, ContentObserved, rule_changes, solution_changes, templates_to_fetch
from ._routes import CONTENT_TYPES, NRT, SCHEDULED, ContentRoutes
from ._rules import MTP_CONNECTOR_ID, AnalyticsRule, RuleTemplate, parse_duration
from ._samples import SampleQuery, sample_queries

if TYPE_CHECKING:
    from .._plan import Change
    from ..models import AlertRule

__all__ = [
    "CONTENT_TYPES",
    "MTP_CONNECTOR_ID",
    "NRT",
    "SCHEDULED",
    "SOLUTION_ID",
    "SOLUTION_NAME",
    "AnalyticsRule",
    "ContentObserved",
    "ContentRoutes",
    "RuleTemplate",
    "SampleQuery",
    "parse_duration",
    "plan_content",
    "read_solution",
    "rule_changes",
    "sample_queries",
    "solution_changes",
]


def read_solution(routes: ContentRoutes) -> Flow[tuple[ContentObserved, dict[str, Any]]]:
    """Read content hub for ``solution_changes`` (a flow: both faces drive it): the catalogue and what is installed
    (four lists), then the full form of each catalogue template that is not installed at its version
    (GET contentProductTemplates/{name})."""
    observed = ContentObserved(
        tuple((yield from list_items(routes.collection("contentProductPackages")))),
        tuple((yield from list_items(routes.collection("contentProductTemplates")))),
        tuple((yield from list_items(routes.collection("contentPackages")))),
        tuple((yield from list_items(routes.collection("contentTemplates")))),
    )
    full = {}
    for name in templates_to_fetch(observed):
        full[name] = yield from send_json(routes.get("contentProductTemplates", name))
    return observed, full


def plan_content(
    solution: bool,
    rules: Sequence[AnalyticsRule] | None,
    existing_rules: Sequence[AlertRule],
    routes: ContentRoutes,
) -> Flow[tuple[list[Change], list[str], list[str]]]:
    """``(changes, notes, blockers)`` of ``solution()`` and ``analytics_rules()``: the solution first (package, then
    templates), then the rules. Reads content hub only when the solution is desired (a flow)."""
    changes: list[Change] = []
    notes: list[str] = []
    blockers: list[str] = []
    if solution:
        observed, full = yield from read_solution(routes)
        changes, blockers = solution_changes(observed, full)
    if rules is not None:
        more, notes, rule_blockers = rule_changes(rules, existing_rules)
        changes += more
        blockers += rule_blockers
    return changes, notes, blockers
