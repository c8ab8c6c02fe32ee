"""The one object that describes the product index (redisvl's :class:`IndexSchema`).

Storage, as the original demo did it and the guide measured: the index runs over HASH
documents ``<prefix>:product:<id>`` that hold the filterable fields and both vectors as raw
FLOAT32 bytes (a JSON array costs about ten times the raw bytes), while the product's
display metadata lives in a RedisJSON document ``<prefix>:meta:<id>``, fetched for the hits.
"""

from __future__ import annotations

from django.conf import settings
from redisvl.schema import IndexSchema

TEXT_VECTOR = "text_vector"
IMAGE_VECTOR = "image_vector"
TEXT_DIM = 384

#: Product attributes filterable as exact tags, by index field name.
TAG_FIELDS = ("gender", "master_category", "sub_category", "article_type", "base_colour", "season", "usage")


def index_name() -> str:
    return f"{settings.FINDER_INDEX_PREFIX}:products"


def doc_key(product_id: int) -> str:
    return f"{settings.FINDER_INDEX_PREFIX}:product:{product_id}"


def meta_key(product_id: int) -> str:
    return f"{settings.FINDER_INDEX_PREFIX}:meta:{product_id}"


def _hnsw(dims: int) -> dict:
    return {"dims": dims, "algorithm": "hnsw", "distance_metric": "cosine", "datatype": "float32",
            "m": 16, "ef_construction": 200, "ef_runtime": settings.FINDER_HNSW_EF_RUNTIME}


def product_schema(image_dim: int) -> IndexSchema:
    """The index over products, with an image vector of ``image_dim`` dimensions."""
    return IndexSchema.from_dict({
        "index": {
            "name": index_name(),
            "prefix": f"{settings.FINDER_INDEX_PREFIX}:product",
            "key_separator": ":",
            "storage_type": "hash",
        },
        "fields": [
            {"name": "id", "type": "tag"},
            *({"name": name, "type": "tag", "attrs": {"separator": "|"}} for name in TAG_FIELDS),
            {"name": "name", "type": "text"},
            {"name": "year", "type": "numeric"},
            {"name": TEXT_VECTOR, "type": "vector", "attrs": _hnsw(TEXT_DIM)},
            {"name": IMAGE_VECTOR, "type": "vector", "attrs": _hnsw(image_dim)},
        ],
    })
