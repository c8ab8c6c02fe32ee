"""The filter sidebar every finder page shows: facets with counts from the index, or, while
search is down, the plain gender and category choices from the database; and a notice while
the index is incomplete, so that a partial catalog is never shown as if it were all there."""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.cache import cache

from catalog import selectors as catalog_selectors
from search.connection import SearchUnavailable
from search.filters import Filters
from search.selectors import facet_counts, live_index

FACET_LABELS = {"gender": "Gender", "category": "Category", "sub_category": "Sub category",
                "article_type": "Product type", "base_colour": "Colour", "season": "Season", "usage": "Usage"}


def index_notice() -> str:
    """What the shopper should know while results may be incomplete, or ""."""
    if not live_index().complete:
        return "Search is catching up after a restart: Redis is re-reading the index, so results may be incomplete."
    backlog = catalog_selectors.recent_embedding_backlog()
    if backlog["text"]:
        counts = catalog_selectors.recent_status_counts()
        return (f"The search index is being built: {counts['products'] - backlog['text']:,} of "
                f"{counts['products']:,} products are searchable so far, so results may be incomplete.")
    if backlog["images_delayed"]:
        return "Search by photo is running late: some new products can be found by text only for now."
    if backlog["images"]:
        return "New photos are being indexed: search by photo may miss the newest products for a moment."
    return ""


#: Facet counts (and their rendered HTML) are kept this long per set of filters: computing them
#: costs Redis several aggregations over the matching products, far more than the search itself.
FACET_CACHE_SECONDS = 10


def sidebar(filters: Filters) -> dict[str, Any]:
    try:
        key = "facets-" + hashlib.sha1(f"{live_index().name}?{filters.as_query()}".encode()).hexdigest()
        facets = cache.get(key)
        if facets is None:
            facets = facet_counts(filters)
            cache.set(key, facets, FACET_CACHE_SECONDS)
        notice = index_notice()
    except SearchUnavailable:
        return {"facets": None, "options": catalog_selectors.filter_options(), "notice": ""}
    groups = [{"parameter": parameter, "label": FACET_LABELS[parameter],
               "values": [{"value": value, "count": count, "checked": value.lower() in
                           {v.lower() for v in filters.tags.get(parameter, ())}} for value, count in values]}
              for parameter, values in facets.counts.items() if values]
    return {"facets": groups, "years": facets.years, "options": None, "notice": notice, "cache_key": key,
            "cache_seconds": FACET_CACHE_SECONDS}
