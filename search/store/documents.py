"""The product as search results show it: a RedisJSON document, described by a redis-om model.

Its schema, key and validation live in :class:`ProductDocument`; its fields follow the
attribute table. The vector index does not cover these documents (it runs over HASH
documents holding the filterable fields and the vectors, :mod:`search.store.schema`): they are
fetched for the hits, a page at a time, in one JSON.MGET.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import redis
from django.conf import settings
from pydantic import create_model
from redis_om import JsonModel

from catalog.attributes import SHOWN, Attribute, Kind
from catalog.models import Product
from search.store.connection import get_client


class _Document(JsonModel):
    """What every product document holds; the attributes are added from the registry."""

    id: str
    name: str
    image_url: str | None = None

    @classmethod
    def make_key(cls, part: str) -> str:
        # The prefix is a setting (each test has its own), so it cannot be redis-om's static Meta.
        return f"{settings.FINDER_INDEX_PREFIX}:meta:{part}"

    @classmethod
    def db(cls) -> redis.Redis:
        return get_client()


def _type(attribute: Attribute) -> tuple[Any, Any]:
    """An attribute's type and default in the document: a number (JSON has no decimals) or text."""
    if attribute.kind is Kind.NUMBER:
        return (float | None if attribute.decimals else int | None), None
    return str, ""


#: The attributes documents show (the name is every document's).
DOCUMENTED = tuple(attribute for attribute in SHOWN if attribute.field != "name")
ProductDocument: type[_Document] = create_model(
    "ProductDocument", __base__=_Document, __cls_kwargs__={"index": True},
    **{attribute.field: _type(attribute) for attribute in DOCUMENTED})
#: The document's fields, in order (redis-om's ``pk`` aside): the API shows products in the same
#: shape, with the shop's ``currency`` beside them.
FIELDS = tuple(name for name in ProductDocument.model_fields if name != "pk")


def document(product: Product) -> _Document:
    # redis-om's own primary key, ``pk``, is the product's id: it names the document's key.
    attributes = {attribute.field: _value(getattr(product, attribute.field)) for attribute in DOCUMENTED}
    return ProductDocument(pk=product.id, id=product.id, name=product.name, image_url=product.image_url,
                           **attributes)


def _value(value: object) -> object:
    return float(value) if isinstance(value, Decimal) else value


#: What a field of a document written before it was added reads as.
_DEFAULTS = {name: None if field.is_required() else field.default
             for name, field in ProductDocument.model_fields.items() if name in FIELDS}


def fetch(client: redis.Redis, ids: list[str]) -> list[dict[str, Any] | None]:
    """The documents of ``ids``, in one round trip; None for each that is missing.

    Read in the model's fields, as written: :func:`document` validated each when it was made,
    and a redis-om model made again for each of a page's results (it asks for its Redis
    connection twice as it is made) was a large share of a similar page's first ask."""
    found = client.json().mget([ProductDocument.make_primary_key(pid) for pid in ids], "$") if ids else []
    currency = settings.FINDER_CURRENCY
    return [{**{name: item[0].get(name, default) for name, default in _DEFAULTS.items()}, "currency": currency}
            if item else None for item in found]
