"""The filter sidebar every finder page shows: facets with counts from the index, or, while
search is down, the plain gender and category choices from the database."""

from __future__ import annotations

from typing import Any

from catalog import selectors as catalog_selectors
from search.connection import SearchUnavailable
from search.filters import Filters
from search.selectors import facet_counts

FACET_LABELS = {"gender": "Gender", "category": "Category", "sub_category": "Sub category",
                "article_type": "Product type", "base_colour": "Colour", "season": "Season", "usage": "Usage"}


def sidebar(filters: Filters) -> dict[str, Any]:
    try:
        facets = facet_counts(filters)
    except SearchUnavailable:
        return {"facets": None, "options": catalog_selectors.filter_options()}
    groups = [{"parameter": parameter, "label": FACET_LABELS[parameter],
               "values": [{"value": value, "count": count, "checked": value.lower() in
                           {v.lower() for v in filters.tags.get(parameter, ())}} for value, count in values]}
              for parameter, values in facets.counts.items() if values]
    return {"facets": groups, "years": facets.years, "options": None}
