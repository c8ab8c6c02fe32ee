"""Embedding products into the index, and keeping the index in step with the database.

Work is queued per kind of vector (:mod:`search.kinds`), in batches, each kind on a queue of
its own; a worker embeds a batch and writes it. A product is searchable once its primary (text)
vector is written; its other vectors join its document as they come.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Collection, Iterable
from datetime import timedelta

import numpy as np
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from kombu.exceptions import OperationalError
from PIL import Image

from catalog.images import ImageRejected, check_file_size, load_image
from catalog.models import Product
from core import metrics
from core.workers import waiting
from search.kinds import BY_NAME, KINDS, PRIMARY, VectorKind
from search.models import WAITING, IndexEntry
from search.store import get_store
from search.store.connection import SearchUnavailable
from search.store.schema import configured_layout

logger = logging.getLogger(__name__)
#: The tasks that embed a batch and rewrite documents: named, not imported (the tasks import this module).
EMBED_TASK = "search.tasks.embed"
REFRESH_TASK = "search.tasks.refresh_documents"
State = IndexEntry.State


def _set_entries(kind: VectorKind, product_ids: Iterable[str], state: str, **values: object) -> None:
    """Create or update the products' entries of ``kind`` (one statement per thousand)."""
    ids = list(product_ids)
    for start in range(0, len(ids), 1000):
        IndexEntry.objects.bulk_create(
            [IndexEntry(product_id=pid, kind=kind.name, state=state, **values) for pid in ids[start:start + 1000]],
            update_conflicts=True, unique_fields=["product", "kind"], update_fields=["state", *values])


def products_changed(product_ids: list[str], fields: Collection[str] | None) -> None:
    """Products were created (``fields`` None) or some of their ``fields`` changed: embed again
    the kinds of vector those fields make; the rest only has its documents rewritten (a new
    price re-embeds nothing)."""
    embedded = [kind for kind in KINDS if fields is None or set(kind.inputs) & set(fields)]
    if embedded:
        queue_embedding(product_ids, embedded)
    if fields is not None and PRIMARY not in embedded:
        try:
            current_app.send_task(REFRESH_TASK, (product_ids,), queue=PRIMARY.queue())
        except OperationalError as exc:
            logger.warning("the broker cannot be reached (%s): %d products' documents are rewritten when they "
                           "are next embedded", exc, len(product_ids))


def queue_embedding(product_ids: Iterable[str], kinds: Iterable[VectorKind] = KINDS) -> None:
    """Queue the products' embedding of each of ``kinds`` (for the products it applies to), in batches.

    Their entries say queued (since when: queued again, a product keeps its time), a few statements
    a thousand products; should the broker be unreachable (after Celery's own retries), the
    entries not sent say pending, and :func:`search.lifecycle.sweep_index` queues them once it is
    back. A kind that no longer applies to a product (its photo is gone) lets it go.
    """
    ids, kinds = list(product_ids), list(kinds)
    chunks = [ids[start:start + QUEUE_CHUNK] for start in range(0, len(ids), QUEUE_CHUNK)]
    for number, chunk in enumerate(chunks):
        if not _queue_chunk(chunk, kinds):
            for rest, kind in itertools.product(chunks[number + 1:], kinds):  # the broker is down: for the sweep
                _set_entries(kind, Product.objects.filter(kind.applies, id__in=rest).values_list("id", flat=True),
                             State.PENDING)
            return


#: Products queued at a time: a thousand keep each statement's list of ids within SQLite's limit.
QUEUE_CHUNK = 1000


def _queue_chunk(ids: list[str], kinds: list[VectorKind]) -> bool:
    """:func:`queue_embedding` for at most :data:`QUEUE_CHUNK` products; False if the broker is down."""
    size = settings.FINDER_EMBED_BATCH
    for kind in kinds:
        chosen = set(Product.objects.filter(kind.applies, id__in=ids).values_list("id", flat=True))
        _let_go(kind, [pid for pid in ids if pid not in chosen])
        batch = [pid for pid in ids if pid in chosen]
        with transaction.atomic():
            _set_entries(kind, batch, State.QUEUED, reason="")
            IndexEntry.objects.filter(kind=kind.name, product_id__in=batch, queued_at=None).update(
                queued_at=timezone.now())
        sent = 0
        try:
            for sent in range(0, len(batch), size):
                current_app.send_task(EMBED_TASK, (kind.name, batch[sent:sent + size]), queue=kind.queue())
        except OperationalError as exc:
            logger.warning("the broker cannot be reached (%s): %d products stay pending until the sweep "
                           "queues them", exc, len(batch) - sent)
            _set_entries(kind, batch[sent:], State.PENDING)
            return False
    return True


