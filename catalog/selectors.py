"""Reads from the catalog database."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Count, Q, QuerySet

from catalog.models import Product
from search.filters import TAG_PARAMETERS, Filters


def products(filters: Filters | None = None) -> QuerySet[Product]:
    """Products that pass ``filters``, as far as the database can tell: tags, negated tags,
    name words and years (the geo radius and ``min_score`` only mean something to the index)."""
    queryset = Product.objects.all()
    if filters is None:
        return queryset
    for parameter, values in filters.tags.items():
        queryset = queryset.filter(**{f"{TAG_PARAMETERS[parameter]}__in": values})
    for parameter, values in filters.excluded.items():
        queryset = queryset.exclude(**{f"{TAG_PARAMETERS[parameter]}__in": values})
    for word in filters.name:
        queryset = queryset.filter(name__icontains=word)
    if filters.year_min is not None:
        queryset = queryset.filter(year__gte=filters.year_min)
    if filters.year_max is not None:
        queryset = queryset.filter(year__lte=filters.year_max)
    return queryset


def filter_options() -> dict[str, list[str]]:
    """The values the catalog's gender and category filters can take."""
    return {
        "genders": list(Product.objects.order_by("gender").values_list("gender", flat=True).distinct()),
        "categories": list(Product.objects.order_by("master_category")
                           .values_list("master_category", flat=True).distinct()),
    }


def status_counts(product_ids: Collection[int] | None = None) -> dict[str, int]:
    """How many products there are (of ``product_ids``, if given): indexed, pending, failed."""
    queryset = Product.objects.all() if product_ids is None else Product.objects.filter(id__in=product_ids)
    counts = queryset.aggregate(
        products=Count("id"),
        **{status.value: Count("id", filter=Q(status=status)) for status in Product.Status},
    )
    return {key: counts[key] for key in ("products", *Product.Status.values)}
