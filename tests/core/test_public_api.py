import types

import m365sentinel


def test_all_is_unique_and_complete():
    # Submodules other tests import (emulator, cli) become attributes too; only kql and models are exported.
    public = {
        n
        for n in dir(m365sentinel)
        if not n.startswith("_") and not isinstance(getattr(m365sentinel, n), types.ModuleType)
    }
    assert len(set(m365sentinel.__all__)) == len(m365sentinel.__all__)
    lazy = {"__version__", *m365sentinel._LAZY}  # loaded on first access (PEP 562)
    assert set(m365sentinel.__all__) == public - {"annotations"} | lazy
    for name in lazy:
        assert getattr(m365sentinel, name) is not None


def test_exported_classes_report_the_package():
    for name in ("Connector", "Plan", "SentinelError", "ConsentRequiredError", "Cloud", "ApiVersions"):
        assert getattr(m365sentinel, name).__module__ == "m365sentinel"


def test_import_does_not_load_azure_identity_or_the_emulator():
    import subprocess
    import sys

    code = (
        "import sys, m365sentinel; print(sorted(m for m in ('azure.identity', 'm365sentinel.emulator', 'duckdb') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_chart_writers_are_public():
    from m365sentinel import _charts

    assert (m365sentinel.write_png, m365sentinel.write_svg) == (_charts.write_png, _charts.write_svg)
    assert m365sentinel.ChartsUnavailableError is _charts.ChartsUnavailableError


def test_incident_update_fields_are_typed_not_any():
    import typing

    import m365sentinel.models
    from m365sentinel._incidents import _handle

    # The hints name model classes imported only for type checking: resolve them from the models package.
    names = {n: getattr(m365sentinel.models, n) for n in m365sentinel.models.__all__}
    hints = typing.get_type_hints(m365sentinel.IncidentHandle.update, vars(_handle) | names)
    loose = sorted(name for name, hint in hints.items() if hint is typing.Any or typing.Any in typing.get_args(hint))
    assert loose == []
    assert hints["severity"] == m365sentinel.models.IncidentSeverity | str | _handle._Unset


_FIRST_LISTING = """
import collections, sys, httpx
import m365sentinel
eager = sorted(m for m in ("asyncio", "m365sentinel._plan", "importlib.metadata") if m in sys.modules)
Token = collections.namedtuple("Token", "token expires_on")

class Credential:
    def get_token(self, *scopes, **kw):
        return Token("t", 4_102_444_800)

page = {"value": [{"id": "/x/incidents/i1", "name": "i1", "etag": '"1"', "properties": {
    "title": "t", "severity": "High", "status": "New", "incidentNumber": 1, "providerName": "Microsoft XDR",
    "createdTimeUtc": "2026-03-01T00:00:00Z", "lastModifiedTimeUtc": "2026-03-01T00:00:00Z", "labels": []}}]}
transport = httpx.MockTransport(lambda request: httpx.Response(200, json=page, headers={"Date": "Mon, 02 Mar 2026 09:00:00 GMT"}))
ws = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law-bench"
with m365sentinel.Connector(ws, credential=Credential(), transport=transport) as connector:
    assert [item.id for item in connector.incidents()] == ["i1"]
first = sorted(m for m in ("azure.core", "importlib.metadata", "m365sentinel.kql", "m365sentinel._plan",
    "m365sentinel._incidents._blob", "m365sentinel._incidents._graph", "asyncio") if m in sys.modules)
print(eager, first)
"""


def test_a_first_listing_loads_only_what_it_uses() -> None:
    """Fixed costs of a run (issue 17): ``import m365sentinel`` leaves asyncio and the plan machinery alone, and a
    first incident listing loads no Blob store (azure-core's pipeline), Graph side, kql package or distribution
    metadata, none of which the listing uses."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _FIRST_LISTING], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[] []"
