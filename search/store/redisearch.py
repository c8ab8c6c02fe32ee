"""The index store on Redis with RediSearch and RedisJSON: the backend ``FINDER_INDEX_STORE`` names
by default.

Storage, as the original demo did it and the guide measured: each version of the index runs
over HASH documents ``<prefix>:<generation>:<id>`` holding the filterable fields and the vectors
as raw bytes (a JSON array costs about ten times the raw bytes), while the product's display
metadata is a RedisJSON document (:mod:`.documents`). The alias ``<prefix>:products`` names the
live version. Beside each generation of documents, suggestion dictionaries (FT.SUGADD) hold
the products' names and the suggested attributes' values, written with the documents.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import redis
from django.conf import settings
from redis import Redis
from redisvl.index import SearchIndex
from redisvl.query.filter import FilterExpression

from catalog.attributes import SUGGESTED, Kind
from catalog.models import Product
from core.redis_keys import delete_matching
from search.filters import Filters
from search.store.base import IndexStore, NoSuchVersion
from search.store.compiler import expression
from search.store.connection import get_client, get_reader, search_errors, text
from search.store.documents import document, fetch
from search.store.schema import (
    INDEXED,
    IndexLayout,
    VectorIndexSpec,
    alias,
    epoch_key,
    meta_key,
    new_epoch,
    suggestion_key,
)


def _pairs(items: list[Any]) -> dict[str, Any]:
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
        "memory_bytes": round(float(info.get("total_index_memory_sz_mb", 0.0)) * 2**20),
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
        delete_matching(client, suggestion_key(doc_prefix, "*"))


#: Moves the epoch for a write, at most once a hold (KEYS: the epoch, the hold, the next epoch;
#: ARGV: a new token, the hold in milliseconds). Within a hold, the write leaves the next epoch,
#: which readers take once the hold is over (:meth:`RedisIndexStore.epoch`).
_BUMP = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SET', KEYS[3], ARGV[1], 'NX')
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 1
"""


def _epoch_keys() -> tuple[str, str, str]:
    return epoch_key(), f"{epoch_key()}:hold", f"{epoch_key()}:next"


def bump_epoch(pipe: redis.client.Pipeline) -> None:
    """Retire the kept answers for a write of documents, at most once every ``FINDER_EPOCH_SECONDS``:
    the first write after a quiet spell retires them at once, the writes that follow it within
    that time once it is over. Writes arriving all day retire them once or twice a period, not
    at every write; an answer is never more than that period behind the index."""
    pipe.eval(_BUMP, 3, *_epoch_keys(), new_epoch(), max(1, int(settings.FINDER_EPOCH_SECONDS * 1000)))


def _set_epoch(client: redis.Redis) -> None:
    """Retire the kept answers now (a new live version, a dropped one)."""
    epoch, _, upcoming = _epoch_keys()
    client.set(epoch, new_epoch())
    client.delete(upcoming)


def indexed_fields(product: Product) -> dict[str, str | int | float]:
    """A product's indexed attributes as a document's fields; an empty one is left out."""
    fields: dict[str, str | int | float] = {"id": product.id}
    for attribute in INDEXED:
        value = getattr(product, attribute.field)
        if value is None or value == "":
            continue
        if attribute.kind is Kind.GEO:
            value = "{},{}".format(*value)
        fields[attribute.field] = float(value) if isinstance(value, Decimal) else value
    return fields


def _write_fields(pipe: redis.client.Pipeline, layout: IndexLayout, product: Product,
                  vectors: dict[str, bytes], cleared: Sequence[str]) -> None:
    """Write one product's document fields (and ``vectors``), removing the empty ones and
    ``cleared``, and its display document."""
    fields = {**indexed_fields(product), **vectors}
    emptied = [attribute.field for attribute in INDEXED if attribute.field not in fields] + list(cleared)
    key = layout.doc_key(product.id)
    pipe.hset(key, mapping=fields)
    if emptied:
        pipe.hdel(key, *emptied)
    document(product).save(pipeline=pipe)


def _add_suggestions(pipe: redis.client.Pipeline, doc_prefix: str, product: Product) -> None:
    """The product's name, and its suggested attributes' values (each scored by how many products
    have it, so the common ones come first), into the suggestion dictionaries."""
    pipe.execute_command("FT.SUGADD", suggestion_key(doc_prefix, "products"), product.name, 1,
                         "PAYLOAD", product.id)
    for attribute in SUGGESTED:
        value = getattr(product, attribute.field)
        if value and value != "NA":
            pipe.execute_command("FT.SUGADD", suggestion_key(doc_prefix, attribute.parameter), value, 1, "INCR")


