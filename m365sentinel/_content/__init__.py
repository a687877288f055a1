"""The connector's content as code: the Microsoft Defender XDR solution, analytics rule templates and rules, and
the connector's sample queries. Pure rules live in the submodules; ``read_content`` is the thin I/O shell."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._transport import RequestSpec
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


def read_solution(
    routes: ContentRoutes,
    list_items: Callable[[RequestSpec], list[dict[str, Any]]],
    get_json: Callable[[RequestSpec], Any],
) -> tuple[ContentObserved, dict[str, Any]]:
    """Read content hub for ``solution_changes``: the catalogue and what is installed (four lists), then the full
    form of each catalogue template that is not installed at its version (GET contentProductTemplates/{name})."""
    observed = ContentObserved(
        tuple(list_items(routes.collection("contentProductPackages"))),
        tuple(list_items(routes.collection("contentProductTemplates"))),
        tuple(list_items(routes.collection("contentPackages"))),
        tuple(list_items(routes.collection("contentTemplates"))),
    )
    full = {name: get_json(routes.get("contentProductTemplates", name)) for name in templates_to_fetch(observed)}
    return observed, full


def plan_content(
    solution: bool,
    rules: Sequence[AnalyticsRule] | None,
    existing_rules: Sequence[AlertRule],
    routes: ContentRoutes,
    list_items: Callable[[RequestSpec], list[dict[str, Any]]],
    get_json: Callable[[RequestSpec], Any],
) -> tuple[list[Change], list[str], list[str]]:
    """``(changes, notes, blockers)`` of ``solution()`` and ``analytics_rules()``: the solution first (package, then
    templates), then the rules. Reads content hub only when the solution is desired."""
    changes: list[Change] = []
    notes: list[str] = []
    blockers: list[str] = []
    if solution:
        observed, full = read_solution(routes, list_items, get_json)
        changes, blockers = solution_changes(observed, full)
    if rules is not None:
        more, notes, rule_blockers = rule_changes(rules, existing_rules)
        changes += more
        blockers += rule_blockers
    return changes, notes, blockers
