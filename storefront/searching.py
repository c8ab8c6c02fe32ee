"""A shopper's search, as the page and the API both run it: ranked, then, for a first page,
recorded for the shop's analytics and counted toward the popular searches."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from analytics.services import record_search, timed
from core.throttling import client_network
from search.filters import Filters
from search.query.looks import search_by_photos
from search.query.search_box import SearchPage, search_products
from search.query.suggest import remember_query

#: What a search ranks by (``?by=``): the products' words and meaning, or what their photos show.
SEARCHES = {"text": search_products, "image": search_by_photos}


def shopper_search(request: HttpRequest, query: str, filters: Filters, by: str = "text",
                   **options: Any) -> tuple[SearchPage, str]:
    """The search ``by`` asks for (:data:`SEARCHES`) for ``request``'s shopper; the page of
    results, and the search's id for analytics ("" for a later page, or when it was not recorded)."""
    with timed() as took:
        found = SEARCHES[by](query, filters, **options)
    if found.page != 1:
        return found, ""
    search_id = record_search(request, query, filters, found, took[0])
    if found.found_words:
        remember_query(found.corrected or query, client_network(request))
    return found, search_id
