"""Writes to the search index: creating it, embedding products into it, keeping it in step.

The index is derived data: everything here can be redone from the database at any time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
from django.conf import settings
from PIL import Image
from redisvl.index import SearchIndex

from catalog.models import Product
from search import embedders
from search.connection import get_client, search_errors
from search.schema import IMAGE_VECTOR, TAG_FIELDS, TEXT_VECTOR, doc_key, index_name, meta_key, product_schema
from search.serializers import product_document

logger = logging.getLogger(__name__)


def ensure_index() -> None:
    """Create the index if it is missing; rebuild it if the image model's dimension changed.

    A changed dimension makes every stored image vector useless, so the documents are
    dropped with the old index and every product is queued for embedding again.
    """
    schema = product_schema(embedders.image_dim())
    client = get_client()
    with search_errors():
        index = SearchIndex(schema, redis_client=client)
        if index.exists():
            if _indexed_image_dim(client) == embedders.image_dim():
                return
            logger.warning("image model changed: dropping the index and re-embedding every product")
            index.delete(drop=True)
            _delete_keys(client, f"{settings.FINDER_INDEX_PREFIX}:meta:*")
            Product.objects.update(status=Product.Status.PENDING, status_reason="")
        index.create()


def _indexed_image_dim(client) -> int | None:
    info = client.ft(index_name()).info()
    for attribute in info["attributes"]:
        pairs = dict(zip(attribute[::2], attribute[1::2], strict=False))
        if pairs.get(b"identifier", pairs.get("identifier")) in (IMAGE_VECTOR, IMAGE_VECTOR.encode()):
            dim = pairs.get(b"dim", pairs.get("dim"))
            return int(dim) if dim is not None else None
    return None


def _delete_keys(client, pattern: str) -> None:
    batch = []
    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) == 1000:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


def queue_embedding(product_ids: Iterable[int]) -> int:
    """Queue the products for embedding, in batches; how many batches were queued."""
    from search.tasks import embed_products

    ids = list(product_ids)
    size = settings.FINDER_EMBED_BATCH
    for start in range(0, len(ids), size):
        embed_products.delay(ids[start:start + size])
    return -(-len(ids) // size)


def embed_and_index(product_ids: list[int]) -> None:
    """Embed a batch of products (text and image) and write them to the index.

    A product whose image cannot be read is indexed by text alone, with the reason kept on
    the product. Redis trouble raises :class:`SearchUnavailable`, for the task to retry.
    """
    products = list(Product.objects.filter(id__in=product_ids))
    if not products:
        return
    text_vectors = embedders.text_embedder().embed([p.text_for_embedding() for p in products])
    image_vectors = _image_vectors(products)
    client = get_client()
    with search_errors():
        # One MULTI: a search never sees a document half rewritten.
        pipe = client.pipeline(transaction=True)
        for product, text_vector in zip(products, text_vectors, strict=True):
            key = doc_key(product.id)
            fields: dict[str, str | bytes | int] = {"id": str(product.id), "name": product.name,
                                                    TEXT_VECTOR: text_vector.tobytes()}
            fields.update({name: getattr(product, name) for name in TAG_FIELDS if getattr(product, name)})
            if product.year is not None:
                fields["year"] = product.year
            pipe.delete(key)
            if product.id in image_vectors:
                fields[IMAGE_VECTOR] = image_vectors[product.id].tobytes()
            pipe.hset(key, mapping=fields)
            pipe.json().set(meta_key(product.id), "$", product_document(product))
        pipe.execute()
    for product in products:
        product.status = Product.Status.INDEXED
        product.status_reason = f"searchable by text only: {product.image_problem}" if product.image_problem else ""
    Product.objects.bulk_update(products, ["status", "status_reason", "image_problem"])


def _image_vectors(products: list[Product]) -> dict[int, np.ndarray]:
    """Image vectors by product id, for the products whose image opens; notes the others."""
    images: dict[int, Image.Image] = {}
    for product in products:
        if not product.image:
            continue
        try:
            with Image.open(product.image.path) as image:
                image.load()
                images[product.id] = embedders.to_rgb(image)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            product.image_problem = f"the image cannot be read ({exc})"[:255]
    if not images:
        return {}
    vectors = embedders.image_embedder().embed(list(images.values()))
    return dict(zip(images, vectors, strict=True))


def mark_failed(product_ids: list[int], reason: str) -> None:
    Product.objects.filter(id__in=product_ids).update(status=Product.Status.FAILED, status_reason=reason[:255])


def remove_from_index(product_ids: Iterable[int]) -> None:
    client = get_client()
    keys = [key for pid in product_ids for key in (doc_key(pid), meta_key(pid))]
    if keys:
        with search_errors():
            client.delete(*keys)


def reconcile_index() -> int:
    """Queue every product the index lacks: pending ones, and indexed ones whose document is gone.

    This is how the index is rebuilt from the database after Redis lost its data.
    """
    client = get_client()
    indexed = list(Product.objects.filter(status=Product.Status.INDEXED).values_list("id", flat=True))
    with search_errors():
        pipe = client.pipeline(transaction=False)
        for pid in indexed:
            pipe.exists(doc_key(pid))
        present = pipe.execute()
    lost = [pid for pid, exists in zip(indexed, present, strict=True) if not exists]
    if lost:
        Product.objects.filter(id__in=lost).update(status=Product.Status.PENDING)
    todo = list(Product.objects.filter(status=Product.Status.PENDING).values_list("id", flat=True))
    queue_embedding(todo)
    return len(todo)
