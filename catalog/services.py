"""Writes to the catalog: importing a catalog file into the database, the source of truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog.images import ImageRejected, normalise
from catalog.importer import CatalogError, CatalogSource, Rejected, Row
from catalog.models import ImportRun, Product
from search.services import queue_embedding, remove_from_index

IMAGE_DIR = "products"
#: Fields that, when changed by an import, make a product's embeddings stale.
CATALOG_FIELDS = ("gender", "master_category", "sub_category", "article_type", "base_colour",
                  "season", "year", "usage", "name", "latitude", "longitude", "image", "image_problem")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    image_problems: list[Rejected] = field(default_factory=list)
    images_converted: list[Rejected] = field(default_factory=list)
    product_ids: list[int] = field(default_factory=list)
    queued: int = 0


def import_catalog(path: Path) -> ImportReport:
    """Upsert every well-formed row of the catalog at ``path`` and queue its embedding.

    Rows that cannot be read are reported with their line and reason, and the rest is
    imported. A duplicate id within the file: the last row wins, and the earlier is reported.
    Products whose image is missing or unusable are imported all the same, searchable by
    text, with the problem recorded on the product; a product that already has a photo keeps
    it when the file brings none. Importing the same file twice changes nothing and queues
    nothing.
    """
    report = ImportReport()
    rows: dict[int, Row] = {}
    with CatalogSource(path) as source:
        for item in source.rows():
            if isinstance(item, Rejected):
                report.rejected.append(item)
                continue
            product_id = int(item.values["id"])
            if product_id in rows:
                report.rejected.append(Rejected(rows[product_id].line,
                                                f"duplicate id, replaced by line {item.line}",
                                                str(product_id)))
            rows[product_id] = item
        existing = Product.objects.in_bulk(list(rows))
        images = {pid: _store_image(source, row, existing.get(pid), report) for pid, row in rows.items()}

    to_create: list[Product] = []
    to_update: list[Product] = []
    stale: list[int] = []
    for product_id, row in rows.items():
        values = {**row.values, **images[product_id]}
        product = existing.get(product_id)
        if product is None:
            to_create.append(Product(**values))
            stale.append(product_id)
            continue
        changed = [name for name in CATALOG_FIELDS if getattr(product, name) != values[name]]
        if changed:
            for name in changed:
                setattr(product, name, values[name])
            product.status, product.status_reason = Product.Status.PENDING, ""
            to_update.append(product)
            stale.append(product_id)
        elif product.status != Product.Status.INDEXED or product.image_pending:
            stale.append(product_id)
    with transaction.atomic():
        Product.objects.bulk_create(to_create, batch_size=500)
        Product.objects.bulk_update(to_update, [*CATALOG_FIELDS, "status", "status_reason"], batch_size=500)
        transaction.on_commit(lambda: queue_embedding(stale))
    report.created, report.updated = len(to_create), len(to_update)
    report.unchanged = len(rows) - report.created - report.updated
    report.product_ids = list(rows)
    report.queued = len(stale)
    return report


def _store_image(source: CatalogSource, row: Row, known: Product | None,
                 report: ImportReport) -> dict[str, str]:
    """Check the product's image, convert it if it must be, and store it under MEDIA_ROOT as
    ``products/<id>.jpg``; the product's image fields.

    A catalog file without an image for a product that already has one keeps that image: a
    shop re-uploading its CSV to fix names does not mean to take its photos down.
    """
    product_id = int(row.values["id"])
    found = source.image(product_id)
    if found is None and known is not None and known.image:
        return {"image": known.image.name, "image_problem": ""}
    try:
        if found is None:
            raise ImageRejected("no image file")
        data, note = normalise(found)
    except ImageRejected as exc:
        report.image_problems.append(Rejected(row.line, str(exc), str(product_id)))
        return {"image": "", "image_problem": str(exc)}
    if note:
        report.images_converted.append(Rejected(row.line, note, str(product_id)))
    name = f"{product_id}.jpg"
    target = Path(settings.MEDIA_ROOT) / IMAGE_DIR / name
    if not target.is_file() or target.read_bytes() != data:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return {"image": f"{IMAGE_DIR}/{name}", "image_problem": ""}


def reembed(products: QuerySet[Product]) -> int:
    """Mark products pending and queue their embedding (after the transaction commits)."""
    ids = list(products.values_list("id", flat=True))
    products.update(status=Product.Status.PENDING, status_reason="")
    transaction.on_commit(lambda: queue_embedding(ids))
    return len(ids)


def delete_products(products: QuerySet[Product]) -> int:
    """Delete products from the index, then from the catalog.

    In that order: should the second step fail, the products are still in the database, and
    ``reconcile_index`` puts back what the index lacks; the other way round would leave the
    index showing products that no longer exist.
    """
    ids = list(products.values_list("id", flat=True))
    remove_from_index(ids)
    Product.objects.filter(id__in=ids).delete()
    return len(ids)


def store_upload(files: dict[str, UploadedFile], user: AbstractBaseUser | None) -> ImportRun:
    """Keep an admin upload on disk and queue its import; the run that reports on it.

    ``files`` holds ``archive`` (a .zip in the public set's layout), or ``styles`` (the CSV)
    with, optionally, ``images`` (a .zip of the images). Django has already streamed large
    files to disk; here they are moved, chunk by chunk, never read whole into memory.
    """
    run = ImportRun.objects.create(created_by=user, source=", ".join(f.name for f in files.values()))
    folder = Path(settings.FINDER_UPLOAD_DIR) / str(run.pk)
    folder.mkdir(parents=True, exist_ok=True)
    names = {"archive": "catalog.zip", "styles": "styles.csv", "images": "images.zip"}
    for role, upload in files.items():
        with (folder / names[role]).open("wb") as target:
            for chunk in upload.chunks():
                target.write(chunk)
    run.folder = str(folder / "catalog.zip" if "archive" in files else folder)
    run.save(update_fields=["folder"])
    from catalog.tasks import import_upload

    transaction.on_commit(lambda: import_upload.delay(run.pk))
    return run


def run_import(run: ImportRun) -> None:
    """Import an uploaded catalog and record the report on its run."""
    run.state = ImportRun.State.READING
    run.save(update_fields=["state"])
    try:
        report = import_catalog(Path(run.folder))
    except CatalogError as exc:
        run.state, run.error, run.finished_at = ImportRun.State.FAILED, str(exc), timezone.now()
        run.save(update_fields=["state", "error", "finished_at"])
        return

    def rows(items: list[Rejected]) -> list[dict[str, object]]:
        return [{"line": item.line, "id": item.product_id, "reason": item.reason} for item in items]

    run.created, run.updated, run.unchanged = report.created, report.updated, report.unchanged
    run.rejected, run.image_problems = rows(report.rejected), rows(report.image_problems)
    run.images_converted, run.product_ids = rows(report.images_converted), report.product_ids
    run.state, run.indexing_started_at = ImportRun.State.INDEXING, timezone.now()
    run.save()
