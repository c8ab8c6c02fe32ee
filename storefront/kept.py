"""Pages kept with their answer, until the index changes.

Drawing a page of results (twelve cards, each with its links, heart and buttons; the sidebar's
facets; the header) cost far more than finding them. What it shows comes from answers kept until
the index moves (:mod:`search.query.answers`), so the page's HTML is kept beside them, once for
each way a shopper's own state draws it: signed in or not, staff or not, and which of the
products shown are their favourites. What belongs to one request, the CSRF token, the path a
card's buttons come back to and the shopper's name, is drawn as a slot and filled in for each
request, escaped as the template would have. So are the sidebar's facets, two thirds of a page
and the same on every page with the same filters: kept once, not once a page.

A kept page is kept cut at its slots, its text already encoded, so that answering it again is
a join: finding the slots in 70 KB of HTML and encoding it again cost a tenth of a repeat.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils.html import escape

from search.query.answers import remembered
from shoppers.selectors import favourite_ids
from storefront.context import FRAGMENT_HEADER

#: Stand-ins for the request's own values in a kept page: nothing a page shows looks like them.
CSRF_SLOT, HERE_SLOT, NAME_SLOT = "csrf-slot-4b1d9e", "/here-slot-4b1d9e", "name-slot-4b1d9e"
FACETS_SLOT = "facets-slot-4b1d9e"
#: Splits a page at its slots, keeping them (a capturing group): text, slot, text, ... text.
_SLOTS = re.compile("(" + "|".join(re.escape(slot) for slot in (CSRF_SLOT, HERE_SLOT, NAME_SLOT, FACETS_SLOT)) + ")")

#: Draws a page with the stand-ins it is given (template context); says whether it may be kept
#: (a page that shows more than the index, such as a notice about a running import, may not).
Draw = Callable[[dict[str, Any]], tuple[str, bool]]


@dataclass(frozen=True)
class StandIn:
    """The shopper as a kept page draws them: what they share with others, their name a slot."""

    is_authenticated: bool
    is_staff: bool
    username: str = NAME_SLOT


def kept_page(request: HttpRequest, question: Hashable, shown: Callable[[], list[dict[str, Any]]], draw: Draw,
              facets: Callable[[], str]) -> bytes:
    """The page answering ``question`` for this request, encoded: kept, or drawn; ``shown`` gives
    the results it shows, ``facets`` its sidebar's facets (drawn where the template puts
    ``facets_html``).

    A shopper with no favourites (every guest who has not kept one, most shoppers) sees the
    same page whatever it shows, so their page is looked up without asking for its results
    first: a page kept by another process costs one read of the shared cache, not two."""
    favourites = favourite_ids(request)
    liked = frozenset(favourites) & {result["id"] for result in shown()} if favourites else frozenset()
    shopper = StandIn(request.user.is_authenticated, request.user.is_staff)
    fragment = request.headers.get(FRAGMENT_HEADER) == "1"
    # Named by its layout ("page-cut"): a page another release shared in another layout (one
    # string) is never read as this one while its epoch lasts.
    parts, _ = remembered(("page-cut", question, fragment, shopper, tuple(sorted(liked))), lambda: _cut(draw(
        {"csrf_token": CSRF_SLOT, "here": HERE_SLOT, "user": shopper, "favourites": liked,
         "facets_html": FACETS_SLOT})), keep=lambda drawn: drawn[1])
    fills: dict[str, Callable[[], str]] = {
        CSRF_SLOT: lambda: escape(get_token(request)), HERE_SLOT: lambda: escape(request.get_full_path()),
        NAME_SLOT: lambda: escape(request.user.get_username()), FACETS_SLOT: facets}
    values = {slot: fills[slot]().encode() for slot in set(parts[1::2])}  # each worked out once
    return b"".join(values[part] if index % 2 else part for index, part in enumerate(parts))


def _cut(drawn: tuple[str, bool]) -> tuple[list[Any], bool]:
    """A drawn page cut at its slots: its text encoded (even places), the slots' names between."""
    parts: list[Any] = _SLOTS.split(drawn[0])
    parts[::2] = [text.encode() for text in parts[::2]]
    return parts, drawn[1]
