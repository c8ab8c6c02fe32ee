"""Template context every storefront page has."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from search.kinds import KINDS
from shoppers.selectors import favourite_ids
from storefront.access import may_browse
from storefront.kept import stand_ins

#: The request header instant search sends: answer the page's content alone.
FRAGMENT_HEADER = "X-Fragment"


def storefront(request: HttpRequest) -> dict[str, object]:
    """The kinds of vector (the "By ..." choices on cards and pages), whether the shopper may
    browse (the search box), this page's path (``here``: where a card's buttons come back to),
    the shopper's favourites (the hearts; read only by a page that shows one), and the template
    pages extend: the whole page, or for instant search its content alone. A page drawn to be
    kept has stand-ins for the request's own values (:func:`storefront.kept.stand_ins`)."""
    fragment = request.headers.get(FRAGMENT_HEADER) == "1"
    return {"vector_kinds": KINDS, "may_browse": may_browse(request), "here": request.get_full_path(),
            "favourites": SimpleLazyObject(lambda: set(favourite_ids(request))),
            "base_template": "fragment.html" if fragment else "base.html", **stand_ins(request)}
