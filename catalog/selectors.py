"""Reads from the catalog database."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone

from catalog.attributes import ATTRIBUTES
from catalog.models import PENDING, ImportRun, Product


def attribute_values() -> dict[str, list[str]]:
    """Every value each filter attribute takes in the catalog, by query parameter: the filter
    choices while the index (which counts them) cannot be asked."""
    return {attribute.parameter: list(Product.objects.exclude(**{attribute.field: ""}).order_by(attribute.field)
                                      .values_list(attribute.field, flat=True).distinct())
            for attribute in ATTRIBUTES}


def status_counts(product_ids: Collection[int] | None = None) -> dict[str, int]:
    """How many products there are (of ``product_ids``, if given): indexed (text and image
    done), pending (either still queued), failed."""
    queryset = Product.objects.all() if product_ids is None else Product.objects.filter(id__in=product_ids)
    counts = queryset.aggregate(
        products=Count("id"),
        indexed=Count("id", filter=Q(status=Product.Status.INDEXED, image_pending=False)),
        pending=Count("id", filter=PENDING & ~Q(status=Product.Status.FAILED)),
        failed=Count("id", filter=Q(status=Product.Status.FAILED)),
    )
    return {key: counts[key] for key in ("products", *Product.Status.values)}


def embedding_backlog(overdue_after: float) -> dict[str, int]:
    """Work still queued: products waiting for their text, for their image, and for their
    image longer than ``overdue_after`` seconds (an image worker gone, or far behind)."""
    overdue = timezone.now() - timedelta(seconds=overdue_after)
    return Product.objects.exclude(status=Product.Status.FAILED).aggregate(
        text=Count("id", filter=Q(status=Product.Status.PENDING)),
        images=Count("id", filter=Q(image_pending=True)),
        images_delayed=Count("id", filter=Q(image_pending=True, image_queued_at__lt=overdue)),
    )


def recent_embedding_backlog() -> dict[str, int]:
    """:func:`embedding_backlog` with ``FINDER_PENDING_TOO_LONG``, at most two seconds old."""
    return cache.get_or_set("catalog-embedding-backlog",
                            lambda: embedding_backlog(settings.FINDER_PENDING_TOO_LONG), timeout=2)


def recent_status_counts() -> dict[str, int]:
    """:func:`status_counts` of the whole catalog, at most two seconds old: every search page
    shows it, and counting a large catalog on each request would cost more than the search."""
    return cache.get_or_set("catalog-status-counts", status_counts, timeout=2)


def import_progress(run: ImportRun) -> dict[str, object]:
    """Where an upload stands: rows read, products indexed so far, failures, time left.

    A run that has nothing pending any more is marked done here, when it is next looked at.
    """
    counts = status_counts(run.product_ids)
    done = counts["indexed"] + counts["failed"]
    if run.state == ImportRun.State.INDEXING and not counts["pending"]:
        run.state, run.finished_at = ImportRun.State.DONE, timezone.now()
        run.save(update_fields=["state", "finished_at"])
    seconds_left = None
    if run.state == ImportRun.State.INDEXING and run.indexing_started_at and done:
        elapsed = (timezone.now() - run.indexing_started_at).total_seconds()
        seconds_left = round(elapsed / done * counts["pending"])
    return {"state": run.state, "state_label": run.get_state_display(), "error": run.error,
            "total": counts["products"], "done": done, "indexed": counts["indexed"], "failed": counts["failed"],
            "pending": counts["pending"], "seconds_left": seconds_left, "rejected_rows": len(run.rejected),
            "image_problems": len(run.image_problems), "created": run.created, "updated": run.updated,
            "unchanged": run.unchanged}


def photo_urls(product_ids: Collection[int | str]) -> dict[str, str]:
    """The photos' URLs of those of the products that have one, by id (as text: an import
    report's rows name ids as the CSV had them)."""
    # A report's id is whatever the row held: only plain numbers a product id can be are looked up.
    ids = [int(pid) for pid in product_ids if re.fullmatch(r"[0-9]{1,9}", str(pid))]
    return {str(product.id): product.image_url for product in Product.objects.filter(id__in=ids).exclude(image="")
            .only("id", "image")}
