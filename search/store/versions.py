"""The index's versions in Redis: what the alias names, what each version holds.

Documents live under a *generation* prefix named after the models that computed their
vectors, and each version of the index is named after a fingerprint of everything that shapes
it (:class:`search.store.schema.IndexLayout`). Shoppers always query the alias; a changed
setting builds a new version beside the live one (:func:`search.indexing.ensure_index`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis
from django.conf import settings
from redis import Redis

from finder.redis_keys import delete_matching
from search.store.connection import SearchUnavailable, get_client, search_errors
from search.store.schema import VectorIndexSpec, alias, vector_bytes, vector_from_bytes

LIVE_CACHE_SECONDS = 2.0


def _pairs(items: list[Any]) -> dict[str, Any]:
    def text(value: Any) -> Any:
        return value.decode() if isinstance(value, bytes) else value

    return {text(items[i]): text(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def index_info(client: redis.Redis, name: str, detailed: bool = False) -> dict[str, Any]:
    """FT.INFO of an index (or the alias), in plain types: name, document prefix, progress,
    and each vector field's spec. FT.INFO leaves out some parameters (EF_RUNTIME, EPSILON,
    BLOCK_SIZE); ``detailed`` asks FT.DEBUG VECSIM_INFO for them, where the server allows it."""
    info = client.ft(name).info()
    definition = _pairs(info["index_definition"])
    prefixes = definition["prefixes"]
    vectors = {}
    for attribute in info["attributes"]:
        facts = _pairs(attribute)
        if facts.get("type") == "VECTOR":
            params = {key.upper(): facts[key] for key in ("M", "ef_construction") if key in facts}
            if detailed:
                params.update(_vecsim_params(client, name, facts["identifier"]))
            vectors[facts["identifier"]] = {
                "spec": VectorIndexSpec(facts["algorithm"].upper(), facts["distance_metric"].upper(),
                                        tuple(sorted(params.items()))),
                "dim": int(facts["dim"]),
                "type": facts["data_type"].upper(),
            }
    name = info["index_name"]
    return {
        "name": name.decode() if isinstance(name, bytes) else name,
        "prefix": (prefixes[0].decode() if isinstance(prefixes[0], bytes) else prefixes[0]),
        "num_docs": int(info["num_docs"]),
        "percent_indexed": float(info["percent_indexed"]),
        "indexing": int(info.get("indexing", 0)),
        "hash_indexing_failures": int(info["hash_indexing_failures"]),
        "vector_index_sz_mb": float(info.get("vector_index_sz_mb", 0.0)),
        "vectors": vectors,
    }


def _vecsim_params(client: redis.Redis, index: str, field: str) -> dict[str, int | float]:
    try:
        facts = _pairs(client.execute_command("FT.DEBUG", "VECSIM_INFO", index, field))
    except redis.ResponseError:
        return {}
    if "BACKEND_INDEX" in facts:  # HNSW, tiered behind a flat buffer
        backend = _pairs(facts["BACKEND_INDEX"])
        return {"EF_RUNTIME": int(backend["EF_RUNTIME"]), "EPSILON": float(backend["EPSILON"])}
    return {"BLOCK_SIZE": int(facts["BLOCK_SIZE"])} if "BLOCK_SIZE" in facts else {}


def live_index_name(client: redis.Redis) -> str | None:
    """The index the alias names, or None when there is none."""
    try:
        return index_info(client, alias())["name"]
    except redis.ResponseError:
        return None


@dataclass(frozen=True)
class LiveIndex:
    name: str
    doc_prefix: str
    specs: dict[str, VectorIndexSpec]
    dims: dict[str, int]
    vector_type: str
    complete: bool

    def doc_key(self, product_id: int) -> str:
        return f"{self.doc_prefix}{product_id}"

    def vector_bytes(self, vector: np.ndarray) -> bytes:
        return vector_bytes(vector, self.vector_type)

    def vector(self, raw: bytes) -> np.ndarray:
        return vector_from_bytes(raw, self.vector_type)


_live_lock = threading.Lock()


_live_cache: dict[tuple[str, str], tuple[float, LiveIndex]] = {}


def live_index(refresh: bool = False) -> LiveIndex:
    """The live version of the index, cached for a moment: it changes only on an alias swap."""
    key = (settings.REDIS_URL, alias())
    with _live_lock:
        cached = _live_cache.get(key)
        if cached and not refresh and time.monotonic() - cached[0] < LIVE_CACHE_SECONDS:
            return cached[1]
    client = get_client()
    with search_errors():
        try:
            info = index_info(client, alias())
        except redis.ResponseError:
            raise SearchUnavailable("Search is warming up: the index is being built.") from None
    live = LiveIndex(info["name"], info["prefix"], {f: v["spec"] for f, v in info["vectors"].items()},
                     {f: v["dim"] for f, v in info["vectors"].items()}, next(iter(info["vectors"].values()))["type"],
                     complete=info["percent_indexed"] >= 1.0)
    with _live_lock:
        _live_cache[key] = (time.monotonic(), live)
    return live


def index_progress() -> float:
    """The share of documents the live index has taken in: below 1 while Redis rebuilds it."""
    return 1.0 if live_index(refresh=True).complete else index_info(get_client(), alias())["percent_indexed"]


def index_versions(client: Redis) -> list[str]:
    prefix = f"{alias()}:"
    return sorted(name.decode() if isinstance(name, bytes) else name
                  for name in client.execute_command("FT._LIST")
                  if (name.decode() if isinstance(name, bytes) else name).startswith(prefix))


def drop_version(client: Redis, name: str, documents: bool) -> None:
    """Drop one version of the index, and, with ``documents``, the documents under its prefix."""
    doc_prefix = index_info(client, name)["prefix"]
    client.ft(name).dropindex(delete_documents=False)
    if documents:
        # Rather than FT.DROPINDEX DD, which deletes them all in one command: deleting in
        # batches keeps Redis answering other clients meanwhile.
        delete_matching(client, f"{doc_prefix}*")


def product_of(key: str) -> int:
    """The product id of a document's key."""
    return int(key.rsplit(":", 1)[1])
