"""The filter sidebar every finder page shows: facets with counts from the index, or, while
search is down, the plain gender and category choices from the database; and a notice while
the index is incomplete, so that a partial catalog is never shown as if it were all there."""

from __future__ import annotations

import functools
from typing import Any

from django.template import engines
from django.utils.safestring import mark_safe

from catalog import selectors as catalog_selectors
from catalog.attributes import BY_PARAMETER, RANGES
from search import selectors as search_selectors
from search.filters import Filters
from search.query.answers import remembered
from search.query.facets import facet_counts
from search.query.matches import Matches
from search.query.search_box import SearchPage
from search.store.connection import SearchUnavailable
from search.store.versions import live_index


def index_notice() -> str:
    """What the shopper should know while results may be incomplete, or ""."""
    if not live_index().complete:
        return "Search is catching up after a restart: Redis is re-reading the index, so results may be incomplete."
    backlog = search_selectors.recent_embedding_backlog()
    if backlog["text"]:
        counts = search_selectors.recent_status_counts()
        return (f"The search index is being built: {counts['products'] - backlog['text']:,} of "
                f"{counts['products']:,} products are searchable so far, so results may be incomplete.")
    if backlog["images_delayed"]:
        return "Search by photo is running late: some new products can be found by text only for now."
    if backlog["images"]:
        return "New photos are being indexed: search by photo may miss the newest products for a moment."
    return ""


def sidebar(filters: Filters, found: SearchPage | None = None) -> dict[str, Any]:
    """Facets with their counts from the index (``facets``: the groups; ``ranges``: each numeric
    filter's span; ``prices``: the price bands with their counts; ``html``: drawn, when the
    template asks), of the whole catalog or of a search's matches (``found``: the values its
    words were read as are shown chosen), kept until the index changes; while it cannot be
    asked, the values from the database, without counts (``facets`` is then None and ``options``
    holds the groups)."""
    matches = found.matches if found else None
    shown = found.applied if found else filters
    try:
        facets = remembered(("sidebar", filters.as_query(), matches, shown.as_query()),
                            lambda: _facets(filters, matches, shown))
        notice = index_notice()
    except SearchUnavailable:
        options = catalog_selectors.attribute_values()
        return {"facets": None, "options": _groups(shown, {p: [(v, None) for v in values]
                                                           for p, values in options.items()}), "notice": "",
                "prices": []}
    return {**facets, "html": functools.partial(_drawn, filters, matches, shown, facets), "options": None,
            "notice": notice}


def _facets(filters: Filters, matches: Matches | None, shown: Filters) -> dict[str, Any]:
    counts = facet_counts(filters, matches)
    ranges = [{"parameter": attribute.parameter, "label": attribute.label, "span": counts.spans[attribute.parameter],
               "low": filters.bound(attribute.parameter, 0), "high": filters.bound(attribute.parameter, 1),
               "step": "0.01" if attribute.decimals else "1"}
              for attribute in RANGES if counts.spans[attribute.parameter]]
    return {"facets": _groups(shown, counts.counts), "ranges": ranges,
            "prices": [{"low": low, "high": high, "count": count} for low, high, count in counts.prices]}


def _drawn(filters: Filters, matches: Matches | None, shown: Filters, facets: dict[str, Any]) -> str:
    """The facets drawn, kept until the index changes: the same on every page with these filters,
    and most of a page's HTML."""
    return remembered(("sidebar-html", filters.as_query(), matches, shown.as_query()), lambda: mark_safe(
        engines["jinja2"].get_template("storefront/_facets.jinja").render(  # autoescaped by Jinja2
            {"groups": facets["facets"], "ranges": facets["ranges"]})))


def _groups(filters: Filters, counts: dict[str, list[tuple[str, int | None]]]) -> list[dict[str, Any]]:
    """One group a facet, in the attribute table's order, with each value's count and whether it is chosen."""
    groups = []
    for parameter, values in counts.items():
        chosen = {v.lower() for v in filters.tags.get(parameter, ())}
        if values:
            groups.append({"parameter": parameter, "label": BY_PARAMETER[parameter].label,
                           "values": [{"value": value, "count": count, "checked": value.lower() in chosen}
                                      for value, count in values]})
    return groups
