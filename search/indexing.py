"""Embedding products into the index, and keeping the index in step with the database.

Work is queued per kind of vector (:mod:`search.kinds`), in batches, each kind on a queue of
its own; a worker embeds a batch and writes it. A product is searchable once its primary (text)
vector is written; its other vectors join its document as they come.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Iterable
from datetime import timedelta

import numpy as np
from amqp.exceptions import ChannelError
from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError
from PIL import Image

from catalog.images import ImageRejected, check_file_size, load_image
from catalog.models import Product
from finder.celery import app
from search.kinds import BY_NAME, KINDS, PRIMARY, VectorKind
from search.store import get_store
from search.store.schema import configured_layout

logger = logging.getLogger(__name__)
#: The task that embeds a batch: named, not imported (the tasks import this module).
EMBED_TASK = "search.tasks.embed"


def queue_embedding(product_ids: Iterable[int], kinds: Iterable[VectorKind] = KINDS) -> None:
    """Queue the products' embedding of each of ``kinds`` (for the products it applies to), in batches.

    With the broker unreachable (after Celery's own retries), the products stay pending in the
    database and :func:`search.lifecycle.sweep_index` queues them once it is back: nothing is lost.
    """
    ids = list(product_ids)
    now = timezone.now()
    size = settings.FINDER_EMBED_BATCH
    try:
        for kind in kinds:
            products = Product.objects.filter(kind.applies, id__in=ids)
            if kind.primary:
                products.update(**{kind.queued_field: now})
            else:
                # How long a product has waited: queued again, it keeps its time.
                products.filter(~kind.pending | Q(**{kind.queued_field: None})).update(**{kind.queued_field: now})
                products.update(**dict(kind.pending.children))
            chosen = set(products.values_list("id", flat=True))
            batch = [pid for pid in ids if pid in chosen]
            for start in range(0, len(batch), size):
                app.send_task(EMBED_TASK, (kind.name, batch[start:start + size]), queue=kind.queue())
    except OperationalError as exc:
        logger.warning("the broker cannot be reached (%s): %d products stay pending until the sweep "
                       "queues them", exc, len(ids))


def waiting_tasks() -> dict[str, int]:
    """Embedding tasks waiting in the broker, by kind (a queue the broker does not know, as
    after it lost its data, holds none)."""
    waiting = {}
    with app.connection_for_read() as connection:
        for kind in KINDS:
            waiting[kind.name] = 0
            with contextlib.suppress(ChannelError):
                waiting[kind.name] = connection.default_channel.queue_declare(kind.queue(),
                                                                                passive=True).message_count
    return waiting


def index_texts(product_ids: list[int]) -> None:
    """Embed a batch of products' text and write their documents: searchable from then on.

    Redis trouble raises :class:`SearchUnavailable`, for the task to retry.
    """
    products = list(Product.objects.filter(id__in=product_ids))
    if not products:
        return
    layout = configured_layout()
    text = BY_NAME["text"]
    vectors = text.embedder().embed([p.search_text() for p in products])
    get_store().write_documents(layout, products, text.field, vectors,
                                cleared=[kind.field for kind in KINDS if not kind.primary])
    for product in products:
        product.status = Product.Status.INDEXED
        _note_text_only(product)
    Product.objects.bulk_update(products, ["status", "status_reason"])


def index_images(product_ids: list[int]) -> None:
    """Embed a batch of products' images and add the vectors to their documents.

    A product whose image cannot be read stays searchable by text, with the reason kept.
    """
    products = list(Product.objects.filter(id__in=product_ids))
    if not products:
        return
    layout = configured_layout()
    image = BY_NAME["image"]
    vectors = _image_vectors(products)
    get_store().write_vectors(layout, image.field, {product.id: vectors.get(product.id) for product in products})
    for product in products:
        product.image_pending = False
        _note_text_only(product)
    Product.objects.bulk_update(products, ["image_pending", "image_problem", "status_reason"])


def _note_text_only(product: Product) -> None:
    product.status_reason = f"searchable by text only: {product.image_problem}" if product.image_problem else ""


def _image_vectors(products: list[Product]) -> dict[int, np.ndarray]:
    """Image vectors by product id, for the products whose image opens; notes the others."""
    images: dict[int, Image.Image] = {}
    for product in products:
        if not product.image:
            continue
        try:
            check_file_size(product.image.size)
            with product.image.open("rb") as handle:
                images[product.id] = load_image(handle.read())
        except OSError as exc:
            product.image_problem = f"the image file cannot be read ({exc})"[:255]
        except ImageRejected as exc:
            product.image_problem = str(exc)[:255]
    if not images:
        return {}
    vectors = BY_NAME["image"].embedder().embed(list(images.values()))
    return dict(zip(images, vectors, strict=True))


def image_failed(product_ids: list[int], reason: str) -> None:
    Product.objects.filter(id__in=product_ids).update(image_pending=False, image_problem=reason[:255],
                                                      status_reason=f"searchable by text only: {reason}"[:255])


def mark_failed(product_ids: list[int], reason: str) -> None:
    Product.objects.filter(id__in=product_ids).update(status=Product.Status.FAILED, status_reason=reason[:255],
                                                      image_pending=False)


def remove_from_index(product_ids: Iterable[int]) -> None:
    """Delete products' documents from every version of the index, and their metadata."""
    get_store().remove(product_ids)


def reconcile_index(busy: Collection[str] = ()) -> int:
    """Queue every product the index lacks: pending ones, indexed ones whose document is gone,
    and ones whose other vectors are gone; how many.

    For the kinds named in ``busy`` (their queue holds tasks), work is queued again only for
    products that have waited longer than ``FINDER_PENDING_TOO_LONG`` seconds.
    This is how the index is rebuilt from the database after Redis lost its data.
    """
    layout = configured_layout()
    secondary = [kind for kind in KINDS if not kind.primary]
    indexed = Product.objects.filter(status=Product.Status.INDEXED)
    ids = list(indexed.values_list("id", flat=True))
    expected = {kind.name: set(indexed.filter(kind.applies & ~kind.pending, **{kind.problem_field: ""})
                               .values_list("id", flat=True)) for kind in secondary}
    present = get_store().present(layout, ids, [kind.field for kind in secondary])
    lost = [pid for pid, (doc, *_) in zip(ids, present, strict=True) if not doc]
    Product.objects.filter(id__in=lost).update(**dict(PRIMARY.pending.children), **{PRIMARY.queued_field: None})
    for position, kind in enumerate(secondary, start=1):
        lost = [pid for pid, found in zip(ids, present, strict=True)
                if found[0] and not found[position] and pid in expected[kind.name]]
        Product.objects.filter(id__in=lost).update(**dict(kind.pending.children), **{kind.queued_field: None})
    overdue = timezone.now() - timedelta(seconds=settings.FINDER_PENDING_TOO_LONG)
    waiting: dict[str, set[int]] = {}
    for kind in KINDS:
        products = Product.objects.filter(kind.pending)
        if kind.name in busy:
            products = (products.filter(Q(**{f"{kind.queued_field}__lt": overdue}) | Q(**{kind.queued_field: None}))
                        if _due(kind.name) else products.none())
        waiting[kind.name] = set(products.values_list("id", flat=True))
    # A document written afresh brings every vector; the other kinds queue what it does not.
    rewritten = waiting[PRIMARY.name]
    queue_embedding(rewritten)
    for kind in secondary:
        queue_embedding(waiting[kind.name] - rewritten, [kind])
    return len(set().union(*waiting.values()))


def _due(kind: str) -> bool:
    """Whether overdue work of ``kind`` may be queued again behind a busy queue: once every
    ``FINDER_PENDING_TOO_LONG`` seconds, so that a queue whose worker is gone does not fill up
    with copies of the same work at every sweep."""
    return cache.add(f"sweep-requeued:{kind}", True, timeout=settings.FINDER_PENDING_TOO_LONG)
