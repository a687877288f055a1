"""Command line: a thin layer over Connector.

``m365sentinel onboard --emulator`` runs the source document's main job on the built-in emulator (no Azure account):
plan → apply → a second, empty plan → the Defender incidents in the workspace → the verification time charts.
With ``--workspace <resource id> [--tenant-id <guid>]`` the same runs against Azure with DefaultAzureCredential.
Exit codes: 0 ok; 1 an SDK error (message printed); 2 bad usage; ``plan --json --exit-code``: 3 when changes are due.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from . import kql
from ._connector import Connector
from ._errors import SentinelError
from ._providers import provider_names

DEFAULT_TABLES = ("DeviceEvents", "DeviceProcessEvents", "DeviceNetworkEvents")


@contextmanager
def _connector(args: argparse.Namespace) -> Iterator[Connector]:
    if args.emulator:
        from .emulator import Emulator  # the emulator is only imported when asked for

        emu = Emulator(seed=args.seed)
        with Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as c:
            yield c
        return
    if not args.workspace:
        raise SystemExit("error: give --emulator, or --workspace <resource id> (with Azure credentials available)")
    with Connector(args.workspace, tenant_id=args.tenant_id, cloud=args.cloud, graph=args.graph) as c:
        yield c


def _print_series(title: str, query: Any, connector: Connector) -> None:
    from .models import TimeSeries

    print(f"\n== {title}\n{query.to_kql()}")
    result = connector.query(query, timespan=timedelta(days=14))
    if result.is_partial:
        print(f"  PARTIAL result: {result.error}")
    series = TimeSeries.from_table(result.primary)
    for point in series.points:
        print(f"  {point[0]:%Y-%m-%d %H:%M}Z  {point[1]}")
    print(f"  total {sum(p[1] for p in series.points)} over {len(series.points)} days")


def _onboard(args: argparse.Namespace) -> int:
    with _connector(args) as base:
        connector = base.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=not args.keep_rules)
        plan = connector.plan()
        print(plan)
        print(plan.apply())
        second = connector.plan()
        print("\nSecond plan (must be empty):")
        print(second)
        names = provider_names().incident_providers
        incidents = kql.incidents_by_provider(names)
        print(f"\n== Defender incidents in the workspace (last 14 days)\n{incidents.to_kql()}")
        rows = connector.query(incidents, timespan=timedelta(days=14)).primary
        print(f"  {len(rows.rows)} incidents (latest state of each)")
        wanted = ("IncidentNumber", "Title", "Severity", "Status", "ProviderName")
        for row in rows.to_dicts()[:5]:
            print("  " + " | ".join(str(row.get(c)) for c in wanted))
        _print_series("Incidents from Microsoft 365 Defender, daily, 14 days", kql.incident_timechart(names), connector)
        for table in args.tables or DEFAULT_TABLES:
            _print_series(f"{table}, daily events, 14 days", kql.table_timechart(table), connector)
        return 0 if second.is_empty else 1


def _plan(args: argparse.Namespace) -> int:
    with _connector(args) as base:
        plan = base.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=not args.keep_rules).plan()
        print(json.dumps(plan.to_dict(), indent=2) if args.json else plan)
        return 3 if (args.exit_code and not plan.is_empty) else 0


def _status(args: argparse.Namespace) -> int:
    with _connector(args) as c:
        print(c.status())
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .emulator import run_server

    run_server(args.host, args.port, seed=args.seed)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="m365sentinel", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def target(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--emulator", action="store_true", help="use the built-in emulator (no Azure account)")
        sp.add_argument("--seed", type=int, default=0, help="emulator dataset seed")
        sp.add_argument("--workspace", help="workspace ARM resource id")
        sp.add_argument("--tenant-id", help="Defender tenant (default: the workspace's home tenant)")
        sp.add_argument("--cloud", default="AzureCloud", help="AzureCloud or AzureUSGovernment")
        sp.add_argument("--graph", default=None, help="Global, GCC, GCCHigh or DoD")
        sp.add_argument(
            "--keep-rules", action="store_true", help="do not turn off the Microsoft incident creation rules"
        )

    on = sub.add_parser("onboard", help="connect incidents and alerts, then verify ingestion")
    target(on)
    on.add_argument("--tables", nargs="*", help=f"hunting tables to chart (default {' '.join(DEFAULT_TABLES)})")
    on.set_defaults(func=_onboard)
    pl = sub.add_parser("plan", help="show what onboarding would change (reads only)")
    target(pl)
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--exit-code", action="store_true", help="exit 3 when changes are due (drift checks)")
    pl.set_defaults(func=_plan)
    st = sub.add_parser("status", help="connector, rules and onboarding state")
    target(st)
    st.set_defaults(func=_status)
    em = sub.add_parser("emulator", help="the built-in emulator")
    emsub = em.add_subparsers(dest="emulator_command", required=True)
    sv = emsub.add_parser("serve", help="serve the emulator on a loopback port")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8765)
    sv.add_argument("--seed", type=int, default=0)
    sv.set_defaults(func=_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SentinelError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
