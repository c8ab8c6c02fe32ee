"""Template context every storefront page has."""

from __future__ import annotations

from django.http import HttpRequest

from search.kinds import KINDS
from storefront.access import may_browse

#: The request header instant search sends: answer the page's content alone.
FRAGMENT_HEADER = "X-Fragment"


def storefront(request: HttpRequest) -> dict[str, object]:
    """The kinds of vector (the "By ..." choices on cards and pages), whether the shopper may
    browse (the search box), and the template pages extend: the whole page, or for instant
    search its content alone."""
    fragment = request.headers.get(FRAGMENT_HEADER) == "1"
    return {"vector_kinds": KINDS, "may_browse": may_browse(request),
            "base_template": "fragment.html" if fragment else "base.html"}
