"""Filters in RediSearch's query language: the Redis index store's query compiler
(:meth:`search.store.redisearch.RedisIndexStore.compile_filters`).

Every value a shopper sent goes through a redisvl filter object, which escapes it, or is
reduced to plain word characters first (:class:`search.filters.Filters` holds name
words only): no input can change the query's structure.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from redisvl.query.filter import FilterExpression, Geo, GeoRadius, Num, Tag, Text
from redisvl.utils.token_escaper import TokenEscaper

from catalog.attributes import BY_PARAMETER, RANGE_BY_PARAMETER
from search.filters import Filters


class ExactTag(Tag):
    """redisvl's Tag, escaping every character but letters, digits and underscores: its own
    list leaves out some that the query parser treats specially (a backtick; found by the
    property tests)."""

    escaper = TokenEscaper(escape_chars_re=re.compile(r"[^\w]"))


def expression(filters: Filters, exclude: Collection[str] = ()) -> FilterExpression | None:
    """``filters`` as a filter expression, also leaving out the products ``exclude`` names; None
    when nothing is filtered."""
    parts: list[FilterExpression] = []
    if exclude:
        # One negated tag clause however many: the product itself, or all a shopper has seen.
        parts.append(ExactTag("id") != list(exclude))
    for parameter, values in filters.tags.items():
        parts.append(ExactTag(BY_PARAMETER[parameter].field) == list(values))
    for parameter, values in filters.excluded.items():
        parts.append(ExactTag(BY_PARAMETER[parameter].field) != list(values))
    parts.extend(Text("name") == word for word in filters.name)
    for parameter, (low, high) in filters.ranges.items():
        field = RANGE_BY_PARAMETER[parameter].field
        if low is not None:
            parts.append(Num(field) >= low)
        if high is not None:
            parts.append(Num(field) <= high)
    if filters.near is not None:
        latitude, longitude = filters.near
        parts.append(Geo("location") == GeoRadius(longitude, latitude, filters.radius_km, "km"))
    combined = None
    for part in parts:
        combined = part if combined is None else combined & part
    return combined
