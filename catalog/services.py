"""Writes to the catalog: importing a catalog file into the database, the source of truth."""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog.attributes import FIELDS
from catalog.images import ImageRejected, normalise
from catalog.importer import CatalogError, CatalogSource, Rejected, Row
from catalog.models import ImportRun, Product
from catalog.signals import importing, products_changed, products_deleting
from finder.errors import Unavailable

logger = logging.getLogger(__name__)

IMAGE_DIR = "products"
#: Rows are written this many at a time, each batch in one transaction: an import of any size
#: holds one batch in memory, never the whole file.
IMPORT_BATCH = 1000
#: Fields that, when changed by an import, make a product's embeddings stale.
CATALOG_FIELDS = (*FIELDS, "year", "name", "latitude", "longitude", "image", "image_problem")


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
    imported, :data:`IMPORT_BATCH` rows to a transaction. A duplicate id within the file: the
    last row wins, and the earlier is reported. Products whose image is missing or unusable
    are imported all the same, searchable by text, with the problem recorded on the product; a
    product that already has a photo keeps it when the file brings none. Importing the same
    file twice changes nothing and queues nothing.
    """
    importing.send(sender=Product)
    report = ImportReport()
    lines: dict[int, int] = {}  # id -> the line of the row that stands
    with CatalogSource(path) as source:
        batch: dict[int, Row] = {}
        for item in source.rows():
            if isinstance(item, Rejected):
                report.rejected.append(item)
                continue
            product_id = int(item.values["id"])
            if product_id in lines:
                report.rejected.append(Rejected(lines[product_id], f"duplicate id, replaced by line {item.line}",
                                                str(product_id)))
            lines[product_id] = item.line
            batch[product_id] = item
            if len(batch) >= IMPORT_BATCH:
                _import_batch(source, batch, report)
                batch = {}
        if batch:
            _import_batch(source, batch, report)
    report.product_ids = list(lines)
    return report


def _import_batch(source: CatalogSource, rows: dict[int, Row], report: ImportReport) -> None:
    """Write one batch of rows in one transaction; queue their embedding once it commits.

    Photos are stored first, under names of their own, so the rows switch to them in the
    transaction; the photos they replace are removed once it has committed (and a photo whose
    transaction failed is an orphan for :func:`remove_stale_files`).
    """
    existing = Product.objects.in_bulk(list(rows))
    to_create: list[Product] = []
    to_update: list[Product] = []
    stale: list[int] = []
    replaced: list[str] = []
    for product_id, row in rows.items():
        values = {**row.values, **_store_image(source, row, existing.get(product_id), report)}
        product = existing.get(product_id)
        if product is None:
            to_create.append(Product(**values))
            stale.append(product_id)
            continue
        changed = [name for name in CATALOG_FIELDS if getattr(product, name) != values[name]]
        if "image" in changed and product.image:
            replaced.append(product.image.name)
        if changed:
            for name in changed:
                setattr(product, name, values[name])
            product.status, product.status_reason = Product.Status.PENDING, ""
            to_update.append(product)
            stale.append(product_id)
        elif product.status != Product.Status.INDEXED or product.image_pending:
            stale.append(product_id)
    with transaction.atomic():
        Product.objects.bulk_create(to_create)
        Product.objects.bulk_update(to_update, [*CATALOG_FIELDS, "status", "status_reason"])
        transaction.on_commit(lambda: announce_changed(stale))
        transaction.on_commit(lambda: delete_photos(replaced))
    report.created += len(to_create)
    report.updated += len(to_update)
    report.unchanged += len(rows) - len(to_create) - len(to_update)
    report.queued += len(stale)


def _store_image(source: CatalogSource, row: Row, known: Product | None,
                 report: ImportReport) -> dict[str, str]:
    """Check the product's image, convert it if it must be, and store it; the product's image
    fields.

    A catalog file without an image for a product that already has one keeps that image: a
    shop re-uploading its CSV to fix names does not mean to take its photos down.
    """
    product_id = int(row.values["id"])
    try:
        found = source.image(product_id)
        if found is None and known is not None and known.image:
            return {"image": known.image.name, "image_problem": ""}
        if found is None:
            raise ImageRejected("no image file")
        data, note = normalise(found)
    except ImageRejected as exc:
        report.image_problems.append(Rejected(row.line, str(exc), str(product_id)))
        return {"image": "", "image_problem": str(exc)}
    if note:
        report.images_converted.append(Rejected(row.line, note, str(product_id)))
    return {"image": store_photo(product_id, data), "image_problem": ""}


def photo_name(product_id: int, data: bytes) -> str:
    """The photo's own name: the product and a digest of the bytes."""
    return f"{IMAGE_DIR}/{product_id}-{hashlib.sha256(data).hexdigest()[:16]}.jpg"


def store_photo(product_id: int, data: bytes) -> str:
    """Store a checked, web-ready photo (see :func:`catalog.images.normalise`); its name."""
    name = photo_name(product_id, data)
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(data))
    return name


