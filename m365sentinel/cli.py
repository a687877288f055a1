"""Command line: a thin layer over Connector.

``m365sentinel onboard --emulator`` runs the source document's job on the built-in emulator (no Azure account):
plan (incidents and alerts, entities, events with retention) → apply → a second, empty plan → the Defender incidents
in the workspace → the verification report with its time charts. With ``--workspace <resource id> [--tenant-id
<guid>]`` the same runs against Azure with DefaultAzureCredential.

Conventions (every command): the first stderr line names the target (``target: built-in emulator ...``, an emulator
served at a URL, or an Azure workspace); progress goes to stderr (``... reading the workspace``); the last line is a
one-line verdict (``verdict: ...``; on stderr with ``--json``, so stdout stays parseable). A mistake (bad flag or value,
a chart path in a missing folder, an error the service answers) is one ``error: ...`` line on stderr, no traceback.

Exit codes: 0 ok; 1 an SDK error (message printed) or a verification that is not all "ingesting"; 2 bad usage;
``plan --json`` and ``plan --exit-code``: 3 when a change is due; 141 when stdout closed early (``| head``), no
traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from ._connector import Connector
from ._errors import SentinelError
from ._providers import provider_names

if TYPE_CHECKING:
    from ._connector import ConnectorStatus
    from ._fleet import Fleet, FleetReport
    from ._plan import Plan
    from ._verify import VerificationReport
    from .emulator import Emulator

DEFAULT_RETENTION_DAYS = 180  # "increased retention" set by `onboard`: beyond the 90 days Sentinel includes


def _progress(text: str) -> None:
    """Progress goes to stderr so stdout stays the report (and --json stays parseable)."""
    print(f"... {text}", file=sys.stderr, flush=True)


def _verdict(args: argparse.Namespace, text: str) -> None:
    """The command's last line; with --json on stderr, so that stdout stays one JSON document."""
    print(f"verdict: {text}", file=sys.stderr if getattr(args, "json", False) else sys.stdout, flush=True)


def _one_line(text: str) -> str:
    """An error message on one line (some messages list their problems on the lines below)."""
    return "; ".join(part.strip(" -") for part in text.splitlines() if part.strip(" -"))


@contextmanager
def _target(args: argparse.Namespace) -> Iterator[tuple[Connector, Emulator | None]]:
    if args.emulator:
        given = [
            f"--{n.replace('_', '-')}" for n in ("workspace", "tenant_id", "graph", "endpoint") if getattr(args, n)
        ]
        given += ["--cloud"] if args.cloud != "AzureCloud" else []
        if given:
            _usage(f"--emulator runs on the built-in workspace; drop {' '.join(given)}")
        from .emulator import Emulator  # imported only when asked for

        _target_line(
            f"built-in emulator (in memory, seed {args.seed}; nothing is sent to Azure). Each run starts a fresh "
            "workspace: 16 days of sample Defender data, the Microsoft 365 Defender connector not yet created"
        )
        emu = Emulator(seed=args.seed)
        try:
            with Connector(emu.workspace_resource_id, credential=emu.credential(), transport=emu.transport()) as c:
                yield c, emu
        finally:
            emu.close()
        return
    if not args.workspace:
        _usage("give --emulator, or --workspace <resource id> (with Azure credentials available)")
    if args.endpoint:  # an emulator served by `m365sentinel emulator serve` in another process
        from ._transport import Cloud
        from .emulator import LoopbackCredential

        _target_line(f"emulator served at {args.endpoint} (its state lasts as long as that process), {args.workspace}")
        cloud = Cloud.custom(arm=args.endpoint, log_analytics=args.endpoint, graph=args.endpoint)
        with Connector(args.workspace, tenant_id=args.tenant_id, cloud=cloud, credential=LoopbackCredential()) as c:
            yield c, None
        return
    _target_line(f"Azure workspace {args.workspace} ({args.cloud}; DefaultAzureCredential)")
    with Connector(args.workspace, tenant_id=args.tenant_id, cloud=args.cloud, graph=args.graph) as c:
        yield c, None


def _target_line(text: str) -> None:
    print(f"target: {text}", file=sys.stderr, flush=True)


_Desirable = TypeVar("_Desirable", "Connector", "Fleet")