class RedisIndexStore(IndexStore):
    """:class:`IndexStore` on Redis. Every method turns Redis trouble into ``SearchUnavailable``."""

    def versions(self) -> list[str]:
        with search_errors():
            return index_versions(get_client())

    def info(self, name: str | None = None, detailed: bool = False) -> dict[str, Any]:
        # The live version (no name) is what queries look up: a replica may answer.
        with search_errors():
            try:
                return index_info(get_reader() if name is None else get_client(), name or alias(), detailed)
            except redis.ResponseError:
                raise NoSuchVersion(name or "the live version") from None

    def live_name(self) -> str | None:
        with search_errors():
            return live_index_name(get_client())

    def epoch(self) -> str:
        with search_errors():
            epoch, hold, upcoming = get_reader().mget(_epoch_keys())
        epoch = text(epoch or "")
        return f"{epoch}.{text(upcoming)}" if epoch and upcoming and not hold else epoch

    def create(self, layout: IndexLayout) -> bool:
        with search_errors():
            index = SearchIndex(layout.schema(), redis_client=get_client())
            if index.exists():
                return False
            index.create()
            return True

    def make_live(self, name: str) -> None:
        client = get_client()
        with search_errors():
            if live_index_name(client) is None:
                client.ft(name).aliasadd(alias())
            else:
                client.ft(name).aliasupdate(alias())
            _set_epoch(client)

    def drop(self, name: str, documents: bool) -> None:
        with search_errors():
            drop_version(get_client(), name, documents)
            _set_epoch(get_client())

    def drop_all(self, documents: bool) -> list[str]:
        client = get_client()
        with search_errors():
            names = index_versions(client)
            if live_index_name(client) is not None:
                client.ft().aliasdel(alias())
            for name in names:
                drop_version(client, name, documents)
            if documents:
                delete_matching(client, meta_key("*"))
                client.delete(*_epoch_keys())  # nothing there: nothing is kept until the next write
            else:
                _set_epoch(client)
        return names

    def write_documents(self, layout: IndexLayout, products: Sequence[Product], field: str,
                        vectors: np.ndarray, cleared: Sequence[str]) -> None:
        # One MULTI: a search never sees a document half rewritten. Fields are set one by one
        # (the other vectors, written by their own tasks, stay); emptied ones are removed.
        with search_errors():
            pipe = get_client().pipeline(transaction=True)
            for product, vector in zip(products, vectors, strict=True):
                _write_fields(pipe, layout, product, {field: layout.vector_bytes(vector)},
                              [] if product.image else cleared)
            bump_epoch(pipe)
            pipe.execute()
            self.write_suggestions(layout.doc_prefix, products)

    def write_fields(self, layout: IndexLayout, products: Sequence[Product]) -> None:
        with search_errors():
            present = self.present(layout, [product.id for product in products], [])
            pipe = get_client().pipeline(transaction=True)
            for product, (there,) in zip(products, present, strict=True):
                if there:  # one gone meanwhile is written again when it is next embedded
                    _write_fields(pipe, layout, product, {}, [])
            bump_epoch(pipe)
            pipe.execute()
            self.write_suggestions(layout.doc_prefix, products)

    def write_vectors(self, layout: IndexLayout, field: str, vectors: dict[str, np.ndarray | None]) -> None:
        with search_errors():
            pipe = get_client().pipeline(transaction=True)
            for product_id, vector in vectors.items():
                if vector is None:
                    pipe.hdel(layout.doc_key(product_id), field)
                else:
                    pipe.hset(layout.doc_key(product_id), field, layout.vector_bytes(vector))
            bump_epoch(pipe)
            pipe.execute()

    def remove(self, product_ids: Iterable[str]) -> None:
        ids = list(product_ids)
        client = get_client()
        with search_errors():
            prefixes = {index_info(client, name)["prefix"] for name in index_versions(client)}
            names = {document["name"] for start in range(0, len(ids), 1000)
                     for document in fetch(client, ids[start:start + 1000]) if document}
            pipe = client.pipeline(transaction=False)
            for prefix, name in itertools.product(prefixes, names):
                pipe.execute_command("FT.SUGDEL", suggestion_key(prefix, "products"), name)
            pipe.execute()
            keys = [f"{prefix}{pid}" for prefix in prefixes for pid in ids] + [meta_key(pid) for pid in ids]
            pipe = client.pipeline(transaction=False)
            for start in range(0, len(keys), 1000):
                pipe.delete(*keys[start:start + 1000])
            bump_epoch(pipe)
            pipe.execute()

    def present(self, layout: IndexLayout, product_ids: Sequence[str], fields: Sequence[str]) -> list[list[bool]]:
        with search_errors():
            pipe = get_client().pipeline(transaction=False)
            for pid in product_ids:
                pipe.hmget(layout.doc_key(pid), ["id", *fields])
            return [[value is not None for value in found] for found in pipe.execute()]

    def documents(self, product_ids: list[str]) -> list[dict[str, Any] | None]:
        with search_errors():
            return fetch(get_reader(), product_ids)

    def compile_filters(self, filters: Filters, exclude: Collection[str] = ()) -> FilterExpression | None:
        return expression(filters, exclude)

    def has_suggestions(self, doc_prefix: str) -> bool:
        with search_errors():
            return int(get_client().execute_command("FT.SUGLEN", suggestion_key(doc_prefix, "products"))) > 0

    def write_suggestions(self, doc_prefix: str, products: Sequence[Product]) -> None:
        with search_errors():
            pipe = get_client().pipeline(transaction=False)
            for product in products:
                _add_suggestions(pipe, doc_prefix, product)
            pipe.execute()
