"""Reads from the catalog database."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from django.db.models import Count, Q, QuerySet

from catalog.models import Product


def products(genders: Sequence[str] = (), categories: Sequence[str] = ()) -> QuerySet[Product]:
    """Products, filtered: values within one attribute are OR'ed, attributes AND'ed."""
    queryset = Product.objects.all()
    if genders:
        queryset = queryset.filter(gender__in=genders)
    if categories:
        queryset = queryset.filter(master_category__in=categories)
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
