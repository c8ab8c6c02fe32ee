"""Writes to the search index: its versions and alias, embedding products into it, keeping it
in step with the database.

The index is derived data: everything here can be redone from the database at any time.

Lifecycle. :func:`ensure_index` creates the index version the settings describe. With no
live version, the alias ``<prefix>:products`` points at it at once. With another version
live, the new one is built beside it while search keeps answering from the old: over the
same documents when only the index type, metric or parameters changed (Redis indexes them
in the background), or over documents re-embedded by the workers when the models changed.
:func:`swap_alias_if_complete` then moves the alias (FT.ALIASUPDATE) and drops the old one.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from datetime import timedelta

import numpy as np
from amqp.exceptions import ChannelError
from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError
from PIL import Image
from redis import Redis
from redisvl.index import SearchIndex

from catalog.images import ImageRejected, check_file_size, load_image
from catalog.models import PENDING, Product
from search import embedders
from search.connection import SearchUnavailable, delete_matching, get_client, search_errors
from search.schema import (
    IMAGE_VECTOR,
    TAG_FIELDS,
    TEXT_VECTOR,
    IndexLayout,
    alias,
    configured_specs,
    configured_vector_type,
    generation_name,
    meta_key,
)
from search.selectors import index_info, live_index_name
from search.serializers import product_document

logger = logging.getLogger(__name__)


def configured_layout() -> IndexLayout:
    """The index version that the settings and the loaded models call for."""
    text_spec, image_spec = configured_specs()
    image = embedders.image_model()
    vector_type = configured_vector_type()
    return IndexLayout(generation_name(embedders.TEXT_MODEL, image.name, vector_type), image.dim, text_spec,
                       image_spec, vector_type)


def ensure_index() -> str:
    """Create the configured index version and make it live, now or when it is complete.

    Returns what happened, in words, for the command line.
    """
    layout = configured_layout()
    client = get_client()
    with search_errors():
        index = SearchIndex(layout.schema(), redis_client=client)
        created = not index.exists()
        if created:
            index.create()
        live = live_index_name(client)
        if live is None:
            client.ft(layout.index_name).aliasadd(alias())
            return f"created {layout.index_name} and made it live"
        if live == layout.index_name:
            return f"{live} is live and up to date"
        if not created:
            return f"{layout.index_name} is being built beside {live}"
        live_prefix = index_info(client, live)["prefix"]
    if live_prefix != layout.doc_prefix:
        # New models: every product is embedded afresh into the new version's documents.
        Product.objects.update(status=Product.Status.PENDING, status_reason="")
        queue_embedding(Product.objects.values_list("id", flat=True))
    from search.tasks import complete_rebuild

    complete_rebuild.delay(layout.index_name)
    return f"building {layout.index_name} beside {live}; the alias moves when it is complete"


def swap_alias_if_complete(target: str) -> bool:
    """Move the alias to ``target`` once it has indexed every product; drop the old version.

    True when there is nothing left to wait for (swapped, or ``target`` abandoned because
    the settings moved on); False to try again later.
    """
    client = get_client()
    with search_errors():
        live = live_index_name(client)
        if target != configured_layout().index_name:
            logger.warning("abandoning %s: the settings now call for another index", target)
            if target in index_versions(client) and target != live:
                # Its documents go with it, unless the live version indexes them too.
                prefix = index_info(client, target)["prefix"]
                _drop(client, target, documents=live is None or prefix != index_info(client, live)["prefix"])
            return True
        info = index_info(client, target)
        if info["percent_indexed"] < 1.0 or Product.objects.filter(PENDING).exists():
            return False
        if live == target:
            return True
        client.ft(target).aliasupdate(alias())
        if live is not None:
            # The old version's documents go with it, unless the new version indexes them too.
            _drop(client, live, documents=index_info(client, live)["prefix"] != info["prefix"])
        logger.info("the alias now names %s", target)
        return True


def drop_index(documents: bool = False) -> list[str]:
    """Drop every version of the index (and, with ``documents``, the vectors and metadata)."""
    client = get_client()
    with search_errors():
        names = index_versions(client)
        if live_index_name(client) is not None:
            client.ft().aliasdel(alias())
        for name in names:
            _drop(client, name, documents)
        if documents:
            delete_matching(client, meta_key("*"))
    if documents:
        Product.objects.update(status=Product.Status.PENDING, status_reason="")
    return names


def index_versions(client: Redis) -> list[str]:
    prefix = f"{alias()}:"
    return sorted(name.decode() if isinstance(name, bytes) else name
                  for name in client.execute_command("FT._LIST")
                  if (name.decode() if isinstance(name, bytes) else name).startswith(prefix))


def _drop(client: Redis, name: str, documents: bool) -> None:
    doc_prefix = index_info(client, name)["prefix"]
    client.ft(name).dropindex(delete_documents=False)
    if documents:
        # Rather than FT.DROPINDEX DD, which deletes them all in one command: deleting in
        # batches keeps Redis answering other clients meanwhile.
        delete_matching(client, f"{doc_prefix}*")


def image_queue() -> str:
    """Image batches have a queue of their own: a slow image batch never holds up text."""
    return f"{settings.CELERY_TASK_DEFAULT_QUEUE}.images"


def queue_embedding(product_ids: Iterable[int], text: bool = True, images: bool = True) -> None:
    """Queue the products' text and, for those with an image, image embedding, in batches.

    With the broker unreachable (after Celery's own retries), the products stay pending in the
    database and :func:`sweep_index` queues them once it is back: nothing is lost.
    """
    from search.tasks import embed_images, embed_texts

    ids = list(product_ids)
    now = timezone.now()
    with_image: set[int] = set()
    if text:
        Product.objects.filter(id__in=ids).update(queued_at=now)
    if images:
        with_image = set(Product.objects.filter(id__in=ids).exclude(image="").values_list("id", flat=True))
        # image_queued_at says how long a photo has waited: queued again, it keeps its time.
        Product.objects.filter(Q(image_pending=False) | Q(image_queued_at=None), id__in=with_image).update(
            image_queued_at=now)
        Product.objects.filter(id__in=with_image).update(image_pending=True)
    texts = ids if text else []
    photos = [pid for pid in ids if pid in with_image]
    size = settings.FINDER_EMBED_BATCH
    try:
        for start in range(0, len(texts), size):
            embed_texts.delay(texts[start:start + size])
        for start in range(0, len(photos), size):
            embed_images.apply_async((photos[start:start + size],), queue=image_queue())
    except OperationalError as exc:
        logger.warning("the broker cannot be reached (%s): %d products stay pending until the sweep "
                       "queues them", exc, len(ids))


def waiting_tasks() -> dict[str, int]:
    """Embedding tasks waiting in the broker, by queue (a queue the broker does not know, as
    after it lost its data, holds none)."""
    from finder.celery import app

    waiting = {}
    with app.connection_for_read() as connection:
        for queue in (settings.CELERY_TASK_DEFAULT_QUEUE, image_queue()):
            waiting[queue] = 0
            with contextlib.suppress(ChannelError):
                waiting[queue] = connection.default_channel.queue_declare(queue, passive=True).message_count
    return waiting


def sweep_index() -> int:
    """Queue what the index lacks and no waiting task will bring; how many products.

    Celery beat runs this every ``FINDER_SWEEP_SECONDS``. It is what makes a lost task or a
    lost write harmless: Redis killed before its append-only file caught up, a broker that was
    down when an import queued its work. Each queue is swept on its own: while a queue holds
    tasks, an import is under way and its own tasks will finish the work, so only what has
    waited longer than ``FINDER_PENDING_TOO_LONG`` is queued again (its task was lost, or its
    worker is gone), at most once in that time; an empty queue gets everything its kind lacks.
    """
    ensure_index()
    try:
        waiting = waiting_tasks()
    except OperationalError as exc:
        raise SearchUnavailable(f"the broker cannot be reached: {exc}") from exc
    return reconcile_index(text_busy=bool(waiting[settings.CELERY_TASK_DEFAULT_QUEUE]),
                           images_busy=bool(waiting[image_queue()]))


def rebuild_from_database() -> int:
    """Embed every product again, into the configured version; how many were queued."""
    ensure_index()
    Product.objects.update(status=Product.Status.PENDING, status_reason="")
    ids = list(Product.objects.values_list("id", flat=True))
    queue_embedding(ids)
    return len(ids)


def index_texts(product_ids: list[int]) -> None:
    """Embed a batch of products' text and write their documents: searchable from then on.

    Redis trouble raises :class:`SearchUnavailable`, for the task to retry.
    """
    products = list(Product.objects.filter(id__in=product_ids))
    if not products:
        return
    layout = configured_layout()
    vectors = embedders.text_embedder().embed([p.search_text() for p in products])
    client = get_client()
    with search_errors():
        # One MULTI: a search never sees a document half rewritten. Fields are set one by one
        # (the image vector, written by its own task, stays); emptied ones are removed.
        pipe = client.pipeline(transaction=True)
        for product, vector in zip(products, vectors, strict=True):
            fields: dict[str, str | bytes | int] = {"id": str(product.id), "name": product.name,
                                                    "text": product.search_text(),
                                                    TEXT_VECTOR: layout.vector_bytes(vector)}
            fields.update({name: getattr(product, name) for name in TAG_FIELDS if getattr(product, name)})
            if product.year is not None:
                fields["year"] = product.year
            if product.latitude is not None:
                fields["location"] = f"{product.longitude},{product.latitude}"
            emptied = [name for name in (*TAG_FIELDS, "year", "location") if name not in fields]
            if not product.image:
                emptied.append(IMAGE_VECTOR)
            key = layout.doc_key(product.id)
            pipe.hset(key, mapping=fields)
            if emptied:
                pipe.hdel(key, *emptied)
            pipe.json().set(meta_key(product.id), "$", product_document(product))
        pipe.execute()
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
    vectors = _image_vectors(products)
    client = get_client()
    with search_errors():
        pipe = client.pipeline(transaction=True)
        for product in products:
            key = layout.doc_key(product.id)
            if product.id in vectors:
                pipe.hset(key, IMAGE_VECTOR, layout.vector_bytes(vectors[product.id]))
            else:
                pipe.hdel(key, IMAGE_VECTOR)
        pipe.execute()
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
    vectors = embedders.image_embedder().embed(list(images.values()))
    return dict(zip(images, vectors, strict=True))


def image_failed(product_ids: list[int], reason: str) -> None:
    Product.objects.filter(id__in=product_ids).update(image_pending=False, image_problem=reason[:255],
                                                      status_reason=f"searchable by text only: {reason}"[:255])


def mark_failed(product_ids: list[int], reason: str) -> None:
    Product.objects.filter(id__in=product_ids).update(status=Product.Status.FAILED, status_reason=reason[:255],
                                                      image_pending=False)


def remove_from_index(product_ids: Iterable[int]) -> None:
    """Delete products' documents from every version of the index, and their metadata."""
    ids = list(product_ids)
    client = get_client()
    with search_errors():
        prefixes = {index_info(client, name)["prefix"] for name in index_versions(client)}
        keys = [f"{prefix}{pid}" for prefix in prefixes for pid in ids] + [meta_key(pid) for pid in ids]
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start:start + 1000])


