"""The product as search results show it: a RedisJSON document, described by a redis-om model.

Its schema, key and validation live in :class:`ProductDocument`; its fields follow the
attribute table. The vector index does not cover these documents (it runs over HASH
documents holding the filterable fields and the vectors, :mod:`search.store.schema`): they are
fetched for the hits, a page at a time, in one JSON.MGET.
"""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from pydantic import create_model
from redis_om import JsonModel

from catalog.attributes import ATTRIBUTES
from catalog.models import Product
from search.store.connection import get_client


class _Document(JsonModel):
    """What every product document holds; the attributes are added from the attribute table."""

    id: int
    name: str
    year: int | None = None
    image_url: str | None = None

    @classmethod
    def make_key(cls, part: str) -> str:
        # The prefix is a setting (each test has its own), so it cannot be redis-om's static Meta.
        return f"{settings.FINDER_INDEX_PREFIX}:meta:{part}"

    @classmethod
    def db(cls) -> redis.Redis:
        return get_client()


ProductDocument: type[_Document] = create_model(
    "ProductDocument", __base__=_Document, __cls_kwargs__={"index": True},
    **{attribute.field: (str, "") for attribute in ATTRIBUTES})
#: The document's fields, in order (redis-om's ``pk`` aside): the API shows products in the same shape.
FIELDS = tuple(name for name in ProductDocument.model_fields if name != "pk")


def document(product: Product) -> _Document:
    # redis-om's own primary key, ``pk``, is the product's id: it names the document's key.
    attributes = {attribute.field: getattr(product, attribute.field) for attribute in ATTRIBUTES}
    return ProductDocument(pk=str(product.id), id=product.id, name=product.name, year=product.year,
                           image_url=product.image_url, **attributes)


#: What a field of a document written before it was added reads as.
_DEFAULTS = {name: None if field.is_required() else field.default
             for name, field in ProductDocument.model_fields.items() if name in FIELDS}


def fetch(client: redis.Redis, ids: list[int]) -> list[dict[str, Any] | None]:
    """The documents of ``ids``, in one round trip; None for each that is missing.

    Read in the model's fields, as written: :func:`document` validated each when it was made,
    and a redis-om model made again for each of a page's results (it asks for its Redis
    connection twice as it is made) was a large share of a similar page's first ask."""
    found = client.json().mget([ProductDocument.make_primary_key(pid) for pid in ids], "$") if ids else []
    return [{name: item[0].get(name, default) for name, default in _DEFAULTS.items()} if item else None
            for item in found]
