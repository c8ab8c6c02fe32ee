"""Reads of search's own state: how much of the catalog is searchable, and what waits."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from catalog.models import FETCH_PENDING, Product
from search.kinds import PRIMARY
from search.models import WAITING, IndexEntry

State = IndexEntry.State


def _entries(**conditions: object) -> Exists:
    return Exists(IndexEntry.objects.filter(product=OuterRef("pk"), **conditions))


def searchable_products() -> QuerySet[Product]:
    """The products searchable by text (their text vector written)."""
    return Product.objects.filter(id__in=IndexEntry.objects.filter(kind=PRIMARY.name, state=State.INDEXED)
                                  .values("product_id"))


def status_counts(product_ids: Collection[str] | None = None) -> dict[str, int]:
    """How many products there are (of ``product_ids``, if given): indexed (searchable, every
    vector done), pending (some work still to do, an image link to fetch included), failed (not
    searchable, for a reason)."""
    products = Product.objects.all() if product_ids is None else Product.objects.filter(id__in=list(product_ids))
    # The annotations' names differ from the counts': PostgreSQL cannot tell them apart.
    counts = products.annotate(
        text_done=_entries(kind=PRIMARY.name, state=State.INDEXED),
        text_failed=_entries(kind=PRIMARY.name, state=State.FAILED),
        work_waits=_entries(state__in=WAITING),
    ).aggregate(
        products=Count("pk"),
        indexed=Count("pk", filter=Q(text_done=True, work_waits=False) & ~FETCH_PENDING),
        failed=Count("pk", filter=Q(text_failed=True)),
    )
    counts["pending"] = counts["products"] - counts["indexed"] - counts["failed"]
    return {key: counts[key] for key in ("products", "indexed", "pending", "failed")}


def embedding_backlog(overdue_after: float) -> dict[str, int]:
    """Work still to do: products waiting for their text, for their image (or its fetch), and for
    their image longer than ``overdue_after`` seconds (an image worker gone, or far behind)."""
    overdue = timezone.now() - timedelta(seconds=overdue_after)
    entries = IndexEntry.objects.filter(state__in=WAITING)
    images = entries.exclude(kind=PRIMARY.name)
    return {
        "text": Product.objects.exclude(Q(Exists(IndexEntry.objects.filter(
            product=OuterRef("pk"), kind=PRIMARY.name, state__in=(State.INDEXED, State.FAILED))))).count(),
        "images": images.values("product_id").distinct().count() + Product.objects.filter(FETCH_PENDING).count(),
        "images_delayed": images.filter(queued_at__lt=overdue).values("product_id").distinct().count(),
    }


def recent_embedding_backlog() -> dict[str, int]:
    """:func:`embedding_backlog` with ``FINDER_PENDING_TOO_LONG``, at most two seconds old."""
    return cache.get_or_set("search-embedding-backlog",
                            lambda: embedding_backlog(settings.FINDER_PENDING_TOO_LONG), timeout=2)


def recent_status_counts() -> dict[str, int]:
    """:func:`status_counts` of the whole catalog, at most two seconds old: every search page
    shows it, and counting a large catalog on each request would cost more than the search."""
    return cache.get_or_set("search-status-counts", status_counts, timeout=2)


def entry_problems(product_id: str) -> list[IndexEntry]:
    """A product's entries that failed, for staff on its page."""
    return list(IndexEntry.objects.filter(product_id=product_id, state=State.FAILED))


def product_state(product_id: str) -> dict[str, str]:
    """Each kind's state for one product (a kind with no entry: none yet), for staff."""
    return dict(IndexEntry.objects.filter(product_id=product_id).values_list("kind", "state"))
