"""Provider and product names of Defender XDR data, loaded from ``_data/providers.json``.

The names changed over time ("Microsoft 365 Defender" → "Microsoft XDR" / "Microsoft Defender XDR", and the
component products were renamed); they are data kept in one table, never literals in code (DESIGN, case E3).
"""

from __future__ import annotations

import json
from functools import cache

import attrs

__all__ = ["ProviderNames", "provider_names"]


@attrs.frozen
class ProviderNames:
    """Names under which Defender XDR data appears.

    - ``incident_providers``: ``SecurityIncident.ProviderName`` / ARM ``providerName`` values of Defender incidents.
    - ``unified_portal_providers``: the subset that shows a workspace onboarded to the unified Defender portal.
    - ``alert_products``: ``SecurityAlert.ProductName`` values of the Defender products (legacy and current).
    - ``covered_incident_creation_products``: ``productFilter`` values of the Microsoft incident creation rules that
      the Defender XDR connector makes redundant (turned off to avoid duplicate incidents; case A5).
    """

    incident_providers: tuple[str, ...]
    unified_portal_providers: tuple[str, ...]
    alert_products: tuple[str, ...]
    covered_incident_creation_products: tuple[str, ...]

    def is_defender_incident_provider(self, name: str | None) -> bool:
        return name is not None and name.casefold() in {n.casefold() for n in self.incident_providers}

    def is_covered_product(self, product: str | None) -> bool:
        return product is not None and product.casefold() in {
            n.casefold() for n in self.covered_incident_creation_products
        }


@cache
def provider_names() -> ProviderNames:
    """The shipped table (read once)."""
    from importlib.resources import files  # here: `import m365sentinel` needs no table (~1 ms)

    data = json.loads(files("m365sentinel._data").joinpath("providers.json").read_text("utf-8"))
    return ProviderNames(
        incident_providers=tuple(data["incident_provider_names"]),
        unified_portal_providers=tuple(data["unified_portal_provider_names"]),
        alert_products=tuple(data["alert_product_names"]),
        covered_incident_creation_products=tuple(data["incident_creation_rule_products_covered_by_defender_xdr"]),
    )