def _desired(connector: _Desirable, args: argparse.Namespace) -> _Desirable:
    """The three configuration parts of the source document, as the flags ask (of one workspace or a fleet)."""
    from ._hunting import HuntingTable

    desired = connector.incidents_and_alerts(turn_off_microsoft_incident_creation_rules=not args.keep_rules)
    if not args.no_entities:
        desired = desired.entities(active_directory=True)
    tables = args.tables or [t.value for t in HuntingTable.source_document()]
    return desired.events(*tables, retention_days=args.retention_days, total_retention_days=args.total_retention_days)


def _print_report(report: VerificationReport, args: argparse.Namespace) -> None:
    from ._charts import ChartsUnavailableError, text_chart, write_png, write_svg

    print(report)
    for line in (report.incidents, report.alerts, report.events):
        print(f"\n== {line.name}: {line.detail}\n{line.kql}")
        for when, value in line.series.points:
            print(f"  {when:%Y-%m-%d %H:%M}Z  {value}")
    print("\n" + text_chart([report.incidents.series, report.alerts.series, report.events.series]))
    for path, writer in ((args.png, write_png), (args.svg, write_svg)):
        if path:
            try:
                print(f"chart written to {writer(report, path)}")
            except ChartsUnavailableError as exc:
                print(f"chart not written: {exc}", file=sys.stderr)
            except OSError as exc:  # the folder was checked up front; e.g. no permission to write there
                print(f"chart not written to {path}: {exc.strerror or exc}", file=sys.stderr)


def _not_ingesting(report: VerificationReport) -> str:
    """Why a verification is not all "ingesting", on one line ("" when it is)."""
    from ._verify import Verdict

    bad = [x for x in report.lines if x.verdict is not Verdict.INGESTING]
    if not bad:
        return ""
    text = f"{len(bad)} of {len(report.lines)} checks not ingesting: " + ", ".join(
        f"{x.name} ({x.verdict.value})" for x in bad
    )
    if any(x.category == "ueba" and x.verdict is Verdict.NOT_YET_POPULATED for x in bad):
        text += " (UEBA writes its tables hours after it is enabled: run `verify --ueba` again later)"
    return text


def _connector_text(status: ConnectorStatus) -> str:
    c, name = status.connector, "the Microsoft 365 Defender connector"
    if c is None:
        return f"{name} is not connected (no MicrosoftThreatProtection data connector)"
    if status.connected:
        return f"{name} is connected (incidents {c.incidents_state}, alerts {c.alerts_state})"
    return f"{name} exists but streams no incidents (incidents {c.incidents_state})"


def _onboard(args: argparse.Namespace) -> int:
    with _target(args) as (base, emu):
        connector = _desired(base, args)
        _progress("reading the workspace (plan)")
        plan = connector.plan()
        print(plan)
        _progress("applying")
        print(plan.apply())
        _progress("reading the workspace again")
        second = connector.plan()
        print("\nSecond plan (must be empty):")
        print(second)
        if emu is not None and not args.no_entities:
            emu.populate_ueba()  # the service fills BehaviorAnalytics/IdentityInfo hours after UEBA is on (case A6)
            print("\n(emulator: UEBA has processed its first data, as the service does within hours of enabling it)")
        _progress("reading the Defender incidents")
        _print_incidents(connector)
        _progress("verifying data ingestion")
        report = connector.verify()
        print()
        _print_report(report, args)
        problems = [] if second.is_empty else [f"the second plan still has {len(second.changes)} change(s)"]
        problems += [_not_ingesting(report)] if not report.all_ingesting else []
        if problems:
            _verdict(args, "onboarded, not done yet: " + "; ".join(problems))
            return 1
        _verdict(args, f"onboarded: the second plan is empty and all {len(report.lines)} checks are ingesting")
        return 0


def _print_incidents(connector: Connector) -> None:
    from . import kql

    query = kql.incidents_by_provider(provider_names().incident_providers)
    print(f"\n== Defender incidents updated in the last 14 days (latest state of each)\n{query.to_kql()}")
    table = connector.query(query, timespan=timedelta(days=14)).primary
    print(f"  {len(table.rows)} incidents (some were created before the window)")
    wanted = ("IncidentNumber", "Title", "Severity", "Status", "ProviderName")
    for row in table.to_dicts()[:5]:
        print("  " + " | ".join(str(row.get(c)) for c in wanted))


