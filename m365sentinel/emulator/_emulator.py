"""``Emulator``: an in-memory Microsoft Sentinel workspace + Defender XDR tenant behind the real REST routes."""

from __future__ import annotations

import ipaddress
import random
import ssl
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from m365sentinel._errors import InvalidInputError
from m365sentinel._ids import validate_guid
from m365sentinel._inputs import check_int, check_number, check_text
from m365sentinel.emulator._auth import (
    DirectoryUser,
    EmulatorAsyncCredential,
    EmulatorCredential,
    TokenStore,
    audience_of_scope,
)
from m365sentinel.emulator._clock import Clock, as_utc
from m365sentinel.emulator._content_hub import ContentHub
from m365sentinel.emulator._control import IncidentControl
from m365sentinel.emulator._core import Core
from m365sentinel.emulator._cross import CrossWorkspace
from m365sentinel.emulator._dataset import generate
from m365sentinel.emulator._faults import Faults
from m365sentinel.emulator._fleet import FleetRouter, Member
from m365sentinel.emulator._http import RequestRecord, Responder
from m365sentinel.emulator._hunting import HUNTING_TABLES, hunting_rows
from m365sentinel.emulator._server import LoopbackServer
from m365sentinel.emulator._tables import time_of
from m365sentinel.emulator._transport import EmulatorAsyncTransport, EmulatorTransport
from m365sentinel.emulator._ueba import ueba_rows
from m365sentinel.emulator._workspace import Workspace

__all__ = ["Emulator", "State"]


class State:
    """The few switches tests flip on the emulated workspace (``emu.state``).

    - ``sentinel_onboarded`` (bool, read/write): False -> ``onboardingStates/default`` answers 404 and other
      Microsoft.SecurityInsights routes answer 400.
    - ``license_valid`` (bool): False -> ``dataConnectorsCheckRequirements`` says ``licenseState: Invalid``
      and MicrosoftThreatProtection PUTs answer 403 InvalidLicense.
    - ``unified_portal`` (bool, read-only): set at construction.
    - ``page_size`` (int): items per page of ARM lists when no ``$top`` is given (default 50).
    - ``drop_table(name)``: the table no longer exists (queries naming it fail; ``union isfuzzy=true`` skips it).
    - ``silence_table(name)``: the table exists but holds no rows (a selected-but-silent table).
    - ``add_rows(name, rows)`` / ``create_table(name, columns)``: add data (e.g. UEBA tables appearing later).
    - ``table_names()``: the tables that exist.

    Usage is recomputed from the tables' rows after each of these changes, so it stays consistent with them.
    """

    def __init__(self, workspace: Workspace) -> None:
        self._ws = workspace

    @property
    def sentinel_onboarded(self) -> bool:
        return self._ws.sentinel_onboarded

    @sentinel_onboarded.setter
    def sentinel_onboarded(self, value: bool) -> None:
        self._ws.sentinel_onboarded = bool(value)

    @property
    def license_valid(self) -> bool:
        return self._ws.license_valid

    @license_valid.setter
    def license_valid(self, value: bool) -> None:
        self._ws.license_valid = bool(value)

    @property
    def unified_portal(self) -> bool:
        return self._ws.unified_portal

    @property
    def page_size(self) -> int:
        return self._ws.page_size

    @page_size.setter
    def page_size(self, value: int) -> None:
        if not isinstance(value, int) or not 1 <= value <= 1000:
            raise InvalidInputError(f"page_size={value!r}: expected an integer from 1 to 1000")
        self._ws.page_size = value

    def drop_table(self, name: str) -> None:
        self._ws.tables.drop(name)
        self._ws.refresh_usage()

    def silence_table(self, name: str) -> None:
        if name not in self._ws.tables.schemas:
            raise InvalidInputError(f"table={name!r}: no such table (known: {self._ws.tables.names()})")
        self._ws.tables.clear_rows(name)
        self._ws.refresh_usage()

    def create_table(self, name: str, columns: Iterable[tuple[str, str]] | None = None) -> None:
        """Create an empty table; columns default to the schema in tables.json/Usage.json when known."""
        cols = list(columns) if columns is not None else self._ws.schemas.get(name)
        if not cols:
            raise InvalidInputError(f"columns for table {name!r}: expected [(name, kusto type), ...]")
        self._ws.tables.create(name, cols)

    def add_rows(self, name: str, rows: Iterable[Mapping[str, Any]]) -> None:
        self._ws.tables.append(name, rows)
        if name != "Usage":
            self._ws.refresh_usage()

    def table_names(self) -> list[str]:
        return self._ws.tables.names()


