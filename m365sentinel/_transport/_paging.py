"""Paging decisions (pure): one ``Pager`` for every API that pages by a link in the page.

ARM (``nextLink``), Graph (``@odata.nextLink``) and collections expanded inside an item (``alerts@odata.nextLink``)
all page the same way, so one decision object serves them; the sync client drives it, an async twin can too.

The rules, the same for each API:

* the next link is requested exactly as the service gave it: no api-version, ``$top``, ``$filter`` or anything
  else is re-appended (case B3); a relative link is resolved against the current URL;
* it must stay on the first request's origin, checked before any token is sent (``UnsafeRequestError``);
* a link already requested in this iteration is a cycle (a page linking to itself, or A -> B -> A): it would page
  forever (``SerializationError``);
* the same non-empty page content (its length and the ids of its first and last items) under new links three
  times in a row is treated as a cycle too. Twice in a row can be genuine: with offset paging, a page's worth of
  items inserted ahead of the offset between two requests shifts the same items into the next page;
* there is no page cap: paging ends when the service stops returning a link.
"""

from __future__ import annotations

from typing import Any

import attrs
import httpx

from .._errors import SerializationError, UnsafeRequestError
from ._clouds import origin_of
from ._logging import redact_text
from ._requests import RequestSpec

__all__ = ["Pager", "next_link_of", "next_page_spec"]

# Identical non-empty pages in a row (under new links) treated as a loop; see the module docstring.
MAX_REPEATED_PAGES = 3


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
    first request's origin, SerializationError when it is not a URL (httpx's InvalidURL is no SentinelError).
    """
    try:
        target = httpx.URL(spec.url).join(next_link) if "://" not in next_link else httpx.URL(next_link)
    except httpx.InvalidURL as exc:
        shown = redact_text(next_link[:200])
        raise SerializationError(f"the page's next link is not a URL ({exc}): {shown!r}") from None
    if origin_of(target) != origin_of(first_url):
        scheme, host, port = origin_of(target)
        raise UnsafeRequestError(
            f"refusing to follow a nextLink to {scheme}://{host}:{port}: it leaves the origin of the first "
            "request, and the bearer token must not be sent there"
        )
    url = next_link if "://" in next_link else str(target)
    return attrs.evolve(spec, method="GET", url=url, json=None, retry_post=False)


def _content_key(items: Any) -> tuple[int, str, str] | None:
    """What identifies a page's content for the repeat check: its length and the ids of its first and last items
    (O(1): a page of 1,000 costs nothing measurable). None when the page has no items or those items have no string
    id (then only the link checks apply)."""
    if not isinstance(items, list) or not items:
        return None
    first, last = items[0], items[-1]
    first_id = first.get("id") if isinstance(first, dict) else None
    last_id = last.get("id") if isinstance(last, dict) else None
    if not isinstance(first_id, str) or not isinstance(last_id, str):
        return None
    return len(items), first_id, last_id


class Pager:
    """Decides, page by page, which request comes next (I/O-free).

    ::

        pager = Pager(first_spec, link_key="@odata.nextLink")
        spec = first_spec
        while spec is not None:
            page = send(spec)
            spec = pager.follow(page)

    ``link_key``: ``"nextLink"`` (ARM), ``"@odata.nextLink"`` (Graph) or ``"alerts@odata.nextLink"`` (an expanded
    collection; its first page is the parent item, ``items_key="alerts"``). ``items_key``: where a page's items are
    (for the repeated-content check).
    """

    def __init__(self, first: RequestSpec, *, link_key: str = "nextLink", items_key: str = "value") -> None:
        self.link_key = link_key
        self.items_key = items_key
        self._first_url = first.url
        self._current = first
        self._seen = {first.url}
        self._last_content: tuple[int, str, str] | None = None
        self._repeats = 0

    def follow(self, page: Any) -> RequestSpec | None:
        """The request for the page after ``page`` (the answer to the last request), or None at the end.

        Raises SerializationError for a page that is not a JSON object, a link that is not a string, a link
        already requested in this iteration, or the same content three times in a row; UnsafeRequestError for a
        link to another origin. Nothing is requested after a raise."""
        link = next_link_of(page, self.link_key)
        if link is None:
            return None
        self._check_content(page.get(self.items_key))
        following = next_page_spec(self._current, self._first_url, link)
        if following.url in self._seen:  # a page linking to itself, or A -> B -> A, would page forever
            raise SerializationError(f"{self.link_key} cycle: {following.url} was already requested")
        self._seen.add(following.url)
        self._current = following
        return following

    def continued(self, *, link_key: str, items_key: str) -> Pager:
        """This iteration under other keys, its links and content still checked against everything seen: an
        expanded collection's first page is its parent item (``alerts@odata.nextLink``, ``alerts``), the pages its
        link leads to are ordinary collection pages (``@odata.nextLink``, ``value``)."""
        other = Pager(self._current, link_key=link_key, items_key=items_key)
        other._first_url, other._seen = self._first_url, self._seen
        other._last_content, other._repeats = self._last_content, self._repeats
        return other

    def _check_content(self, items: Any) -> None:
        key = _content_key(items)
        if key is not None and key == self._last_content:
            self._repeats += 1
            if self._repeats + 1 >= MAX_REPEATED_PAGES:
                raise SerializationError(
                    f"{self.link_key} cycle: the same {key[0]} items came {self._repeats + 1} times in a row under "
                    "new links; the service is not progressing"
                )
        else:
            self._repeats = 0
        self._last_content = key
