"""Facet counts from the index: each tag attribute's values, each range's span, and the price bands."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

from catalog.attributes import RANGES, TAGS, Attribute, Kind
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
                 most: int | None = FACET_VALUES, ranges: bool = True) -> Facets:
    """Facet counts from the index (FT.AGGREGATE), in one round trip: of the whole catalog, or of
    a search's ``matches``, within ``filters``; at most ``most`` values an attribute, those most
    products have (None: every value); and, with ``ranges``, each range's span and the price bands.

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

    # For a search (tens to hundreds of products) every tag attribute is counted in one pass:
    # one row for each combination of values, summed below; one the shopper filtered is counted
    # again without their own filter (``multi_select``). The whole catalog (thousands of
    # combinations) is counted an attribute at a time. Measured in docs/benchmarks.md.
    own = [a for a in TAGS if matches is None or (multi_select and a.parameter in filters.tags)]
    shared = [a for a in TAGS if a not in own]
    asked = [(shared, within(filters))] if shared else []
    asked += [([attribute], within(_unbounded(filters, attribute.parameter))) for attribute in own]
    # A range: its products with a value, by band (the price's; one band for the others).
    asked += [([attribute], within(_unbounded(filters, attribute.parameter))) for attribute in RANGES if ranges]
    name = live_index().name
    with search_errors():
        pipe = get_reader().pipeline(transaction=False)
        for attributes, query in asked:
            if query is not None:
                pipe.execute_command(*_aggregation(name, query, attributes, most if matches is None else None))
        answers = iter(pipe.execute())
    rows = {attribute.parameter: found for attributes, query in asked
            for found in [[_pairs(row) for row in next(answers)[1:]] if query is not None else []]
            for attribute in attributes}
    counts = {attribute.parameter: _most(rows[attribute.parameter], attribute.field, most) for attribute in TAGS}
    spans, bands = {}, []
    for attribute in RANGES if ranges else ():
        ranged = {int(float(row.get("band", 1))): (float(row["lo"]), float(row["hi"]), int(row["count"]))
                  for row in rows[attribute.parameter] if int(row["count"])}
        spans[attribute.parameter] = (min(lo for lo, _, _ in ranged.values()),
                                      max(hi for _, hi, _ in ranged.values())) if ranged else None
        if attribute.parameter == PRICE:
            bands = [(low, high, ranged[band][2]) for band, (low, high) in enumerate(_bands(), start=1)
                     if band in ranged]
    return Facets(counts, spans, bands)


def _unbounded(filters: Filters, parameter: str) -> Filters:
    """``filters`` less the shopper's own choice of ``parameter``: its tags or its range's bounds."""
    return dataclasses.replace(filters, tags={p: v for p, v in filters.tags.items() if p != parameter},
                               ranges={p: b for p, b in filters.ranges.items() if p != parameter})


def _aggregation(name: str, query: str, attributes: list[Attribute], most: int | None) -> list[Any]:
    """FT.AGGREGATE's arguments that count the products ``query`` finds: for tag ``attributes``,
    one row a combination of their values; for a range, of those with a value, one row a band
    (the price's, the index reckons from the price edges), with its lowest and highest value."""
    if attributes[0].kind is Kind.TAG:
        keys = [f"@{attribute.field}" for attribute in attributes]
        order = ["SORTBY", 2, "@count", "DESC", "MAX", most] if most and len(keys) == 1 else []
        return ["FT.AGGREGATE", name, query, "GROUPBY", len(keys), *keys, "REDUCE", "COUNT", 0, "AS", "count",
                *order, "DIALECT", 2]
    field = f"@{attributes[0].field}"
    banded = ["LOAD", 1, field, "APPLY", "1+" + "+".join(f"({field}>={edge})" for edge in PRICE_EDGES[1:]),
              "AS", "band", "GROUPBY", 1, "@band"] if attributes[0].parameter == PRICE else ["GROUPBY", 0]
    return ["FT.AGGREGATE", name, f"{query} {field}:[-inf +inf]" if query != "*" else f"{field}:[-inf +inf]",
            *banded, "REDUCE", "COUNT", 0, "AS", "count", "REDUCE", "MIN", 1, field, "AS", "lo",
            "REDUCE", "MAX", 1, field, "AS", "hi", "DIALECT", 2]


def _most(rows: list[dict[str, Any]], field: str, most: int | None) -> list[tuple[str, int]]:
    """A tag attribute's values and their products, summed over grouped rows, the most first
    (then by value); at most ``most``. Products without a value are left out."""
    summed: dict[str, int] = {}
    for row in rows:
        if value := row.get(field):
            summed[value] = summed.get(value, 0) + int(row["count"])
    return sorted(summed.items(), key=lambda item: (-item[1], item[0]))[:most]


def query_text(filters: Filters) -> str:
    """``filters`` as a whole query (``*`` for none), for aggregations."""
    compiled = get_store().compile_filters(filters)
    return str(compiled) if compiled is not None else "*"


def _bands() -> list[tuple[int, int | None]]:
    return [*itertools.pairwise(PRICE_EDGES), (PRICE_EDGES[-1], None)]
