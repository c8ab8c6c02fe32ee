"""Result cards, rendered once and kept until the index changes.

Rendering a page's cards (twelve, each with its links, heart and buttons) cost more than finding
them. What a card shows comes from the answer, kept until the index moves
(:mod:`search.query.answers`), so its HTML is kept beside it, for each way the shopper's own
state can draw it: signed in or not, and which of the products are their favourites. What
belongs to one request, the CSRF token and the path the buttons come back to, is rendered as a
slot and filled in for each request.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from search.query.answers import remembered
from search.query.filters import Filters
from shoppers.selectors import favourite_ids

#: Stand-ins for the request's own values, in the kept HTML: nothing a card shows looks like them.
CSRF_SLOT, HERE_SLOT = "csrf-slot-4b1d9e", "/here-slot-4b1d9e"


def cards(request: HttpRequest, question: Hashable, results: list[dict[str, Any]], filters: Filters) -> SafeString:
    """The cards of ``results`` (the answer to ``question``), scored, with links that keep ``filters``."""
    shown = {result["id"] for result in results}
    liked = frozenset(favourite_ids(request)) & shown
    signed_in = request.user.is_authenticated
    html = remembered(("cards", question, signed_in, liked), lambda: render_to_string(
        "storefront/_cards.html", {"results": results, "filters": filters, "favourites": liked,
                                   "csrf_token": CSRF_SLOT, "here": HERE_SLOT}, request=request))
    # Both values escaped, as the template would have: the rest is the template's own output.
    filled = html.replace(CSRF_SLOT, escape(get_token(request))).replace(HERE_SLOT, escape(request.get_full_path()))
    return mark_safe(filled)
