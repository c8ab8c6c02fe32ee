"""Facet counts from the index: each tag attribute's values, each range's span, and the price bands."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

from catalog.attributes import RANGES, TAGS
from search.filters import Filters
from search.query.matches import Matches
from search.store import get_store
from search.store.connection import get_reader, search_errors
from search.store.redisearch import _pairs
from search.store.versions import live_index

FACET_VALUES = 100
#: Where the price bands the sidebar counts begin and end, in the shop's currency; a band with
#: no products is not shown.
PRICE_EDGES = (0, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000)
PRICE = "price"


@dataclass(frozen=True)
class Facets:
    """Counts of searchable products for each value of each tag attribute, each range's span
    ``(lowest, highest)`` (None: no product has a value), and the products in each price band
    ``(low, high or None, count)``."""

    counts: dict[str, list[tuple[str, int]]]
    spans: dict[str, tuple[float, float] | None]
    prices: list[tuple[int, int | None, int]]


def facet_counts(filters: Filters, matches: Matches | None = None, multi_select: bool = True,
                 most: int | None = FACET_VALUES) -> Facets:
    """Facet counts from the index (FT.AGGREGATE and counting searches), in one round trip: of
    the whole catalog, or of a search's ``matches``, within ``filters``; at most ``most`` values
    an attribute, those most products have (None: every value).

    ``multi_select`` (the sidebar): each attribute's counts apply every filter but that
    attribute's own, so a shopper sees what choosing another value as well would add; a range's
    span and the price bands ignore that range's own bounds. Without it, every count is within
    every filter: each attribute's counts add up to the products matched (less those with no
    value for it).
    """

    def within(chosen: Filters) -> str | None:
        """The query that counts under ``chosen``; None when nothing can match."""
        chosen = chosen if multi_select else filters
        return matches.query(chosen) if matches is not None else query_text(chosen)

    name = live_index().name
    commands: list[tuple[Any, ...] | None] = []
    for attribute in TAGS:
        query = within(dataclasses.replace(filters, tags={p: v for p, v in filters.tags.items()
                                                          if p != attribute.parameter}))
        commands.append(query and ("FT.AGGREGATE", name, query, "GROUPBY", 1, f"@{attribute.field}", "REDUCE",
                                   "COUNT", 0, "AS", "count", "SORTBY", 2, "@count", "DESC",
                                   *(["MAX", most] if most else []), "DIALECT", 2))
    for attribute in RANGES:
        query = within(_unbounded(filters, attribute.parameter))
        commands.append(query and ("FT.AGGREGATE", name, query, "GROUPBY", 0, "REDUCE", "MIN", 1,
                                   f"@{attribute.field}", "AS", "lo", "REDUCE", "MAX", 1, f"@{attribute.field}",
                                   "AS", "hi", "DIALECT", 2))
    priced = within(_unbounded(filters, PRICE))
    field = next(attribute.field for attribute in RANGES if attribute.parameter == PRICE)
    for low, high in _bands():
        band = f"@{field}:[{low} {f'({high}' if high is not None else '+inf'}]"
        query = band if priced == "*" else f"{band} {priced}"
        commands.append(priced and ("FT.SEARCH", name, query, "LIMIT", 0, 0, "DIALECT", 2))
    with search_errors():
        pipe = get_reader().pipeline(transaction=False)
        for command in commands:
            if command:
                pipe.execute_command(*command)
        answers = iter(pipe.execute())
    found = [next(answers) if command else None for command in commands]
    groups, spans, bands = found[:len(TAGS)], found[len(TAGS):len(TAGS) + len(RANGES)], found[len(TAGS) + len(RANGES):]
    counts = {}
    for attribute, group in zip(TAGS, groups, strict=True):
        rows = [_pairs(row) for row in (group or [0])[1:]]
        counts[attribute.parameter] = [(row[attribute.field], int(row["count"])) for row in rows
                                       if row.get(attribute.field)]
    return Facets(counts, {attribute.parameter: _span(span or []) for attribute, span in zip(RANGES, spans,
                                                                                               strict=True)},
                  [(low, high, int(total[0])) for (low, high), total in zip(_bands(), bands, strict=True)
                   if total and int(total[0])])


def query_text(filters: Filters) -> str:
    """``filters`` as a whole query (``*`` for none), for aggregations."""
    compiled = get_store().compile_filters(filters)
    return str(compiled) if compiled is not None else "*"


def _bands() -> list[tuple[int, int | None]]:
    return [*itertools.pairwise(PRICE_EDGES), (PRICE_EDGES[-1], None)]


def _unbounded(filters: Filters, parameter: str) -> Filters:
    return dataclasses.replace(filters, ranges={p: b for p, b in filters.ranges.items() if p != parameter})


def _span(found: list) -> tuple[float, float] | None:
    row = _pairs(found[1]) if len(found) > 1 else {}
    low, high = row.get("lo"), row.get("hi")
    if low in (None, "", "nan") or high in (None, "", "nan"):
        return None
    try:
        return float(low), float(high)
    except ValueError:
        return None