def reconcile_index(text_busy: bool = False, images_busy: bool = False) -> int:
    """Queue every product the index lacks: pending ones, indexed ones whose document is gone,
    and ones whose image vector is gone; how many.

    With ``text_busy`` (or ``images_busy``), that kind of work is queued again only for
    products that have waited longer than ``FINDER_PENDING_TOO_LONG`` seconds.
    This is how the index is rebuilt from the database after Redis lost its data.
    """
    layout = configured_layout()
    client = get_client()
    indexed = list(Product.objects.filter(status=Product.Status.INDEXED)
                   .values_list("id", "image", "image_problem", "image_pending"))
    with search_errors():
        pipe = client.pipeline(transaction=False)
        for pid, *_ in indexed:
            pipe.hmget(layout.doc_key(pid), ["id", IMAGE_VECTOR])
        present = pipe.execute()
    lost_text = [pid for (pid, *_), (doc, _) in zip(indexed, present, strict=True) if doc is None]
    lost_image = [pid for (pid, image, problem, pending), (doc, vector) in zip(indexed, present, strict=True)
                  if doc is not None and image and not problem and not pending and vector is None]
    Product.objects.filter(id__in=lost_text).update(status=Product.Status.PENDING, queued_at=None)
    Product.objects.filter(id__in=lost_image).update(image_pending=True, image_queued_at=None)
    overdue = timezone.now() - timedelta(seconds=settings.FINDER_PENDING_TOO_LONG)
    texts = Product.objects.filter(status=Product.Status.PENDING)
    if text_busy:
        texts = texts.filter(Q(queued_at__lt=overdue) | Q(queued_at=None)) if _due("text") else texts.none()
    photos = Product.objects.filter(image_pending=True)
    if images_busy:
        photos = (photos.filter(Q(image_queued_at__lt=overdue) | Q(image_queued_at=None)) if _due("images")
                  else photos.none())
    text_ids = set(texts.values_list("id", flat=True))
    photo_ids = set(photos.values_list("id", flat=True)) - text_ids
    queue_embedding(text_ids)
    queue_embedding(photo_ids, text=False)
    return len(text_ids | photo_ids)


def _due(kind: str) -> bool:
    """Whether overdue work of ``kind`` may be queued again behind a busy queue: once every
    ``FINDER_PENDING_TOO_LONG`` seconds, so that a queue whose worker is gone does not fill up
    with copies of the same work at every sweep."""
    return cache.add(f"sweep-requeued:{kind}", True, timeout=settings.FINDER_PENDING_TOO_LONG)
