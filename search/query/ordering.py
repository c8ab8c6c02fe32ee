"""How a list of products is ordered: by relevance (the default), newest first, by name, or by price."""

from __future__ import annotations

import enum

from django.db.models import F, OrderBy
from django.db.models.functions import Lower

from catalog.attributes import RANGE_BY_PARAMETER
from catalog.models import SELLING_PRICE

LABELS = {"relevance": "Best match", "newest": "Newest", "name": "Name", "price_asc": "Price: low to high",
          "price_desc": "Price: high to low"}


class Sort(enum.StrEnum):
    """``?sort=`` on the search and product-list pages and API.

    Newest is the latest season's collection first (the catalog's ``year``). The prices are
    those a shopper pays (the sale price when there is one); products without one come last.
    Ties go by id. In a search, a sort other than relevance orders all of the search's matches
    (:mod:`search.query.matches`), not the whole catalog: "jeans" by name starts with the jeans
    whose names come first, not with "Aaa" socks.
    """

    RELEVANCE = "relevance"
    NEWEST = "newest"
    NAME = "name"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"

    @property
    def label(self) -> str:
        return LABELS[self.value]

    def aggregation(self) -> list[str]:
        """The same order for the index (FT.AGGREGATE's arguments, before LIMIT; not relevance)."""
        if self is Sort.NAME:
            return ["LOAD", "2", "@id", "@name", "APPLY", "lower(@name)", "AS", "key",
                    "SORTBY", "4", "@key", "ASC", "@id", "ASC"]
        parameter, direction = {Sort.NEWEST: ("year", "DESC"), Sort.PRICE_ASC: ("price", "ASC"),
                                Sort.PRICE_DESC: ("price", "DESC")}[self]
        field = RANGE_BY_PARAMETER[parameter].field
        return ["LOAD", "2", "@id", f"@{field}", "APPLY", f"exists(@{field})", "AS", "known",
                "SORTBY", "6", "@known", "DESC", f"@{field}", direction, "@id", "ASC"]

    @property
    def order_by(self) -> tuple[OrderBy, ...]:
        """The same order for a database query of products (a product without a year or a price last)."""
        if self is Sort.NEWEST:
            return (F("year").desc(nulls_last=True), F("id").asc())
        if self is Sort.NAME:
            return (Lower("name").asc(), F("id").asc())
        if self is Sort.PRICE_ASC:
            return (SELLING_PRICE.asc(nulls_last=True), F("id").asc())
        if self is Sort.PRICE_DESC:
            return (SELLING_PRICE.desc(nulls_last=True), F("id").asc())
        return (F("id").asc(),)


def parse_sort(value: str | None) -> Sort:
    """The sort a query parameter names; anything else is relevance (a link from an old page
    still works)."""
    return Sort(value) if value in Sort._value2member_map_ else Sort.RELEVANCE