def _plan_verdict(plan: Plan) -> str:
    if plan.is_empty:
        return "no changes: the workspace already matches"
    parts = [f"{len(plan.changes)} change(s) due (`m365sentinel onboard` applies them)"] if plan.changes else []
    parts += [f"{len(plan.manual_steps)} manual step(s) to do in a portal (listed above)"] if plan.manual_steps else []
    return "; ".join(parts)


def _plan(args: argparse.Namespace) -> int:
    if args.workspaces:
        return _fleet_command(args, "plan")
    with _target(args) as (base, _):
        _progress("reading the workspace")
        plan = _desired(base, args).plan()
        print(json.dumps(plan.to_dict(), indent=2) if args.json else plan)
        _verdict(args, _plan_verdict(plan))
        # --json is for machines (drift checks in CI): its exit code always says whether a change is due.
        return 3 if ((args.exit_code or args.json) and not plan.is_empty) else 0


def _status(args: argparse.Namespace) -> int:
    if args.workspaces:
        return _fleet_command(args, "status")
    if args.json:
        _usage("status --json reports a fleet: give --workspaces FILE")
    with _target(args) as (c, _):
        _progress("reading the connector, rules, settings and per-table ingestion")
        status = c.status()
        print(status)
    onboarded = "Sentinel is onboarded" if status.onboarded else "Sentinel is NOT onboarded"
    _verdict(args, f"{onboarded}; {_connector_text(status)}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    if args.workspaces:
        return _fleet_command(args, "verify")
    with _target(args) as (base, _):
        connector = base.events(*args.tables) if args.tables else base
        if args.ueba:
            connector = connector.entities()
        _progress("running the verification queries")
        report = connector.verify()
        # The report reads data only; the connector line says whether it is this connector that brings it, so that
        # verify and status agree (a fresh emulator holds sample data but no connector yet).
        _progress("reading the connector")
        status = base.status()
        if args.json:
            doc = report.to_dict()
            doc["connectorConnected"] = status.connected
            print(json.dumps(doc, indent=2))
        else:
            _print_report(report, args)
            print(f"\nConnector: {_connector_text(status)}")
        why = _not_ingesting(report)
        text = why or f"all {len(report.lines)} checks ingesting"
        if not status.connected:
            text += ", but the Microsoft 365 Defender connector is not connected (`onboard` connects it)"
        _verdict(args, text)
        return 0 if report.all_ingesting else 1


def _apply(args: argparse.Namespace) -> int:
    if not args.workspaces:
        _usage("apply runs over a fleet: give --workspaces FILE (one workspace: `onboard`)")
    return _fleet_command(args, "apply")


def _fleet_command(args: argparse.Namespace, operation: str) -> int:
    """``plan|apply|status|verify --workspaces FILE``: one report over every listed workspace; exit 1 when any
    workspace failed (the report is still printed in full), else 3 when anything is due, else 0."""
    from ._fleet import Fleet
    from ._session import Session

    targets, options = _fleet_setup(args)
    with Session(**options) as session, _fleet_progress(len(targets)) as progress:
        fleet = Fleet(targets, session=session, concurrency=args.concurrency, progress=progress)
        if operation in ("plan", "apply"):
            fleet = _desired(fleet, args)
        elif operation == "verify":
            fleet = fleet.events(*args.tables) if args.tables else fleet
            fleet = fleet.entities() if args.ueba else fleet
        _progress(f"{operation}: {len(targets)} workspace(s), {args.concurrency} at a time")
        report = fleet.run(operation)
    print(report.to_json() if args.json else report)
    _verdict(args, _fleet_verdict(report))
    return report.exit_code


def _fleet_setup(args: argparse.Namespace) -> tuple[list[Any], dict[str, Any]]:
    """The workspaces of ``--workspaces FILE`` (checked before any request) and the ``Session`` options."""
    from ._fleet import parse_workspaces
    from ._transport import Cloud

    if args.emulator or args.workspace:
        _usage("--workspaces lists the workspaces; drop --emulator and --workspace")
    try:
        text = Path(args.workspaces).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _usage(f"--workspaces {args.workspaces!r}: {getattr(exc, 'strerror', None) or exc}")
    targets = parse_workspaces(text)  # InvalidInputError names the line, before any request
    where = f"emulator served at {args.endpoint}" if args.endpoint else f"Azure ({args.cloud}; DefaultAzureCredential)"
    _target_line(f"{len(targets)} workspace(s) listed in {args.workspaces}, {where}")
    options: dict[str, Any] = {"cloud": args.cloud, "graph": args.graph}
    if args.endpoint:
        from .emulator import LoopbackCredential

        endpoint = args.endpoint
        options = {
            "cloud": Cloud.custom(arm=endpoint, log_analytics=endpoint, graph=endpoint),
            "credential": LoopbackCredential(),
        }
    return targets, options


def _query(args: argparse.Namespace) -> int:
    """``query KQL --workspaces FILE``: one cross-workspace query; every row with its WorkspaceId, then one line per
    workspace (``--json``: rows and report as JSON). Exit 1 when any workspace failed (the rest still printed)."""
    from ._fleet import Fleet
    from ._session import Session

    if not args.workspaces:
        _usage("query runs over a fleet: give --workspaces FILE")
    targets, options = _fleet_setup(args)
    with Session(**options) as session:
        fleet = Fleet(targets, session=session, concurrency=args.concurrency)
        _progress(f"query: {len(targets)} workspace(s), {args.batch_size} a request")
        result = fleet.query(args.kql, timespan=args.timespan, batch_size=args.batch_size)
    if args.json:
        doc = result.to_dict()
        doc["rows"] = result.combined.primary.to_dicts()
        print(json.dumps(doc, indent=2, default=str))
    else:
        print(result.combined.primary)
        print(result)
    _verdict(args, f"{len(result.results)} workspace(s), {len(result.failed)} failed, {len(result.batches)} request(s)")
    return 1 if result.failed else 0


@contextmanager
def _fleet_progress(total: int, *, bar: bool | None = None, file: Any = None) -> Iterator[Any]:
    """The fleet's ``progress(done, total, result)`` for one run: a progress bar on stderr when it is a terminal and
    rich is installed (``pip install 'm365sentinel[cli]'``), else about ten ``... n/total workspaces done`` lines."""
    out = sys.stderr if file is None else file
    if bar is None:
        bar = out.isatty()
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError:  # the cli extra is optional: lines instead of a bar
        bar = False
    if bar:
        columns = (TextColumn("workspaces"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(file=out, force_terminal=True)) as shown:
            task = shown.add_task("workspaces", total=total)
            yield lambda done, total, result: shown.update(task, completed=done)
        return
    step = max(1, total // 10)  # about ten progress lines, and the last one

    def progress(done: int, total: int, result: Any) -> None:
        if done % step == 0 or done == total:
            print(f"... {done}/{total} workspaces done", file=out, flush=True)

    yield progress


def _fleet_verdict(report: FleetReport) -> str:
    parts = [f"{len(report.results)} workspace(s)", f"{len(report.failed)} failed"]
    parts.append(f"{len(report.due)} with something due" if report.operation != "apply" else "applied")
    return ", ".join(parts)


def _tables(args: argparse.Namespace) -> int:
    from ._hunting import HuntingTable

    with _target(args) as (c, _):
        _progress("reading ingestion (Usage) and the tables' retention")
        status = c.status()
        listed = {t.get("name"): t.get("properties") or {} for t in c.list_tables()}
        print(f"{'table':<28} {'product':<34} {'last received':<18} {'MB/14d':>9} {'retention':>9} {'total':>6}")
        receiving = 0
        for table in HuntingTable:
            ing = status.tables.get(table.value)
            receiving += bool(ing and ing.last_received)
            last = f"{ing.last_received:%Y-%m-%d %H:%M}" if ing and ing.last_received else "-"
            props: dict[str, Any] = listed.get(table.value, {})
            print(
                f"{table.value:<28} {table.product:<34} {last:<18} {(ing.volume_mb if ing else 0):9.2f} "
                f"{props.get('retentionInDays', '-')!s:>9} {props.get('totalRetentionInDays', '-')!s:>6}"
            )
    _verdict(args, f"{receiving} of {len(HuntingTable)} hunting tables received data in the last 14 days")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ._transport import is_loopback_host
    from .emulator import run_server

    if not is_loopback_host(args.host):
        _usage(f"--host {args.host!r}: the emulator serves loopback addresses only (127.0.0.1, ::1)")
    if not 0 <= args.port <= 65535:
        _usage(f"--port {args.port}: expected 0-65535")
    try:
        run_server(
            args.host,
            args.port,
            seed=args.seed,
            now=args.now,
            workspaces=args.workspaces,
            tenants=args.tenants,
            ids=args.ids,
            latency=args.latency,
        )
    except OSError as exc:
        raise SystemExit(f"error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
    _verdict(args, "the emulator stopped (its state is gone)")
    return 0


def _chart_file(suffix: str) -> Any:
    """An argparse type: a chart path ending in ``suffix`` in an existing folder, or "" (no chart). Checked before
    any request, so that a typo does not surface as a traceback after the whole verification ran."""

    def check(text: str) -> str:
        if not text:
            return text
        path = Path(text)
        if path.suffix.lower() != suffix:
            raise argparse.ArgumentTypeError(f"{text!r}: expected a file name ending in {suffix}")
        if not path.parent.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r}: folder {str(path.parent)!r} does not exist")
        return text

    check.__name__ = f"{suffix[1:]} file"  # argparse names the type in its messages
    return check


class _UsageExit(SystemExit):
    """Exit status 2 (bad usage, as argparse's own), whose ``str`` is the message already printed."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _usage(message: str) -> NoReturn:
    """A usage mistake the parser cannot see (conflicting or missing options): one line, exit 2, no request sent."""
    line = f"error: {message}"
    print(line, file=sys.stderr)
    raise _UsageExit(line)


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line (argparse's default prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _aware(text: str) -> datetime:
    from .models import parse_datetime

    if not text.upper().endswith("Z") and "+" not in text[10:] and "-" not in text[10:]:
        raise argparse.ArgumentTypeError(f"{text!r}: give a zone, e.g. 2026-11-20T12:00:00Z")
    return parse_datetime(text)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="m365sentinel", description=(__doc__ or "").split("\n\n")[0])
    from . import __version__

    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}", help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def target(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--emulator", action="store_true", help="use the built-in emulator (no Azure account)")
        sp.add_argument("--seed", type=int, default=0, help="seed of the emulator's sample data (default 0)")
        sp.add_argument("--workspace", help="the Log Analytics workspace's ARM resource id")
        sp.add_argument("--tenant-id", help="Defender tenant id (default: the workspace's home tenant)")
        sp.add_argument("--cloud", default="AzureCloud", help="AzureCloud (default) or AzureUSGovernment")
        sp.add_argument(
            "--graph", help="Microsoft Graph cloud: Global, GCC, GCCHigh or DoD (default: the one of --cloud)"
        )
        sp.add_argument(
            "--endpoint", help="URL of an emulator served by `m365sentinel emulator serve` (with --workspace)"
        )

    def fleet(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--workspaces",
            metavar="FILE",
            help="run over every workspace listed in FILE (one resource id a line, optionally a tenant id after it; "
            "# comments); exit 1 when any workspace failed, else 3 when anything is due (query: 1 or 0)",
        )
        sp.add_argument(
            "--concurrency", type=int, default=16, help="workspaces in flight at once with --workspaces (default 16)"
        )

    def desired(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--keep-rules", action="store_true", help="do not turn off the Microsoft incident creation rules"
        )
        sp.add_argument("--no-entities", action="store_true", help="leave UEBA / Active Directory sync alone")
        sp.add_argument("--tables", nargs="*", help="hunting tables to collect (default: the source document's ten)")
        sp.add_argument(
            "--retention-days",
            type=int,
            default=DEFAULT_RETENTION_DAYS,
            help=f"interactive retention of the tables, in days (default {DEFAULT_RETENTION_DAYS})",
        )
        sp.add_argument(
            "--total-retention-days",
            type=int,
            help="total retention including the archive, in days (default: leave as it is)",
        )

    def charts(sp: argparse.ArgumentParser, png: str | None = None) -> None:
        shown = f"default {png}; " if png else ""
        sp.add_argument(
            "--png",
            default=png,
            type=_chart_file(".png"),
            help=f"write the verification chart to this PNG file ({shown}'' for none; needs the charts extra)",
        )
        sp.add_argument(
            "--svg",
            type=_chart_file(".svg"),
            help="write the verification chart to this SVG file (needs the charts extra)",
        )

    on = sub.add_parser("onboard", help="connect incidents and alerts, entities and events, then verify")
    target(on)
    desired(on)
    charts(on, png="m365sentinel-verification.png")
    on.set_defaults(func=_onboard)
    pl = sub.add_parser("plan", help="show what onboarding would change (reads only)")
    target(pl)
    desired(pl)
    pl.add_argument("--json", action="store_true", help="JSON output; exit 3 when a change is due")
    pl.add_argument("--exit-code", action="store_true", help="exit 3 when a change is due (drift checks)")
    fleet(pl)
    pl.set_defaults(func=_plan)
    ap = sub.add_parser("apply", help="plan and apply onboarding over the workspaces of --workspaces FILE")
    target(ap)
    desired(ap)
    fleet(ap)
    ap.add_argument("--json", action="store_true", help="the fleet report as JSON on stdout")
    ap.set_defaults(func=_apply)
    st = sub.add_parser("status", help="connector, rules, UEBA and per-table ingestion")
    target(st)
    fleet(st)
    st.add_argument("--json", action="store_true", help="the fleet report as JSON (with --workspaces)")
    st.set_defaults(func=_status)
    ve = sub.add_parser("verify", help="verify data ingestion (incidents, alerts, events, tables)")
    target(ve)
    charts(ve)
    ve.add_argument("--tables", nargs="*", help="declared hunting tables (default: the source document's ten)")
    ve.add_argument("--ueba", action="store_true", help="also check the UEBA tables")
    ve.add_argument("--json", action="store_true", help="the report as JSON on stdout (the verdict goes to stderr)")
    fleet(ve)
    ve.set_defaults(func=_verify)
    qu = sub.add_parser("query", help="one KQL query over the workspaces of --workspaces FILE, rows tagged")
    qu.add_argument("kql", help="KQL that starts with one table and reads no other, e.g. 'SecurityIncident | take 5'")
    qu.add_argument("--timespan", default="P1D", help="ISO 8601 duration or start/end interval (default P1D)")
    qu.add_argument("--batch-size", type=int, default=10, help="workspaces a request, 1-100 (default 10)")
    qu.add_argument("--json", action="store_true", help="rows and per-workspace report as JSON on stdout")
    target(qu)
    fleet(qu)
    qu.set_defaults(func=_query)
    tb = sub.add_parser("tables", help="the hunting table catalogue with ingestion and retention")
    target(tb)
    tb.set_defaults(func=_tables)
    em = sub.add_parser("emulator", help="the built-in emulator")
    emsub = em.add_subparsers(dest="emulator_command", required=True, metavar="COMMAND")
    sv = emsub.add_parser("serve", help="serve the emulator on a loopback port")
    sv.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8765, help="port to listen on, 0 for any free one (default 8765)")
    sv.add_argument("--seed", type=int, default=0, help="seed of the emulator's sample data (default 0)")
    sv.add_argument(
        "--now", type=_aware, help="pin the emulator's clock, ISO 8601 with a zone (default: the real clock)"
    )
    sv.add_argument("--workspaces", type=int, default=1, help="serve a fleet of this many workspaces (default 1)")
    sv.add_argument("--tenants", type=int, default=1, help="in this many tenants (default 1)")
    sv.add_argument("--ids", metavar="FILE", help="write the served workspace resource ids to FILE, one a line")
    sv.add_argument("--latency", type=float, default=0.0, help="seconds each request takes (default 0)")
    sv.set_defaults(func=_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SentinelError as exc:
        print(f"error: {type(exc).__name__}: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly as a SIGPIPE'd tool does, and point stdout at devnull so
        # the interpreter's final flush does not raise again.
        with suppress(OSError, ValueError, AttributeError):  # stdout is not a file descriptor (captured)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