def _let_go(kind: VectorKind, product_ids: list[str]) -> None:
    """Products ``kind`` no longer applies to (their photo is gone) lose its vector and their entry."""
    had = list(IndexEntry.objects.filter(kind=kind.name, product_id__in=product_ids).values_list("product_id",
                                                                                                  flat=True))
    if had:
        try:
            get_store().write_vectors(configured_layout(), kind.field, dict.fromkeys(had))
        except SearchUnavailable as exc:  # the text's next embedding rewrites the document without it
            logger.warning("%d products keep a %s vector for now: %s", len(had), kind.name, exc)
        IndexEntry.objects.filter(kind=kind.name, product_id__in=had).delete()


def waiting_tasks() -> dict[str, int]:
    """Embedding tasks waiting in the broker, by kind."""
    found = waiting(kind.queue() for kind in KINDS)
    return {kind.name: found[kind.queue()] for kind in KINDS}


def _done(kind: VectorKind, product_ids: Iterable[str]) -> None:
    IndexEntry.objects.filter(kind=kind.name, product_id__in=list(product_ids)).update(
        state=State.INDEXED, queued_at=None, reason="")


def index_texts(product_ids: list[str]) -> None:
    """Embed a batch of products' text and write their documents: searchable from then on.

    Redis trouble raises :class:`SearchUnavailable`, for the task to retry.
    """
    products = list(Product.objects.filter(id__in=product_ids))
    if not products:
        return
    layout = configured_layout()
    vectors = PRIMARY.embedder().embed([p.search_text for p in products])
    metrics.EMBEDDINGS.labels(PRIMARY.name).inc(len(products))
    get_store().write_documents(layout, products, PRIMARY.field, vectors,
                                cleared=[kind.field for kind in KINDS if not kind.primary])
    _done(PRIMARY, (p.id for p in products))
    _forget_gone(products)


def refresh_documents(product_ids: list[str]) -> None:
    """Rewrite the documents of products whose vectors still hold (their price, stock or link
    changed): nothing is embedded. Products not searchable yet get theirs when they are."""
    indexed = IndexEntry.objects.filter(kind=PRIMARY.name, state=State.INDEXED, product_id__in=product_ids)
    products = list(Product.objects.filter(id__in=indexed.values("product_id")))
    if products:
        get_store().write_fields(configured_layout(), products)
        _forget_gone(products)


def _forget_gone(products: list[Product]) -> None:
    """Remove the documents just written of products deleted meanwhile: their deletion removed
    them before this write put them back."""
    gone = {p.id for p in products} - set(Product.objects.filter(id__in=[p.id for p in products])
                                           .values_list("id", flat=True))
    if gone:
        remove_from_index(gone)


def index_images(product_ids: list[str]) -> None:
    """Embed a batch of products' images and add the vectors to their documents.

    A product whose image cannot be read stays searchable by text, its entry failed with the reason.
    """
    products = list(Product.objects.filter(id__in=product_ids))
    if not products:
        return
    layout = configured_layout()
    image = BY_NAME["image"]
    vectors, problems = _image_vectors(products)
    get_store().write_vectors(layout, image.field, {product.id: vectors.get(product.id) for product in products})
    _done(image, vectors)
    _forget_gone(products)
    for product_id, reason in problems.items():
        image_failed([product_id], reason)


