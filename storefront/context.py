"""Template context every storefront page has."""

from __future__ import annotations

from django.http import HttpRequest

from search.kinds import KINDS


def vector_kinds(request: HttpRequest) -> dict[str, object]:
    """The kinds of vector, for the "By ..." choices on cards and pages."""
    return {"vector_kinds": KINDS}
