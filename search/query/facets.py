"""Facet counts from the index."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from catalog.attributes import ATTRIBUTES
from search.query.filters import Filters
from search.store.connection import get_reader, search_errors
from search.store.redisearch import _pairs
from search.store.versions import live_index

FACET_VALUES = 100


@dataclass(frozen=True)
class Facets:
    """Counts of searchable products for each value of each filter, and the year range."""

    counts: dict[str, list[tuple[str, int]]]
    years: tuple[int, int] | None


def facet_counts(filters: Filters) -> Facets:
    """Facet counts from the index (FT.AGGREGATE), in one round trip.

    Multi-select: each attribute's counts apply every filter but that attribute's own, so a
    shopper sees what choosing another value as well would add.
    """
    client = get_reader()
    with search_errors():
        live = live_index()
        pipe = client.pipeline(transaction=False)
        for attribute in ATTRIBUTES:
            parameter, field = attribute.parameter, attribute.field
            others = dataclasses.replace(filters, tags={p: v for p, v in filters.tags.items() if p != parameter})
            pipe.execute_command("FT.AGGREGATE", live.name, _query_text(others), "GROUPBY", "1", f"@{field}",
                                 "REDUCE", "COUNT", "0", "AS", "count", "SORTBY", "2", "@count", "DESC",
                                 "MAX", str(FACET_VALUES), "DIALECT", "2")
        unbounded = dataclasses.replace(filters, year_min=None, year_max=None)
        pipe.execute_command("FT.AGGREGATE", live.name, _query_text(unbounded), "GROUPBY", "0",
                             "REDUCE", "MIN", "1", "@year", "AS", "lo", "REDUCE", "MAX", "1", "@year", "AS", "hi",
                             "DIALECT", "2")
        *groups, years = pipe.execute()
    counts = {}
    for attribute, group in zip(ATTRIBUTES, groups, strict=True):
        rows = [_pairs(row) for row in group[1:]]
        counts[attribute.parameter] = [(row[attribute.field], int(row["count"])) for row in rows
                                       if row.get(attribute.field)]
    span = _pairs(years[1]) if len(years) > 1 else {}
    bounds = (span.get("lo"), span.get("hi"))
    return Facets(counts, (int(float(bounds[0])), int(float(bounds[1]))) if None not in bounds else None)


def _query_text(filters: Filters) -> str:
    expression = filters.expression()
    return str(expression) if expression is not None else "*"
