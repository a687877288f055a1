"""Clouds and token audiences (DESIGN "Facts": two axes, the Azure cloud and the Graph environment).

I/O-free. ``Cloud.resolve`` knows the public clouds; ``Cloud.custom`` takes explicit endpoints (private
clouds, the loopback emulator). Token scope = the audience URL + ``/.default``.
"""

from __future__ import annotations

import enum
import ipaddress
import re

import attrs
import httpx

from .._errors import InvalidInputError, UnsupportedCloudError

__all__ = ["Audience", "Cloud", "is_loopback_host", "origin_of"]

_CHINA_MESSAGE = (
    "Azure China (AzureChinaCloud) is not supported: Microsoft Sentinel was retired there in August 2026. "
    "Use 'AzureCloud' or 'AzureUSGovernment', or Cloud.custom(...) for a private cloud."
)
_CHINA_NAMES = frozenset({"azurechinacloud", "azurechina", "china", "chinacloud", "mooncake"})


class Audience(enum.Enum):
    """Which API a request goes to; decides the endpoint, the token scope and the credential used."""

    ARM = "arm"
    LOG_ANALYTICS = "log_analytics"
    GRAPH = "graph"


# name -> (authority, arm, log analytics query host, log analytics audience, default graph environment)
_AZURE_CLOUDS: dict[str, tuple[str, str, str, str, str]] = {
    "AzureCloud": (
        "https://login.microsoftonline.com",
        "https://management.azure.com",
        "https://api.loganalytics.azure.com",
        "https://api.loganalytics.io",
        "Global",
    ),
    "AzureUSGovernment": (
        "https://login.microsoftonline.us",
        "https://management.usgovcloudapi.net",
        "https://api.loganalytics.us",
        "https://api.loganalytics.us",
        "GCCHigh",
    ),
}
_GRAPH_HOSTS: dict[str, str] = {
    "Global": "https://graph.microsoft.com",
    "GCC": "https://graph.microsoft.com",
    "GCCHigh": "https://graph.microsoft.us",
    "DoD": "https://dod-graph.microsoft.us",
}
# GCC tenants sign in to the commercial cloud; GCC High and DoD to the US Government cloud.
_GRAPH_FOR_CLOUD: dict[str, frozenset[str]] = {
    "AzureCloud": frozenset({"Global", "GCC"}),
    "AzureUSGovernment": frozenset({"GCCHigh", "DoD"}),
}


def _key(name: str) -> str:
    return re.sub(r"[\s_-]", "", name).lower()


_CLOUD_BY_KEY = {_key(n): n for n in _AZURE_CLOUDS}
_GRAPH_BY_KEY = {_key(n): n for n in _GRAPH_HOSTS}


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (the only hosts plain http may reach)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_of(url: str | httpx.URL) -> tuple[str, str, int]:
    """``(scheme, host, port)`` with the scheme's default port filled in, for origin comparisons."""
    u = httpx.URL(url) if isinstance(url, str) else url
    port = u.port if u.port is not None else {"https": 443, "http": 80}.get(u.scheme, -1)
    return (u.scheme, u.host.lower(), port)