def _image_vectors(products: list[Product]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Image vectors by product id, for the products whose image opens; and why the others' did not."""
    images: dict[str, Image.Image] = {}
    problems: dict[str, str] = {}
    for product in products:
        if not product.image:
            continue
        try:
            check_file_size(product.image.size)
            with product.image.open("rb") as handle:
                images[product.id] = load_image(handle.read())
        except OSError as exc:
            problems[product.id] = f"the image file cannot be read ({exc})"
        except ImageRejected as exc:
            problems[product.id] = str(exc)
    if not images:
        return {}, problems
    kind = BY_NAME["image"]
    vectors = kind.embedder().embed(list(images.values()))
    metrics.EMBEDDINGS.labels(kind.name).inc(len(images))
    return dict(zip(images, vectors, strict=True)), problems


def image_failed(product_ids: list[str], reason: str) -> None:
    IndexEntry.objects.filter(kind=BY_NAME["image"].name, product_id__in=product_ids).update(
        state=State.FAILED, reason=reason[:255], queued_at=None)


def mark_failed(product_ids: list[str], reason: str) -> None:
    """The products cannot be made searchable: every entry of theirs still waiting fails, with the reason."""
    IndexEntry.objects.filter(product_id__in=product_ids).filter(
        Q(kind=PRIMARY.name) | Q(state__in=WAITING)).update(state=State.FAILED, reason=reason[:255], queued_at=None)


def remove_from_index(product_ids: Iterable[str]) -> None:
    """Delete products' documents from every version of the index, and their metadata."""
    get_store().remove(product_ids)


def reconcile_index(busy: Collection[str] = ()) -> int:
    """Queue every product the index lacks: products search has not seen, pending ones, indexed
    ones whose document is gone, and ones whose other vectors are gone; how many.

    For the kinds named in ``busy`` (their queue holds tasks), queued work is queued again only
    for products that have waited longer than ``FINDER_PENDING_TOO_LONG`` seconds; with an
    empty queue, queued work was lost and is queued again.
    This is how the index is rebuilt from the database after Redis lost its data.
    """
    layout = configured_layout()
    for kind in KINDS:
        _add_missing_entries(kind)
    secondary = [kind for kind in KINDS if not kind.primary]
    ids = list(IndexEntry.objects.filter(kind=PRIMARY.name, state=State.INDEXED).values_list("product_id", flat=True))
    present = get_store().present(layout, ids, [kind.field for kind in secondary])
    _set_entries(PRIMARY, [pid for pid, (doc, *_) in zip(ids, present, strict=True) if not doc], State.PENDING,
                 queued_at=None)
    for position, kind in enumerate(secondary, start=1):
        expected = set(IndexEntry.objects.filter(kind=kind.name, state=State.INDEXED, product_id__in=ids)
                       .values_list("product_id", flat=True))
        lost = [pid for pid, found in zip(ids, present, strict=True)
                if found[0] and not found[position] and pid in expected]
        _set_entries(kind, lost, State.PENDING, queued_at=None)
    overdue = timezone.now() - timedelta(seconds=settings.FINDER_PENDING_TOO_LONG)
    waiting: dict[str, set[str]] = {}
    for kind in KINDS:
        entries = IndexEntry.objects.filter(kind=kind.name, state__in=WAITING)
        if kind.name in busy:
            entries = (entries.filter(Q(state=State.PENDING) | Q(queued_at__lt=overdue) | Q(queued_at=None))
                       if _due(kind.name) else entries.filter(state=State.PENDING))
        waiting[kind.name] = set(entries.values_list("product_id", flat=True))
    # A document written afresh brings every vector; the other kinds queue what it does not.
    rewritten = waiting[PRIMARY.name]
    queue_embedding(rewritten)
    for kind in secondary:
        queue_embedding(waiting[kind.name] - rewritten, [kind])
    return len(set().union(*waiting.values()))


def _add_missing_entries(kind: VectorKind) -> None:
    """Pending entries for the products ``kind`` applies to that have none (new to search, as
    after an upgrade); entries of products it no longer applies to go."""
    missing = (Product.objects.filter(kind.applies)
               .exclude(Exists(IndexEntry.objects.filter(product=OuterRef("pk"), kind=kind.name)))
               .values_list("id", flat=True))
    _set_entries(kind, list(missing), State.PENDING)
    if kind.applies:
        IndexEntry.objects.filter(kind=kind.name).exclude(product__in=Product.objects.filter(kind.applies)).delete()


def _due(kind: str) -> bool:
    """Whether overdue work of ``kind`` may be queued again behind a busy queue: once every
    ``FINDER_PENDING_TOO_LONG`` seconds, so that a queue whose worker is gone does not fill up
    with copies of the same work at every sweep."""
    return cache.add(f"sweep-requeued:{kind}", True, timeout=settings.FINDER_PENDING_TOO_LONG)
