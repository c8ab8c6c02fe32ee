"""How a list of products is ordered: by relevance (the default), newest first, or by name."""

from __future__ import annotations

import enum
from typing import Any

from django.db.models import F, OrderBy
from django.db.models.functions import Lower


class Sort(enum.StrEnum):
    """``?sort=`` on the search and product-list pages and API.

    Newest is the latest season's collection first (the catalog's ``year``), then the latest
    added (the higher id). In a search, a sort other than relevance reorders the most relevant
    matches (:data:`search.query.box.SORTED_DEPTH`), not the whole catalog: "jeans" by name
    starts with the jeans whose names come first, not with "Aaa" socks.
    """

    RELEVANCE = "relevance"
    NEWEST = "newest"
    NAME = "name"

    @property
    def label(self) -> str:
        return {"relevance": "Best match", "newest": "Newest", "name": "Name"}[self.value]

    def key(self, product: dict[str, Any]) -> tuple[Any, ...]:
        """The sort key of a product document (relevance keeps the order it is given)."""
        if self is Sort.NEWEST:
            return (-(product.get("year") or 0), -int(product["id"]))
        if self is Sort.NAME:
            return (str(product.get("name", "")).casefold(), int(product["id"]))
        return ()

    @property
    def order_by(self) -> tuple[OrderBy, ...]:
        """The same order for a database query of products (a product without a year last)."""
        if self is Sort.NEWEST:
            return (F("year").desc(nulls_last=True), F("id").desc())
        if self is Sort.NAME:
            return (Lower("name").asc(), F("id").asc())
        return (F("id").asc(),)


def parse_sort(value: str | None) -> Sort:
    """The sort a query parameter names; anything else is relevance (a link from an old page
    still works)."""
    return Sort(value) if value in Sort._value2member_map_ else Sort.RELEVANCE
