"""Writes to the catalog: importing a catalog file into the database, the source of truth."""

from __future__ import annotations

import functools
import hashlib
import logging
import shutil
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError

from catalog.attributes import STORED
from catalog.fetching import FetchFailed, fetch
from catalog.images import ImageRejected, normalise
from catalog.importer import CatalogError, CatalogSource
from catalog.models import FETCH_PENDING, ImportRun, Product
from catalog.rows import Rejected, Row
from catalog.signals import importing, products_changed, products_deleted, products_deleting
from core.errors import Unavailable

logger = logging.getLogger(__name__)

IMAGE_DIR = "products"
#: Rows are written this many at a time, each batch in one transaction: an import of any size
#: holds one batch in memory, never the whole file.
IMPORT_BATCH = 1000
#: Image links a fetching task takes at a time.
FETCH_BATCH = 20
#: The task that fetches products' photos from their image links: named, not imported (the
#: tasks import this module).
FETCH_TASK = "catalog.tasks.fetch_images"
IMPORT_TASK = "catalog.tasks.import_upload"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    image_problems: list[Rejected] = field(default_factory=list)
    images_converted: list[Rejected] = field(default_factory=list)
    product_ids: list[str] = field(default_factory=list)


@dataclass
class Written:
    """What :func:`write_products` did, by product id."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def import_catalog(path: Path, sync: bool = False) -> ImportReport:
    """Upsert every well-formed product of the catalog file at ``path`` and have it indexed.

    The file is a folder or .zip in the public layout or a Merchant Center feed
    (:class:`catalog.importer.CatalogSource`). Rows that cannot be read are reported with their
    line and reason, and the rest is imported, :data:`IMPORT_BATCH` rows to a transaction; a
    row changes the attributes its file gives and leaves the others. A duplicate id within the
    file: the last row wins, and the earlier is reported. Products whose image is missing or
    unusable are imported all the same, searchable by text, with the problem recorded on the
    product; a product that already has a photo keeps it when the file brings none. Importing
    the same file twice changes nothing and queues nothing. With ``sync``, products the file
    does not name (in a good row or a rejected one) are removed.
    """
    importing.send(sender=Product)
    report = ImportReport()
    lines: dict[str, int] = {}  # id -> the line of the row that stands
    named: set[str] = set()  # every id the file names, rejected rows' included
    with CatalogSource(path) as source:
        batch: dict[str, Row] = {}
        for item in source.rows():
            if isinstance(item, Rejected):
                report.rejected.append(item)
                named.add(item.product_id)
                continue
            if item.product_id in lines:
                report.rejected.append(Rejected(lines[item.product_id], f"duplicate id, replaced by line {item.line}",
                                                item.product_id))
            lines[item.product_id] = item.line
            batch[item.product_id] = item
            if len(batch) >= IMPORT_BATCH:
                _import_batch(source, batch, report)
                batch = {}
        if batch:
            _import_batch(source, batch, report)
    report.product_ids = list(lines)
    if sync:
        named.update(lines)
        gone = [pid for pid in Product.objects.values_list("id", flat=True).iterator() if pid not in named]
        for start in range(0, len(gone), IMPORT_BATCH):
            report.removed += delete_products(Product.objects.filter(id__in=gone[start:start + IMPORT_BATCH]))
    return report


def _import_batch(source: CatalogSource, rows: dict[str, Row], report: ImportReport) -> None:
    """Write one batch of rows in one transaction (:func:`write_products`), their photos first."""
    existing = Product.objects.in_bulk(list(rows))
    items = {pid: {**row.values, **_store_image(source, row, existing.get(pid), report)} for pid, row in rows.items()}
    written = write_products(items, existing=existing)
    report.created += len(written.created)
    report.updated += len(written.updated)
    report.unchanged += len(written.unchanged)


def write_products(items: dict[str, dict[str, object]], replace: bool = False,
                   existing: dict[str, Product] | None = None) -> Written:
    """Create or change products, ``{id: {field: value}}`` with values as the attribute registry
    cleans them, in one transaction: the fields given change; with ``replace``, every attribute
    not given is emptied (an API's PUT). Once it has committed, the changes are announced, each
    with the fields that changed, so that search redoes only what they touch (a new price
    re-embeds nothing); new image links are fetched, and the photos replaced are deleted.

    Photos are stored before (under names of their own, so the rows switch to them in the
    transaction; a photo whose transaction failed is an orphan for :func:`remove_stale_files`).
    """
    existing = Product.objects.in_bulk(list(items)) if existing is None else existing
    now = timezone.now()
    written = Written()
    to_create: list[Product] = []
    to_update: dict[str, Product] = {}
    changes: dict[frozenset[str] | None, list[str]] = {}
    replaced: list[str] = []
    for product_id, given in items.items():
        values = {**({a.field: a.empty() for a in STORED} if replace else {}), **given}
        product = existing.get(product_id)
        if product is None:
            to_create.append(Product(id=product_id, **values))
            written.created.append(product_id)
            changes.setdefault(None, []).append(product_id)
            continue
        changed = {name for name, value in values.items() if getattr(product, name) != value}
        old_image = product.image.name if product.image else ""
        for name in changed:
            setattr(product, name, values[name])
        changed |= _follow_image_link(product, changed)
        if "image" in changed and old_image:
            replaced.append(old_image)
        if changed:
            product.updated_at = now  # bulk_update leaves auto_now alone
            to_update[product_id] = product
            written.updated.append(product_id)
            changes.setdefault(frozenset(changed), []).append(product_id)
        else:
            written.unchanged.append(product_id)
    fields = sorted({name for changed in changes if changed for name in changed})
    fetch = [p.id for p in (*to_create, *to_update.values()) if p.image_fetch_pending]
    with transaction.atomic():
        Product.objects.bulk_create(to_create)
        if to_update:
            Product.objects.bulk_update(list(to_update.values()), [*fields, "updated_at"])
        for changed, ids in changes.items():
            transaction.on_commit(functools.partial(announce_changed, ids, changed))
        transaction.on_commit(lambda: delete_photos(replaced))
        transaction.on_commit(lambda: queue_fetches(fetch))
    return written


def _follow_image_link(product: Product, changed: set[str]) -> set[str]:
    """A product whose image link changed lets go of the photo the old link brought (the new
    one is fetched); the fields that changed because of it."""
    if "image_link" not in changed or not product.image_fetched_from:
        return set()
    product.image, product.image_problem, product.image_fetched_from = "", "", ""
    return {"image", "image_problem", "image_fetched_from"}


def queue_fetches(product_ids: list[str]) -> None:
    """Have a worker fetch the products' photos from their image links; with the broker down, they
    wait for :func:`fetch_overdue_images`."""
    if not product_ids:
        return
    try:
        for start in range(0, len(product_ids), FETCH_BATCH):
            current_app.send_task(FETCH_TASK, (product_ids[start:start + FETCH_BATCH],))
    except OperationalError as exc:
        logger.warning("the broker cannot be reached (%s): %d image links wait for the next sweep",
                       exc, len(product_ids))


def fetch_images(product_ids: list[str]) -> None:
    """Fetch the photos of the products whose image link has not been fetched (:mod:`catalog.fetching`),
    check and store each like an imported one, and announce the new photos. A link that fails is
    recorded on its product (``image_problem``), which stays searchable by its words; a link is
    fetched again only when it changes."""
    for product in Product.objects.filter(FETCH_PENDING, id__in=product_ids):
        link, problem, name = product.image_link, "", ""
        try:
            data, _ = normalise(fetch(link))
            name = store_photo(product.id, data)
        except (FetchFailed, ImageRejected) as exc:
            problem = f"image link: {exc}"[:255]
        old = product.image.name if product.image else ""
        # Only if the link is still the one fetched: a change meanwhile is fetched by its own task.
        if Product.objects.filter(pk=product.pk, image_link=link).update(
                image=name, image_problem=problem, image_fetched_from=link, updated_at=timezone.now()):
            if old != name:
                announce_changed([product.id], {"image"})
                delete_photos([old])
        elif name:
            delete_photos([name])


def fetch_overdue_images() -> int:
    """Queue the image links that have waited longer than ``FINDER_PENDING_TOO_LONG`` (their task was
    lost, or the broker was down); how many. Celery beat runs this with the index's sweep."""
    overdue = timezone.now() - timedelta(seconds=settings.FINDER_PENDING_TOO_LONG)
    ids = list(Product.objects.filter(FETCH_PENDING, updated_at__lt=overdue).values_list("id", flat=True))
    queue_fetches(ids)
    return len(ids)


def _store_image(source: CatalogSource, row: Row, known: Product | None,
                 report: ImportReport) -> dict[str, str]:
    """Check the product's image, convert it if it must be, and store it; the product's image
    fields (none for a feed: its photos are links, fetched by a worker).

    A catalog file without an image for a product that already has one keeps that image: a
    shop re-uploading its CSV to fix names does not mean to take its photos down.
    """
    if source.feed:
        return {}
    product_id = row.product_id
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


def photo_name(product_id: str, data: bytes) -> str:
    """The photo's own name: the product and a digest of the bytes."""
    return f"{IMAGE_DIR}/{product_id}-{hashlib.sha256(data).hexdigest()[:16]}.jpg"


def store_photo(product_id: str, data: bytes) -> str:
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


def announce_changed(product_ids: list[str], fields: Collection[str] | None = None) -> None:
    """Announce that products were created (``fields`` None) or that their ``fields`` changed
    (:data:`catalog.signals.products_changed`)."""
    if product_ids:
        products_changed.send(sender=Product, product_ids=product_ids, fields=fields)


def reembed(products: QuerySet[Product]) -> int:
    """Have products embedded again, everything of them (announced once the transaction commits)."""
    ids = list(products.values_list("id", flat=True))
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
        transaction.on_commit(lambda: products_deleted.send(sender=Product, product_ids=ids))
    return len(ids)


def store_upload(files: dict[str, UploadedFile], user: AbstractBaseUser | None, sync: bool = False) -> ImportRun:
    """Keep an admin upload on disk; the run that reports on it, for the caller to queue its import
    (:func:`queue_import`).

    ``files`` holds ``archive`` (a .zip in the public set's layout), or ``feed`` (a Merchant
    Center feed), or ``styles`` (the CSV) with, optionally, ``images`` (a .zip of the images).
    Django has already streamed large files to disk; here they are moved, chunk by chunk, never
    read whole into memory. With ``sync``, the import removes the products the file does not name.
    """
    run = ImportRun.objects.create(created_by=user, source=", ".join(f.name for f in files.values()), sync=sync)
    folder = Path(settings.FINDER_UPLOAD_DIR) / str(run.pk)
    folder.mkdir(parents=True, exist_ok=True)
    names = {"archive": "catalog.zip", "feed": "feed", "styles": "styles.csv", "images": "images.zip"}
    for role, upload in files.items():
        with (folder / names[role]).open("wb") as target:
            for chunk in upload.chunks():
                target.write(chunk)
    single = next((names[role] for role in ("archive", "feed") if role in files), "")
    run.folder = str(folder / single if single else folder)
    run.save(update_fields=["folder"])
    return run


def queue_import(run: ImportRun) -> None:
    """Queue the import of a stored upload (:func:`run_import`, in a worker) once the transaction
    that stored it commits."""
    transaction.on_commit(lambda: current_app.send_task(IMPORT_TASK, (run.pk,)))


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
    logger.info("import run %s: reading %s", run_id, run.source)
    try:
        report = import_catalog(Path(run.folder), sync=run.sync)
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

    run.created, run.updated, run.unchanged, run.removed = report.created, report.updated, report.unchanged, \
        report.removed
    run.rejected, run.image_problems = rows(report.rejected), rows(report.image_problems)
    run.images_converted, run.product_ids = rows(report.images_converted), report.product_ids
    run.state, run.indexing_started_at = ImportRun.State.INDEXING, timezone.now()
    logger.info("import run %s: %d created, %d updated, %d unchanged, %d rejected; indexing", run_id,
                report.created, report.updated, report.unchanged, len(report.rejected))
    try:
        run.save()
    except DatabaseError as exc:  # the rows are in; a report the database will not hold still ends the run
        logger.exception("import run %s: its report could not be saved", run_id)
        fail_import(run_id, f"the products were imported, but the report could not be saved ({exc})")


def fail_import(run_id: int, reason: str) -> None:
    """End a run that has not finished as failed, with the reason."""
    ImportRun.objects.filter(pk=run_id).exclude(state__in=[ImportRun.State.DONE, ImportRun.State.FAILED]).update(
        state=ImportRun.State.FAILED, error=reason, finished_at=timezone.now())