def delete_photos(names: Iterable[str]) -> None:
    """Delete photo files that no product refers to any more."""
    names = {name for name in names if name}
    if not names:
        return
    names -= set(Product.objects.filter(image__in=names).values_list("image", flat=True))
    for name in names:
        default_storage.delete(name)


def remove_stale_files() -> dict[str, int]:
    """Delete photos no product refers to and catalog uploads past their retention; how many.

    A photo is left alone for an hour after it was written: an import that is still running
    may be about to refer to it. An upload is kept ``FINDER_UPLOAD_RETENTION_DAYS`` (its run's
    report stays; only the files go).
    """
    removed = {"photos": 0, "uploads": 0}
    hour_ago = timezone.now() - timedelta(hours=1)
    if default_storage.exists(IMAGE_DIR):
        referenced = set(Product.objects.exclude(image="").values_list("image", flat=True))
        for name in (f"{IMAGE_DIR}/{file}" for file in default_storage.listdir(IMAGE_DIR)[1]):
            if name not in referenced and default_storage.get_modified_time(name) < hour_ago:
                default_storage.delete(name)
                removed["photos"] += 1
    uploads = Path(settings.FINDER_UPLOAD_DIR)
    if uploads.is_dir():
        cutoff = time.time() - settings.FINDER_UPLOAD_RETENTION_DAYS * 86400
        for folder in uploads.iterdir():
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed["uploads"] += 1
    return removed


def announce_changed(product_ids: list[int]) -> None:
    """Announce that products were created or changed (:data:`catalog.signals.products_changed`)."""
    if product_ids:
        products_changed.send(sender=Product, product_ids=product_ids)


def reembed(products: QuerySet[Product]) -> int:
    """Mark products pending and have them embedded again (announced once the transaction commits)."""
    ids = list(products.values_list("id", flat=True))
    products.update(status=Product.Status.PENDING, status_reason="")
    transaction.on_commit(lambda: announce_changed(ids))
    return len(ids)


def delete_products(products: QuerySet[Product]) -> int:
    """Announce the deletion (the index forgets the products), then delete them from the
    catalog, then their photos.

    In that order: should the second step fail, the products are still in the database, and
    the index's sweep puts back what it lacks; the other way round would leave the index
    showing products that no longer exist.
    """
    found = list(products.values_list("id", "image"))
    ids = [pid for pid, _ in found]
    products_deleting.send(sender=Product, product_ids=ids)
    with transaction.atomic():
        Product.objects.filter(id__in=ids).delete()
        transaction.on_commit(lambda: delete_photos(image for _, image in found))
    return len(ids)


def store_upload(files: dict[str, UploadedFile], user: AbstractBaseUser | None) -> ImportRun:
    """Keep an admin upload on disk; the run that reports on it, for the caller to queue its import
    (:func:`catalog.tasks.import_upload`).

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
    return run


def run_import(run_id: int) -> None:
    """Import an uploaded catalog and record the report on its run.

    Only a queued run starts, or one whose worker died while reading it (a redelivered task;
    the import is idempotent): a task delivered twice never imports a run that has finished.
    Whatever goes wrong ends the run as failed, with the reason: a run is never left reading.
    """
    started = ImportRun.objects.filter(pk=run_id, state__in=[ImportRun.State.QUEUED, ImportRun.State.READING]).update(
        state=ImportRun.State.READING)
    if not started:
        logger.warning("import run %s is not waiting to be read; left as it is", run_id)
        return
    run = ImportRun.objects.get(pk=run_id)
    try:
        report = import_catalog(Path(run.folder))
    except (CatalogError, Unavailable) as exc:
        fail_import(run_id, str(exc))
        return
    except Exception as exc:
        logger.exception("import run %s failed", run_id)
        fail_import(run_id, f"the import stopped on an unexpected error ({type(exc).__name__}: {exc}); "
                            "the rows before it were imported")
        return

    def rows(items: list[Rejected]) -> list[dict[str, object]]:
        return [{"line": item.line, "id": item.product_id, "reason": item.reason} for item in items]

    run.created, run.updated, run.unchanged = report.created, report.updated, report.unchanged
    run.rejected, run.image_problems = rows(report.rejected), rows(report.image_problems)
    run.images_converted, run.product_ids = rows(report.images_converted), report.product_ids
    run.state, run.indexing_started_at = ImportRun.State.INDEXING, timezone.now()
    try:
        run.save()
    except DatabaseError as exc:  # the rows are in; a report the database will not hold still ends the run
        logger.exception("import run %s: its report could not be saved", run_id)
        fail_import(run_id, f"the products were imported, but the report could not be saved ({exc})")


def fail_import(run_id: int, reason: str) -> None:
    """End a run that has not finished as failed, with the reason."""
    ImportRun.objects.filter(pk=run_id).exclude(state__in=[ImportRun.State.DONE, ImportRun.State.FAILED]).update(
        state=ImportRun.State.FAILED, error=reason, finished_at=timezone.now())
