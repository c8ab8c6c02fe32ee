"""Reads from the search index: similar products under typed filters.

Queries are built from redisvl filter objects, which escape every value: no user input is
ever pasted into a query string.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import redis
from django.http import QueryDict
from redisvl.query import VectorQuery
from redisvl.query.filter import FilterExpression, Tag

from search.connection import get_client, search_errors
from search.schema import IMAGE_VECTOR, TEXT_VECTOR, doc_key, index_name, meta_key


class By(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"

    @property
    def vector_field(self) -> str:
        return TEXT_VECTOR if self is By.TEXT else IMAGE_VECTOR


class NotSearchable(LookupError):
    """The product has no vector of that kind (not indexed yet, or no usable image)."""


@dataclass(frozen=True)
class Filters:
    """Tag filters: values within one attribute are OR'ed, attributes are AND'ed."""

    genders: Sequence[str] = field(default_factory=tuple)
    categories: Sequence[str] = field(default_factory=tuple)

    @classmethod
    def from_query(cls, params: QueryDict) -> Filters:
        """``?gender=Men&gender=Unisex&category=Footwear``: a repeated parameter means OR."""

        def values(name: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(v.strip() for v in params.getlist(name) if v.strip()))

        return cls(genders=values("gender"), categories=values("category"))

    def as_query(self) -> str:
        return urlencode([("gender", g) for g in self.genders] + [("category", c) for c in self.categories])

    def expression(self) -> FilterExpression | None:
        parts = []
        if self.genders:
            parts.append(Tag("gender") == list(self.genders))
        if self.categories:
            parts.append(Tag("master_category") == list(self.categories))
        expression = None
        for part in parts:
            expression = part if expression is None else expression & part
        return expression


def similar_products(product_id: int, by: By, filters: Filters, k: int = 12) -> list[dict[str, Any]]:
    """The ``k`` products most similar to ``product_id``, never itself, best first.

    Each result is the product's document with ``score``: cosine similarity, higher is more
    similar. Three round trips whatever ``k`` is: the vector, the KNN query, the documents.
    """
    client = get_client()
    with search_errors():
        vector = client.hget(doc_key(product_id), by.vector_field)
        if vector is None:
            raise NotSearchable(
                "This product has no usable image to compare." if by is By.IMAGE
                else "This product is not searchable yet."
            )
        expression = Tag("id") != str(product_id)
        extra = filters.expression()
        if extra is not None:
            expression = expression & extra
        query = VectorQuery(vector=vector, vector_field_name=by.vector_field, return_fields=[],
                            filter_expression=expression, num_results=k)
        hits = client.ft(index_name()).search(query, query.params).docs
        ids = [int(hit.id.rsplit(":", 1)[1]) for hit in hits]
        documents = client.json().mget([meta_key(pid) for pid in ids], "$") if ids else []
    results = []
    for hit, document in zip(hits, documents, strict=True):
        if document:
            results.append({**document[0], "score": round(1.0 - float(hit.vector_distance), 6)})
    return results


def index_progress() -> float:
    """The share of documents the index has taken in: below 1 while Redis rebuilds it."""
    client = get_client()
    with search_errors():
        try:
            info = client.ft(index_name()).info()
        except redis.ResponseError:
            return 0.0
    return float(info.get("percent_indexed", 0.0))