def _endpoint(value: object, what: str) -> tuple[str, bool]:
    """Validate one endpoint; return it without a trailing slash and whether it is http on loopback."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{what} must be an absolute https URL such as https://host, got {value!r}")
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidInputError(f"{what} must be an absolute https URL such as https://host, got {value!r}") from exc
    if not url.host or url.scheme not in ("https", "http") or url.query or url.fragment or url.userinfo:
        raise InvalidInputError(
            f"{what} must be an absolute https URL with no query, fragment or credentials, got {value!r}"
        )
    http_loopback = url.scheme == "http"
    if http_loopback and not is_loopback_host(url.host):
        raise InvalidInputError(
            f"{what} must use https (plain http is allowed only for loopback hosts such as "
            f"http://127.0.0.1:8080), got {value!r}"
        )
    return value.rstrip("/"), http_loopback


@attrs.frozen
class Cloud:
    """Endpoints of one Azure cloud plus one Microsoft Graph environment. All URLs have no trailing slash.

    - ``authority``: sign-in authority (for building credentials; the transport does not call it).
    - ``arm``: Azure Resource Manager endpoint, also the ARM token audience.
    - ``log_analytics``: Log Analytics query host; ``log_analytics_audience``: its token audience.
    - ``graph``: Microsoft Graph host, also its token audience.
    - ``allow_http_loopback``: plain http may be used for loopback hosts (the local emulator).
    """

    name: str
    authority: str
    arm: str
    log_analytics: str
    log_analytics_audience: str
    graph: str
    allow_http_loopback: bool = False

    @classmethod
    def resolve(cls, name: str = "AzureCloud", graph: str | None = None) -> Cloud:
        """The public cloud ``name`` ("AzureCloud" or "AzureUSGovernment", case-insensitive) with the Graph
        environment ``graph`` ("Global", "GCC", "GCCHigh", "DoD"; default Global for AzureCloud and GCCHigh
        for AzureUSGovernment).

        Raises UnsupportedCloudError for Azure China, unknown names, and mismatched pairs (AzureCloud with
        GCCHigh/DoD, AzureUSGovernment with Global/GCC).
        """
        if not isinstance(name, str):
            raise UnsupportedCloudError(f"cloud must be a name such as 'AzureCloud', got {name!r}")
        key = _key(name)
        if key in _CHINA_NAMES:
            raise UnsupportedCloudError(_CHINA_MESSAGE)
        canonical = _CLOUD_BY_KEY.get(key)
        if canonical is None:
            raise UnsupportedCloudError(
                f"unknown cloud {name!r}; expected one of {', '.join(repr(n) for n in _AZURE_CLOUDS)}, "
                "or Cloud.custom(...) with explicit endpoints"
            )
        authority, arm, la, la_audience, default_graph = _AZURE_CLOUDS[canonical]
        if graph is None:
            graph_env = default_graph
        else:
            found = _GRAPH_BY_KEY.get(_key(graph)) if isinstance(graph, str) else None
            if found is None:
                raise UnsupportedCloudError(
                    f"unknown Graph environment {graph!r}; expected one of {', '.join(repr(n) for n in _GRAPH_HOSTS)}"
                )
            graph_env = found
        if graph_env not in _GRAPH_FOR_CLOUD[canonical]:
            allowed = " or ".join(repr(g) for g in sorted(_GRAPH_FOR_CLOUD[canonical]))
            raise UnsupportedCloudError(
                f"Graph environment {graph_env!r} does not pair with cloud {canonical!r}; use {allowed}"
            )
        return cls(canonical, authority, arm, la, la_audience, _GRAPH_HOSTS[graph_env])

    @classmethod
    def custom(
        cls,
        *,
        arm: str,
        log_analytics: str,
        graph: str,
        authority: str = "https://login.microsoftonline.com",
        log_analytics_audience: str | None = None,
        name: str = "Custom",
    ) -> Cloud:
        """Explicit endpoints (a private cloud, or the loopback emulator).

        Every endpoint must be https, except loopback hosts (127.0.0.0/8, ``localhost``, ``::1``), which may
        use plain http and set ``allow_http_loopback``. Anything else raises InvalidInputError.
        """
        values = {
            "arm": arm,
            "log_analytics": log_analytics,
            "graph": graph,
            "authority": authority,
            "log_analytics_audience": log_analytics if log_analytics_audience is None else log_analytics_audience,
        }
        checked = {k: _endpoint(v, k) for k, v in values.items()}
        china = [v for v, _ in checked.values() if (httpx.URL(v).host or "").endswith((".cn", ".chinacloudapi.cn"))]
        if china:  # the same refusal as by name: custom endpoints must not route around it
            raise UnsupportedCloudError(f"{_CHINA_MESSAGE} (endpoint {china[0]})")
        return cls(
            name=name,
            authority=checked["authority"][0],
            arm=checked["arm"][0],
            log_analytics=checked["log_analytics"][0],
            log_analytics_audience=checked["log_analytics_audience"][0],
            graph=checked["graph"][0],
            allow_http_loopback=any(flag for _, flag in checked.values()),
        )

    def audience_url(self, audience: Audience) -> str:
        """The token audience for ``audience`` (ARM and Graph: their endpoint; Log Analytics: its audience)."""
        if audience is Audience.ARM:
            return self.arm
        if audience is Audience.LOG_ANALYTICS:
            return self.log_analytics_audience
        return self.graph

    def scope(self, audience: Audience) -> str:
        """OAuth scope for ``audience``: the audience URL + ``/.default``."""
        return self.audience_url(audience) + "/.default"

    def origins(self, audience: Audience) -> frozenset[tuple[str, str, int]]:
        """Origins a token for ``audience`` may be sent to (Log Analytics: the query host and the audience host,
        both valid query hosts in the public clouds)."""
        if audience is Audience.ARM:
            urls = [self.arm]
        elif audience is Audience.LOG_ANALYTICS:
            urls = [self.log_analytics, self.log_analytics_audience]
        else:
            urls = [self.graph]
        return frozenset(origin_of(u) for u in urls)