def _user(user: object) -> DirectoryUser | None:
    if user is not None and not isinstance(user, DirectoryUser):
        raise InvalidInputError(f"user={user!r:.100}: expected a DirectoryUser (emu.directory_user(...)) or None")
    return user


def _tenants(value: object, name: str) -> frozenset[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInputError(f"{name}={value!r:.100}: expected a list of tenant ids")
    return frozenset(validate_guid(t, f"{name} tenant").lower() for t in value)


class Emulator:
    """A stateful in-memory Sentinel workspace + Defender tenant answering the public REST routes.

    ``Emulator(now=datetime(2025, 11, 20, tzinfo=UTC), seed=0)`` generates, relative to *now*, *incidents*
    Defender incidents created in the last 14 days (plus ``round(incidents * 0.05)`` older ones and as many of the
    workspace's own "Azure Sentinel" incidents: ``incidents=12`` holds 14), their alerts and entities, append-only
    SecurityIncident/SecurityAlert rows, rows for the ten Device* tables over 16 days, and Usage.
    ``dataset=False`` leaves SecurityIncident, SecurityAlert and Usage empty, the Device* tables absent and the
    incident list empty (ARM resources are still seeded from the official examples).

    ``unified_portal=True`` models a workspace onboarded to the Defender portal: incidents under
    "Microsoft XDR", no Microsoft incident creation rules, the MicrosoftThreatProtection connector present.
    ``xdr_share`` (0..1) names only the newest share of incidents "Microsoft XDR" (default 0, or 1 when unified).

    Use ``credential()``/``async_credential()`` for tokens, ``transport()``/``async_transport()`` for httpx,
    ``serve()`` for a loopback server; ``faults`` injects failures; ``requests`` logs every request;
    ``incident_control()`` scripts incident activity (create, modify, Defender-side drift).
    """

    def __init__(
        self,
        *,
        now: datetime | Callable[[], datetime] | None = None,
        seed: int = 0,
        dataset: bool = True,
        incidents: int = 240,
        unified_portal: bool = False,
        xdr_share: float | None = None,
        strict_tokens: bool = True,
        workspaces: int = 1,
        tenants: int = 1,
        latency: float = 0.0,
    ) -> None:
        if not isinstance(incidents, int) or incidents < 0:
            raise InvalidInputError(f"incidents={incidents!r}: expected a non-negative integer")
        check_int(workspaces, "workspaces", 1, 10_000)
        check_int(tenants, "tenants", 1, workspaces)
        check_number(latency, "latency", 0, 60)
        share = (1.0 if unified_portal else 0.0) if xdr_share is None else check_number(xdr_share, "xdr_share", 0, 1)
        self.clock: Clock = Clock(now)
        ids = random.Random(f"ids/{seed}")

        def guid() -> str:
            return str(uuid.UUID(int=ids.getrandbits(128), version=4))

        self.subscription_id: str = guid()
        self.tenant_id: str = guid()
        self.customer_id: str = guid()
        self.resource_group: str = "rg-sentinel"
        self.workspace_name: str = "law-sentinel"
        self._tokens = TokenStore(self.clock)
        self.faults: Faults = Faults(self._tokens)
        self._workspace = Workspace(
            clock=self.clock,
            subscription_id=self.subscription_id,
            resource_group=self.resource_group,
            workspace_name=self.workspace_name,
            tenant_id=self.tenant_id,
            customer_id=self.customer_id,
            unified_portal=unified_portal,
        )
        if dataset:
            data = generate(
                seed=seed, now=self.clock.now(), tenant_id=self.customer_id, incidents=incidents, xdr_share=share
            )
            self._workspace.load_dataset(data)
        else:
            self._workspace.create_tables()  # a Sentinel workspace without data still has these tables
        self.state: State = State(self._workspace)
        self._control: IncidentControl | None = None
        self._core = Core(
            workspace=self._workspace,
            tokens=self._tokens,
            faults=self.faults,
            clock=self.clock,
            strict_tokens=strict_tokens,
        )
        self._core.latency = float(latency)
        self._responder: Responder = self._core
        self._fleet: FleetRouter | None = None
        if workspaces > 1:
            self._fleet = self._build_fleet(guid, workspaces, tenants, latency, dataset)
            self._responder = self._fleet
        fleet = self._fleet
        self._core.cross = CrossWorkspace(  # cross-workspace queries: the fleet's members, built when referenced
            fleet.members if fleet else [self._member()],
            (lambda i: fleet.core(i).ws.tables) if fleet else (lambda i: self._core.ws.tables),
        )

    def _member(self) -> Member:
        return Member(self.subscription_id, self.resource_group, self.workspace_name, self.tenant_id, self.customer_id)

    def _build_fleet(
        self,
        guid: Callable[[], str],
        workspaces: int,
        tenants: int,
        latency: float,
        dataset: bool,
    ) -> FleetRouter:
        """Members 1..N-1 beside this workspace (member 0), in ``tenants`` tenants of one subscription each.

        A member is built on its first request, holding the first workspace's table rows as they are then (shared
        row objects, so a member costs little memory) but none of its ARM incidents."""
        homes = [(self.tenant_id, self.subscription_id)] + [(guid(), guid()) for _ in range(tenants - 1)]
        members = [self._member()]
        for i in range(1, workspaces):
            tenant, sub = homes[i % tenants]
            members.append(Member(sub, self.resource_group, f"{self.workspace_name}-{i:04d}", tenant, guid()))
        primary = self._core

        def build(m: Member) -> Core:
            ws = Workspace(
                clock=self.clock,
                subscription_id=m.subscription_id,
                resource_group=m.resource_group,
                workspace_name=m.workspace_name,
                tenant_id=m.tenant_id,
                customer_id=m.customer_id,
                unified_portal=primary.ws.unified_portal,
            )
            source = primary.ws.tables
            with primary.lock:  # the first workspace may be answering a request meanwhile
                for name in source.names():  # its tables: its row objects (never changed in place), each
                    ws.tables.create(name, source.schemas[name])  # member its own lists: ~0.2 MB each
                    ws.tables.rows[name] = list(source.rows[name]) if dataset else []
            core = Core(
                workspace=ws,
                tokens=self._tokens,
                faults=self.faults,
                clock=self.clock,
                strict_tokens=primary.strict_tokens,
                engine=primary.engine,
            )
            core.requests, core.latency = primary.requests, primary.latency  # each its own lock: in parallel
            core.cross = primary.cross
            return core

        return FleetRouter(primary, members, build, latency=float(latency))

    @property
    def workspace_resource_ids(self) -> list[str]:
        """Every workspace this emulator hosts (``workspaces=N``: N ids in ``tenants`` tenants), the first being
        ``workspace_resource_id``. A workspace's data is built on its first request."""
        if self._fleet is None:
            return [self.workspace_resource_id]
        return [m.resource_id for m in self._fleet.members]

    @property
    def workspace_tenants(self) -> dict[str, str]:
        """The tenant id of each hosted workspace, by resource id."""
        if self._fleet is None:
            return {self.workspace_resource_id: self.tenant_id}
        return {m.resource_id: m.tenant_id for m in self._fleet.members}

    def workspace_state(self, resource_id: str) -> State:
        """The ``State`` switches of one hosted workspace (built now if it was not yet); InvalidInputError for an id
        this emulator does not host."""
        ids = self.workspace_resource_ids
        lowered = [i.lower() for i in ids]
        if not isinstance(resource_id, str) or resource_id.lower() not in lowered:
            raise InvalidInputError(f"resource_id={resource_id!r:.200}: not a workspace of this emulator")
        if self._fleet is None:
            return self.state
        return State(self._fleet.core(lowered.index(resource_id.lower())).ws)

    # -- addressing -----------------------------------------------------------------------------------
    @property
    def workspace_resource_id(self) -> str:
        """``/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<ws>``."""
        return self._workspace.resource_id

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received, in order (method, path, query, body, host)."""
        return self._core.requests

    def writes(self) -> list[RequestRecord]:
        """The requests that change state (PUT/PATCH/DELETE and non-read POSTs)."""
        return [r for r in self._core.requests if r.is_write]

    @property
    def content(self) -> ContentHub:
        """Content hub of the workspace (the Microsoft Defender XDR solution's catalogue, installed content, rule
        templates): ``emu.content.publish(content_id, "1.0.1", query=...)`` publishes a new template version."""
        return self._core.content

    def incident_control(self) -> IncidentControl:
        """Scripted incident activity on this emulator (one shared instance): create incidents one by one or in
        bulk, modify them as an analyst would, change the Defender side with or without sync. See docs/emulator.md."""
        if self._control is None:
            self._control = IncidentControl(self)
        return self._control

    def workspace_incident_control(self, resource_id: str) -> IncidentControl:
        """``incident_control()`` for one hosted workspace of a fleet (built now if it was not yet): its incidents,
        the emulator's clock. InvalidInputError for an id this emulator does not host."""
        self.workspace_state(resource_id)  # checks the id
        if self._fleet is None:
            return self.incident_control()
        index = [i.lower() for i in self.workspace_resource_ids].index(resource_id.lower())
        return IncidentControl(self, self._fleet.core(index))

    def advance(self, delta: timedelta) -> datetime:
        """Move the emulator clock forward (tokens age; data stays where it is). Returns the new now."""
        return self.clock.advance(delta)

    def time(self) -> float:
        """The emulator clock in POSIX seconds (UTC): pass as ``Session(clock=emu.time)`` so token expiry and
        HTTP-date ``Retry-After`` are measured on the clock the emulator issues tokens and dates by."""
        return self.clock.now().timestamp()

    # -- clients ----------------------------------------------------------------------------------------
    @property
    def token_requests(self) -> dict[str, int]:
        """Token requests answered so far by this emulator's ``credential()`` credentials, per audience
        (``"https://management.azure.com"``, ``"https://api.loganalytics.io"``, ``"https://graph.microsoft.com"``)."""
        counts: dict[str, int] = {}
        for scope in self._tokens.issued:
            audience = audience_of_scope(scope)
            counts[audience] = counts.get(audience, 0) + 1
        return counts

    @property
    def token_lifetime(self) -> timedelta:
        """How long each token the emulator issues lives (1 hour)."""
        return timedelta(seconds=self._tokens.lifetime_s)

    def credential(self, user: DirectoryUser | None = None) -> EmulatorCredential:
        """A TokenCredential: ``get_token(scope)`` -> ``AccessToken("emu-<audience host>-<n>", now + 1 h)``, a token
        that may do everything. ``user`` (``directory_user(...)``): sign in as that user instead (JWT-shaped tokens
        of the tenant asked for, carrying its tenant and roles)."""
        return EmulatorCredential(self._tokens, _user(user))

    def async_credential(self, user: DirectoryUser | None = None) -> EmulatorAsyncCredential:
        """An ``azure.identity.aio``-style credential (``await get_token(scope)``) over the same tokens, for
        ``m365sentinel.aio`` with ``async_transport()``; ``user`` as ``credential``."""
        return EmulatorAsyncCredential(self._tokens, _user(user))

    def directory_user(
        self, upn: str, *, tenant: str, member_of: Iterable[str] = (), admin_of: Iterable[str] = ()
    ) -> DirectoryUser:
        """A Microsoft Entra user of ``tenant``, also a member of ``member_of``, Global Administrator in
        ``admin_of`` (tenant ids). Through a credential of it, ARM answers every hosted workspace (as an Azure
        Lighthouse delegation would), Graph answers for the token's tenant, and connecting the Defender XDR
        connector needs an administrator's token of the workspace's own tenant (else 403 AuthorizationFailed)."""
        home = validate_guid(tenant, "tenant").lower()
        members, admins = _tenants(member_of, "member_of"), _tenants(admin_of, "admin_of")
        return DirectoryUser(check_text(upn, "upn"), home, members | admins | {home}, admins)

    def transport(self) -> EmulatorTransport:
        """An ``httpx.BaseTransport`` answering every route in-process (host-agnostic). It carries ``clock``
        (``emu.time``): a Session or lone Connector given it without ``clock=`` measures token expiry on the
        emulator's clock, so a pinned clock does not make every token look expired."""
        return EmulatorTransport(self._responder, self.time)

    def async_transport(self) -> EmulatorAsyncTransport:
        """An ``httpx.AsyncBaseTransport`` answering every route in-process."""
        return EmulatorAsyncTransport(self._responder, self.time)

    def serve(self, host: str = "127.0.0.1", port: int = 0, *, tls: ssl.SSLContext | None = None) -> LoopbackServer:
        """Start a loopback HTTP server in a background thread; use as a context manager or call ``close()``.

        ``host``: a loopback address (127.0.0.0/8, ``::1``, ``localhost``); ``port``: 0 (any free port) to 65535.
        ``tls``: a server-side ``ssl.SSLContext`` holding a certificate for ``host`` (e.g. a throwaway one from
        ``trustme``) to serve HTTPS instead: ``.url`` is then ``https://...`` and clients trust the certificate
        through their own settings (``httpx.HTTPTransport(verify=...)`` as ``transport=``).
        InvalidInputError for anything else, or when the port cannot be bound (e.g. in use)."""
        check_text(host, "host", expected="a loopback address such as 127.0.0.1")
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise InvalidInputError(f"host={host!r}: the emulator serves on a loopback address only (e.g. 127.0.0.1)")
        check_int(port, "port", 0, 65535)
        if tls is not None and not isinstance(tls, ssl.SSLContext):
            raise InvalidInputError(f"tls={tls!r}: expected None or a server-side ssl.SSLContext")
        try:
            return LoopbackServer(self._responder, host, port, tls).start()
        except OSError as exc:
            raise InvalidInputError(f"cannot serve on {host}:{port}: {exc.strerror}") from exc

    def close(self) -> None:
        """Release the query engine's connection."""
        self._core.engine.close()

    # -- ground truth -----------------------------------------------------------------------------------
    def count_incidents_created(
        self, start: datetime, end: datetime, provider_names: Iterable[str] | None = None
    ) -> int:
        """Distinct incidents whose CreatedTime is in [start, end), among the Defender provider names of
        m365sentinel/_data/providers.json (or *provider_names*)."""
        with self._core.lock:
            return len(self._workspace.incidents_created(as_utc(start, "start"), as_utc(end, "end"), provider_names))

    def _bins(self, days: int) -> list[tuple[datetime, datetime]]:
        if not isinstance(days, int) or days < 1:
            raise InvalidInputError(f"days={days!r}: expected a positive integer")
        now = self.clock.now()
        return [(now - timedelta(days=k), now - timedelta(days=k - 1)) for k in range(days, 0, -1)]

    def daily_incident_counts(
        self, days: int = 14, provider_names: Iterable[str] | None = None
    ) -> list[tuple[datetime, int]]:
        """[(bin start, distinct Defender incidents created in [start, start + 1 d))], oldest first; the last
        bin ends at now (the bins of ``bin_at(TimeGenerated, 1d, now())``)."""
        return [(lo, self.count_incidents_created(lo, hi, provider_names)) for lo, hi in self._bins(days)]

    def populate_ueba(self, *, days: int = 14, users: int = 12) -> None:
        """UEBA writes its tables: ``IdentityInfo`` (one row per user per day) and ``BehaviorAnalytics`` (a few
        activities per user per day) over the last *days* days, then Usage is recomputed (case A6: until this is
        called, enabling UEBA leaves both tables absent).

        Raises InvalidInputError when UEBA is not enabled (no EntityAnalytics/Ueba setting with a non-empty list).
        """
        if not isinstance(days, int) or days < 1 or not isinstance(users, int) or users < 1:
            raise InvalidInputError(f"days={days!r}, users={users!r}: expected positive integers")
        with self._core.lock:
            settings = self._workspace.settings
            ea = (settings.get("entityanalytics") or {}).get("properties", {}).get("entityProviders")
            ueba = (settings.get("ueba") or {}).get("properties", {}).get("dataSources")
            if not ea or not ueba:
                raise InvalidInputError(
                    "UEBA is not enabled: PUT settings/EntityAnalytics (entityProviders) and settings/Ueba "
                    "(dataSources) first"
                )
            rows = ueba_rows(
                random.Random(f"ueba/{self.customer_id}"), self.clock.now(), self.customer_id, days=days, users=users
            )
            for table, items in rows.items():
                if table not in self._workspace.tables.schemas:
                    self._workspace.tables.create(table, self._workspace.schemas[table])
                self._workspace.tables.append(table, items)
            self._workspace.refresh_usage()

    def populate_hunting_tables(self, *, rows: int = 5) -> None:
        """The connector's advanced hunting tables beyond Device* (Email*, Identity*, CloudAppEvents, AlertInfo,
        AlertEvidence, UrlClickEvents) receive *rows* rows each in the last day (typed by the Sentinel-side
        schemas ``kql.schema_for`` gives, ``Timestamp`` included), then Usage is recomputed. A table that
        already exists keeps its columns. The UEBA tables come from ``populate_ueba``.

        Raises InvalidInputError for a non-positive *rows*."""
        from m365sentinel.kql import schema_for

        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise InvalidInputError(f"rows={rows!r}: expected a positive integer")
        with self._core.lock:
            tables = self._workspace.tables
            schemas: dict[str, tuple[tuple[str, str | None], ...]] = {}
            for name in HUNTING_TABLES:
                if name not in tables.schemas:
                    schema = schema_for(name)
                    cols = schema.columns if schema is not None else tuple(self._workspace.schemas[name])
                    tables.create(name, [(c, k or "string") for c, k in cols])
                schemas[name] = tuple(tables.schemas[name])
            generated = hunting_rows(
                random.Random(f"hunting/{self.customer_id}"), self.clock.now(), self.customer_id, schemas, rows=rows
            )
            for name, items in generated.items():
                tables.append(name, items)
            self._workspace.refresh_usage()

    def daily_alert_counts(
        self, days: int = 14, product_names: Iterable[str] | None = None
    ) -> list[tuple[datetime, int]]:
        """[(bin start, Defender alerts whose first SecurityAlert row falls in [start, start + 1 d))], oldest first
        (the bins of ``daily_incident_counts``); products default to providers.json's alert product names."""
        names = set(product_names) if product_names is not None else set(self._alert_products())
        bins = self._bins(days)
        first: dict[str, datetime] = {}
        with self._core.lock:
            rows = list(self._workspace.tables.rows.get("SecurityAlert", []))
        for row in rows:
            t = time_of(row)
            if row.get("ProductName") not in names or t is None:
                continue
            key = str(row.get("SystemAlertId"))
            if key not in first or t < first[key]:
                first[key] = t
        return [(lo, sum(1 for t in first.values() if lo <= t < hi)) for lo, hi in bins]

    def daily_usage_mb(self, table: str, days: int = 14) -> list[tuple[datetime, float]]:
        """[(bin start, Usage.Quantity (MB) of *table* with TimeGenerated in [start, start + 1 d))], oldest first."""
        bins = self._bins(days)
        totals = [0.0] * len(bins)
        with self._core.lock:
            rows = [r for r in self._workspace.tables.rows.get("Usage", []) if r.get("DataType") == table]
        for row in rows:
            t = time_of(row)
            for i, (lo, hi) in enumerate(bins):
                if t is not None and lo <= t < hi:
                    totals[i] += float(row.get("Quantity") or 0)
                    break
        return [(lo, v) for (lo, _), v in zip(bins, totals, strict=True)]

    @staticmethod
    def _alert_products() -> tuple[str, ...]:
        import json
        from importlib import resources

        raw = json.loads(resources.files("m365sentinel._data").joinpath("providers.json").read_text("utf-8"))
        return tuple(raw["alert_product_names"])

    def daily_row_counts(
        self, table: str, days: int = 14, where: Mapping[str, Any] | None = None
    ) -> list[tuple[datetime, int]]:
        """[(bin start, rows of *table* with TimeGenerated in [start, start + 1 d))], oldest first; *where*
        keeps only rows whose columns equal the given values."""
        bins = self._bins(days)
        counts = [0] * len(bins)
        with self._core.lock:
            rows = list(self._workspace.tables.rows.get(table, []))
        for row in rows:
            if where and any(row.get(k) != v for k, v in where.items()):
                continue
            t = time_of(row)
            if t is None:
                continue
            for i, (lo, hi) in enumerate(bins):
                if lo <= t < hi:
                    counts[i] += 1
                    break
        return [(lo, n) for (lo, _), n in zip(bins, counts, strict=True)]
