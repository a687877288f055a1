"""Paging decisions (pure): read a page's next link and build the next request from it.

The next link is requested exactly as the service gave it: no api-version, ``$top``, ``$filter`` or anything
else is re-appended (case B3). It must stay on the first request's origin, checked before any token is sent.
There is no page cap: paging ends when the service stops returning a link.
"""

from __future__ import annotations

from typing import Any

import attrs
import httpx

from .._errors import SerializationError, UnsafeRequestError
from ._clouds import origin_of
from ._requests import RequestSpec

__all__ = ["next_link_of", "next_page_spec"]


def next_link_of(page: Any, key: str) -> str | None:
    """The page's next link under ``key`` (``nextLink`` for ARM, ``@odata.nextLink`` for Graph), or None when
    absent, null or empty. Raises SerializationError when the page is not an object or the link not a string."""
    if not isinstance(page, dict):
        raise SerializationError(f"expected a JSON object page, got {type(page).__name__}")
    link = page.get(key)
    if link is None or link == "":
        return None
    if not isinstance(link, str):
        raise SerializationError(f"page field {key!r} must be a URL string, got {type(link).__name__}")
    return link


def next_page_spec(spec: RequestSpec, first_url: str, next_link: str) -> RequestSpec:
    """The GET for ``next_link`` with ``spec``'s audience and headers (Graph's Prefer stays on every page).

    A relative link is resolved against the current URL. Raises UnsafeRequestError when the link leaves the
    first request's origin, and SerializationError when it repeats the current URL (a loop).
    """
    target = httpx.URL(spec.url).join(next_link) if "://" not in next_link else httpx.URL(next_link)
    if origin_of(target) != origin_of(first_url):
        scheme, host, port = origin_of(target)
        raise UnsafeRequestError(
            f"refusing to follow a nextLink to {scheme}://{host}:{port}: it leaves the origin of the first "
            "request, and the bearer token must not be sent there"
        )
    url = next_link if "://" in next_link else str(target)
    return attrs.evolve(spec, method="GET", url=url, json=None, retry_post=False)
