"""What a search matched, as one query of the index: so that the index counts it, counts its
facets, and orders it by any sort down to its last product.

A search's matches are the products whose words match its keywords (within the filters its words
were read as), the nearest products by meaning (the vector search's :data:`~search.query.search_box.CANDIDATES`),
and the products a rule pinned; all within the shopper's own filters, less those a rule hid. The
ranking pages through exactly these, so a page's ``count`` is where paging ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from search.filters import Filters
from search.query.ordering import Sort
from search.store import get_store
from search.store.compiler import ExactTag
from search.store.connection import get_reader, search_errors, text
from search.store.redisearch import _pairs
from search.store.versions import live_index


@dataclass(frozen=True)
class Matches:
    """``words``: the keyword clause, with the filters the query's words were read as ("" for
    none); ``found``: ids found by meaning; ``pinned`` and ``hidden``: ids a rule named."""

    words: str = ""
    found: tuple[str, ...] = ()
    pinned: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()

    def query(self, filters: Filters) -> str | None:
        """The matches within ``filters`` as a query of the index; None when nothing can match."""
        either = [f"({self.words})"] if self.words else []
        ids = list(dict.fromkeys((*self.found, *self.pinned)))
        if ids:
            either.append(str(ExactTag("id") == ids))
        if not either:
            return None
        parts = [either[0] if len(either) == 1 else f"({' | '.join(either)})"]
        compiled = get_store().compile_filters(filters, exclude=self.hidden)
        if compiled is not None:
            parts.append(str(compiled))
        return " ".join(parts)


def sorted_ids(filters: Filters, matches: Matches, sort: Sort, offset: int, k: int) -> list[str]:
    """The ids of products ``offset`` to ``offset + k`` of the matches in ``sort``'s order
    (not relevance): every match is sorted, by the index (FT.AGGREGATE)."""
    query = matches.query(filters)
    if query is None:
        return []
    with search_errors():
        reply = get_reader().execute_command("FT.AGGREGATE", live_index().name, query, *sort.aggregation(),
                                             "LIMIT", offset, k, "DIALECT", 2)
    return [text(_pairs(row)["id"]) for row in reply[1:]]
