"""Reads from the catalog database."""

from __future__ import annotations

from collections.abc import Collection

from django.utils import timezone

from catalog.attributes import PRODUCT_ID, TAGS
from catalog.models import ImportRun, Product
from catalog.signals import progress_asked


def attribute_values() -> dict[str, list[str]]:
    """Every value each filter attribute takes in the catalog, by query parameter: the filter
    choices while the index (which counts them) cannot be asked."""
    return {attribute.parameter: list(Product.objects.exclude(**{attribute.field: ""}).order_by(attribute.field)
                                      .values_list(attribute.field, flat=True).distinct())
            for attribute in TAGS}


def status_counts(product_ids: Collection[str] | None = None) -> dict[str, int]:
    """How far the products (of ``product_ids``, or all) are searchable, as search answers
    (:data:`catalog.signals.progress_asked`): ``products``, ``indexed``, ``pending``, ``failed``.
    With no listener, every product counts as pending."""
    for _, counts in progress_asked.send(sender=Product, product_ids=product_ids):
        if counts is not None:
            return counts
    total = (Product.objects.all() if product_ids is None else Product.objects.filter(id__in=list(product_ids))).count()
    return {"products": total, "indexed": 0, "pending": total, "failed": 0}


def image_problems(product_ids: Collection[str]) -> list[tuple[str, str]]:
    """The products among ``product_ids`` whose image link could not be used, and why."""
    found: list[tuple[str, str]] = []
    ids = list(product_ids)
    for start in range(0, len(ids), 1000):
        found += Product.objects.filter(id__in=ids[start:start + 1000]).exclude(image_fetched_from="").exclude(
            image_problem="").values_list("id", "image_problem")
    return found


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


def photo_urls(product_ids: Collection[str]) -> dict[str, str]:
    """The photos' URLs of those of the products that have one, by id (an import report's rows
    name ids as the file had them: only those a product id can be are looked up)."""
    ids = [pid for pid in product_ids if PRODUCT_ID.fullmatch(str(pid))]
    return {product.id: product.image_url for product in Product.objects.filter(id__in=ids).exclude(image="")
            .only("id", "image")}
