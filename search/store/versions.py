"""The live version of the index, as queries see it, cached for a moment.

Documents live under a *generation* prefix named after the models that computed their
vectors, and each version of the index is named after a fingerprint of everything that shapes
it (:class:`search.store.schema.IndexLayout`). Shoppers always query the live one; a changed
setting builds a new version beside it (:func:`search.lifecycle.ensure_index`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from core import redis_client
from search.store import get_store
from search.store.base import NoSuchVersion
from search.store.connection import SearchUnavailable
from search.store.schema import VectorIndexSpec, alias, vector_bytes, vector_from_bytes

LIVE_CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class LiveIndex:
    name: str
    doc_prefix: str
    specs: dict[str, VectorIndexSpec]
    dims: dict[str, int]
    vector_type: str
    complete: bool

    def doc_key(self, product_id: str) -> str:
        return f"{self.doc_prefix}{product_id}"

    def vector_bytes(self, vector: np.ndarray) -> bytes:
        return vector_bytes(vector, self.vector_type)

    def vector(self, raw: bytes) -> np.ndarray:
        return vector_from_bytes(raw, self.vector_type)


_live_lock = threading.Lock()
_live_cache: dict[tuple[str, str], tuple[float, LiveIndex]] = {}


def live_index(refresh: bool = False) -> LiveIndex:
    """The live version of the index, cached for a moment: it changes only on an alias swap."""
    key = (redis_client.described(), alias())
    with _live_lock:
        cached = _live_cache.get(key)
        if cached and not refresh and time.monotonic() - cached[0] < LIVE_CACHE_SECONDS:
            return cached[1]
    try:
        info = get_store().info()
    except NoSuchVersion:
        raise SearchUnavailable("Search is warming up: the index is being built.") from None
    live = LiveIndex(info["name"], info["prefix"], {f: v["spec"] for f, v in info["vectors"].items()},
                     {f: v["dim"] for f, v in info["vectors"].items()}, next(iter(info["vectors"].values()))["type"],
                     complete=info["percent_indexed"] >= 1.0)
    with _live_lock:
        _live_cache[key] = (time.monotonic(), live)
    return live


def index_progress() -> float:
    """The share of documents the live index has taken in: below 1 while Redis rebuilds it."""
    return 1.0 if live_index(refresh=True).complete else get_store().info()["percent_indexed"]


def product_of(key: str) -> str:
    """The product id of a document's key."""
    return key.rsplit(":", 1)[1]
