"""The catalog grid, filtered as the index would filter it, as far as the database can tell:
the product list (pages and API) and the products For you falls back to."""

from __future__ import annotations

import re

from django.db.models import QuerySet

from catalog.attributes import BY_PARAMETER, RANGE_BY_PARAMETER
from catalog.models import EXPRESSIONS, Product
from search.filters import Filters
from search.query.ordering import Sort


def products(filters: Filters, sort: Sort = Sort.RELEVANCE) -> QuerySet[Product]:
    """Products that pass ``filters``, as far as the database can tell: tags, negated tags,
    name words and ranges (the geo radius and ``min_score`` only mean something to the index);
    in ``sort``'s order (relevance, with no query, is the catalog's own order)."""
    queryset = Product.objects.order_by(*sort.order_by)
    for parameter, values in filters.tags.items():
        queryset = queryset.filter(**{f"{BY_PARAMETER[parameter].field}__in": values})
    for parameter, values in filters.excluded.items():
        queryset = queryset.exclude(**{f"{BY_PARAMETER[parameter].field}__in": values})
    for word in filters.name:
        # A whole word, as the index matches it ("2" is not in "ES2944"); \W is a non-word
        # character to Python's re (SQLite) and to PostgreSQL's regular expressions alike.
        queryset = queryset.filter(name__iregex=rf"(^|\W){re.escape(word)}(\W|$)")
    for parameter, (low, high) in filters.ranges.items():
        field = RANGE_BY_PARAMETER[parameter].field
        if field in EXPRESSIONS:
            queryset = queryset.alias(**{field: EXPRESSIONS[field]})
        if low is not None:
            queryset = queryset.filter(**{f"{field}__gte": low})
        if high is not None:
            queryset = queryset.filter(**{f"{field}__lte": high})
    return queryset
