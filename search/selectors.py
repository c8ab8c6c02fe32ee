"""Reads from the search index: what is live, and similar products under typed filters."""

from __future__ import annotations

import dataclasses
import enum
import functools
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis
from django.conf import settings
from PIL import Image
from redis.commands.search.query import Query
from redisvl.query import VectorQuery
from redisvl.query.filter import Tag

from search import embedders
from search.connection import SearchUnavailable, get_client, search_errors
from search.filters import TAG_PARAMETERS, Filters, name_words
from search.schema import IMAGE_VECTOR, TEXT_VECTOR, VectorIndexSpec, alias, meta_key, vector_bytes, vector_from_bytes
from search.understanding import Understanding, stem, understand, vocabulary

LIVE_CACHE_SECONDS = 2.0


class By(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    BOTH = "both"

    @property
    def vector_fields(self) -> tuple[str, ...]:
        return {By.TEXT: (TEXT_VECTOR,), By.IMAGE: (IMAGE_VECTOR,), By.BOTH: (TEXT_VECTOR, IMAGE_VECTOR)}[self]


class NotSearchable(LookupError):
    """The product has no vector of that kind (not indexed yet, or no usable image)."""


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
                     {f: v["dim"] for f, v in info["vectors"].items()}, info["vectors"][TEXT_VECTOR]["type"],
                     complete=info["percent_indexed"] >= 1.0)
    with _live_lock:
        _live_cache[key] = (time.monotonic(), live)
    return live


def index_progress() -> float:
    """The share of documents the live index has taken in: below 1 while Redis rebuilds it."""
    return 1.0 if live_index(refresh=True).complete else index_info(get_client(), alias())["percent_indexed"]


def similar_products(product_id: int, by: By, filters: Filters, k: int = 12, page: int = 1,
                     weight: float = 0.5) -> list[dict[str, Any]]:
    """Page ``page`` of the products most similar to ``product_id`` (``k`` a page), never
    itself, best first, that pass ``filters`` (tag, text, numeric and geo pre-filters, and a
    ``min_score`` threshold). ``by`` BOTH blends the two similarities, ``weight`` on the image.

    Each result is the product's document with ``score`` (cosine similarity, higher is more
    similar, whatever the metric), ``distance`` (the metric's raw distance) and an
    ``explanation``. Three round trips whatever ``k`` is for one vector, four for both.

    The vector and the query both go to one concrete version of the index, never the alias,
    so that an alias swap between the two cannot pair a vector with an index of another
    dimension; a version that went away meanwhile is looked up again, once.
    """
    client = get_client()
    with search_errors():
        try:
            return _similar(client, live_index(), product_id, by, filters, k, page, weight)
        except (_Stale, redis.ResponseError):
            pass
        try:
            return _similar(client, live_index(refresh=True), product_id, by, filters, k, page, weight)
        except _Stale:
            raise NotSearchable("This product is not searchable yet." if by is By.TEXT
                                else "This product has no usable image to compare.") from None


def _similar(client: redis.Redis, live: LiveIndex, product_id: int, by: By, filters: Filters, k: int, page: int,
             weight: float) -> list[dict[str, Any]]:
    vectors = client.hmget(live.doc_key(product_id), by.vector_fields)
    if None in vectors:
        raise _Stale
    if by is By.BOTH:
        ranked = _blended(client, live, vectors, filters, k * page, product_id, weight)
    else:
        ranked = _nearest(client, live, vectors[0], by.vector_fields[0], filters, k * page, product_id)
    return ranked[(page - 1) * k:]


class _Stale(LookupError):
    """The product has no vector of that kind in this version of the index."""


def similar_to_image(image: Image.Image, filters: Filters, k: int = 12) -> list[dict[str, Any]]:
    """The ``k`` products whose photos look most like ``image``, within ``filters``."""
    embedder = embedders.image_embedder()
    client = get_client()
    with search_errors():
        live = live_index()
        if live.dims.get(IMAGE_VECTOR) != embedder.dim:
            raise SearchUnavailable("Photo search is being rebuilt for a new image model; try again soon.")
        slots = _photo_slots()
        if not slots.acquire(timeout=settings.FINDER_PHOTO_WAIT):
            raise SearchUnavailable("Photo search is busy right now; try again in a moment.")
        try:
            vector = live.vector_bytes(embedder.embed([image])[0])
        finally:
            slots.release()
        return _nearest(client, live, vector, IMAGE_VECTOR, filters, k)


@functools.cache
def _photo_slots() -> threading.BoundedSemaphore:
    """How many shopper photos this process embeds at once (``FINDER_PHOTO_CONCURRENCY``): a
    burst of uploads waits its turn here rather than taking every core from every page."""
    return threading.BoundedSemaphore(settings.FINDER_PHOTO_CONCURRENCY)


def _knn_query(vector: bytes, field: str, filters: Filters, depth: int, exclude: int | None) -> VectorQuery:
    expression = filters.expression()
    if exclude is not None:
        expression = Tag("id") != str(exclude) if expression is None else (Tag("id") != str(exclude)) & expression
    return VectorQuery(vector=vector, vector_field_name=field, return_fields=[], filter_expression=expression,
                       num_results=depth)


def _documents(client: redis.Redis, ids: list[int]) -> list[dict[str, Any] | None]:
    found = client.json().mget([meta_key(pid) for pid in ids], "$") if ids else []
    return [document[0] if document else None for document in found]


def _nearest(client: redis.Redis, live: LiveIndex, vector: bytes, field: str, filters: Filters, depth: int,
             exclude: int | None = None) -> list[dict[str, Any]]:
    spec = live.specs[field]
    query = _knn_query(vector, field, filters, depth, exclude)
    hits = client.ft(live.name).search(query, query.params).docs
    if filters.min_score is not None:
        # The k best above the threshold are the k best, less those below it. (A VECTOR_RANGE
        # clause would say the same, but RediSearch 2.10 drops its yielded distance from some
        # hits when it meets a negated filter inside a group: seen here, so not used.)
        hits = [hit for hit in hits if spec.score(float(hit.vector_distance)) >= filters.min_score]
    results = []
    for hit, document in zip(hits, _documents(client, [_product_id(hit.id) for hit in hits]), strict=True):
        if document:
            distance = float(hit.vector_distance)
            score = round(spec.score(distance), 6)
            results.append({**document, "score": score, "distance": distance, "explanation": {
                "vector": "text" if field == TEXT_VECTOR else "image", "index": str(spec), "metric": spec.metric,
                "score": score, "distance": distance}})
    return results


def _blended(client: redis.Redis, live: LiveIndex, vectors: list[bytes], filters: Filters, depth: int,
             exclude: int, weight: float) -> list[dict[str, Any]]:
    """Text and image similarity blended: ``(1 - weight) * text + weight * image``.

    Candidates are the union of both KNN rankings; both similarities are then computed exactly
    from the candidates' stored vectors (normalised, so a dot product is the cosine). Products
    without an image vector cannot be blended and are left out.
    """
    queries = [live.vector(vector) for vector in vectors]
    candidates: dict[int, None] = {}
    for field, vector in zip((TEXT_VECTOR, IMAGE_VECTOR), vectors, strict=True):
        query = _knn_query(vector, field, filters, depth, exclude)
        candidates.update((_product_id(hit.id), None) for hit in client.ft(live.name).search(query, query.params).docs)
    pipe = client.pipeline(transaction=False)
    for product_id in candidates:
        pipe.hmget(live.doc_key(product_id), [TEXT_VECTOR, IMAGE_VECTOR])
    scored = []
    for product_id, stored in zip(candidates, pipe.execute(), strict=True):
        if None in stored:
            continue
        text, image = (float(live.vector(v) @ q) for v, q in zip(stored, queries, strict=True))
        score = (1 - weight) * text + weight * image
        if filters.min_score is None or score >= filters.min_score:
            scored.append((score, product_id, text, image))
    scored.sort(reverse=True)
    scored = scored[:depth]
    results = []
    for (score, _, text, image), document in zip(scored, _documents(client, [s[1] for s in scored]), strict=True):
        if document:
            results.append({**document, "score": round(score, 6), "distance": round(1 - score, 6), "explanation": {
                "vector": "both", "weight": weight, "text_score": round(text, 6), "image_score": round(image, 6),
                "metric": "cosine", "score": round(score, 6)}})
    return results


#: English function words, left out of keyword matching (the vector still reads the whole query).
#: RediSearch's own default stopword list.
STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
    "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
    "will", "with",
))
#: Reciprocal rank fusion's constant (the usual 60) and how deep each ranking is read.
RRF_K = 60
CANDIDATES = 100


@dataclass(frozen=True)
class SearchPage:
    """One page of search results, and what the search did to get them."""

    results: list[dict[str, Any]]
    page: int
    k: int
    candidates: int
    understood: dict[str, str]
    relaxed: bool
    applied: Filters

    @property
    def has_next(self) -> bool:
        return self.page * self.k < self.candidates


class Mode(enum.StrEnum):
    """Which rankings the search box fuses; ``evaluate`` measures each alone."""

    FUSED = "fused"
    VECTOR = "vector"
    KEYWORD = "keyword"


def search_products(query: str, filters: Filters, k: int = 12, page: int = 1, mode: Mode = Mode.FUSED,
                    understanding: bool = True) -> SearchPage:
    """Free-text search: the query's MiniLM vector (KNN) fused with BM25 keyword matching on
    the product's text, by reciprocal rank fusion, within ``filters``.

    A gender, colour or product type the query names (in the catalog's own words) becomes a
    filter too, unless the shopper set that filter; if nothing passes them, they are dropped
    again (``relaxed``). Each result says why it is there (``explanation``).
    """
    client = get_client()
    live = live_index()
    depth = max(CANDIDATES, page * k)
    with search_errors():
        reading = understand(query, vocabulary(client, live.name)) if understanding else Understanding()
        understood = {a: v for a, v in reading.values.items() if a not in filters.tags}
        words = reading.words
        narrowed = dataclasses.replace(filters, tags={**filters.tags, **{a: (v,) for a, v in understood.items()}})
        ranked = _fused(client, live, query, narrowed, depth, mode, set(" ".join(words[a] for a in understood).split()))
        relaxed = bool(understood) and not ranked
        if relaxed:
            understood, narrowed = {}, filters
            ranked = _fused(client, live, query, filters, depth, mode, set())
        chosen = ranked[(page - 1) * k:page * k]
        documents = client.json().mget([meta_key(pid) for pid, _ in chosen], "$") if chosen else []
    results = [{**document[0], "score": round(why["score"], 6), "explanation": why}
               for (_, why), document in zip(chosen, documents, strict=True) if document]
    return SearchPage(results, page, k, len(ranked), understood, relaxed, narrowed)


@functools.lru_cache(maxsize=2048)
def query_vector(query: str) -> np.ndarray:
    """The text vector of a shopper's query. Shoppers ask the same things again and again: the
    popular queries' vectors are kept (the model's answer never changes)."""
    return embedders.text_embedder().embed([query])[0]


def _fused(client: redis.Redis, live: LiveIndex, query: str, filters: Filters, depth: int, mode: Mode,
           filtered_words: set[str]) -> list[tuple[int, dict[str, Any]]]:
    """Both rankings, fused. ``filtered_words`` are query words already turned into filters:
    every candidate matches them, so they only add noise to keyword scores."""
    expression = filters.expression()
    spec = live.specs[TEXT_VECTOR]
    rankings: dict[int, dict[str, Any]] = {}
    vector_hits = []
    if mode is not Mode.KEYWORD:
        knn = VectorQuery(vector=live.vector_bytes(query_vector(query)), vector_field_name=TEXT_VECTOR,
                          return_fields=[], filter_expression=expression, num_results=depth)
        vector_hits = client.ft(live.name).search(knn, knn.params).docs
    for rank, hit in enumerate(vector_hits, start=1):
        similarity = spec.score(float(hit.vector_distance))
        if filters.min_score is not None and similarity < filters.min_score:
            continue
        rankings[_product_id(hit.id)] = {"vector_rank": rank, "vector_score": round(similarity, 6),
                                         "metric": spec.metric}
    # Keywords: the query's content words, any of them, scored by BM25. Words are reduced to
    # letters, digits and underscores first, so none can change the query's structure.
    words = [word for word in name_words(query) if len(word) > 1 and any(ch.isalnum() for ch in word)
             and word not in STOPWORDS and stem(word) not in filtered_words]
    if words and mode is not Mode.VECTOR:
        text = f"@text:({'|'.join(words)})" + (f" {expression}" if expression is not None else "")
        keyword = Query(text).scorer("BM25").no_content().paging(0, depth).dialect(2)
        for rank, hit in enumerate(client.ft(live.name).search(keyword).docs, start=1):
            product_id = _product_id(hit.id)
            if filters.min_score is None or product_id in rankings:
                rankings.setdefault(product_id, {})["keyword_rank"] = rank
    for why in rankings.values():
        why["score"] = sum(1.0 / (RRF_K + why[key]) for key in ("vector_rank", "keyword_rank") if key in why)
    return sorted(rankings.items(), key=lambda item: item[1]["score"], reverse=True)


def _product_id(key: str) -> int:
    return int(key.rsplit(":", 1)[1])


FACET_VALUES = 100


@dataclass(frozen=True)
class Facets:
    """Counts of searchable products for each value of each filter, and the year range."""

    counts: dict[str, list[tuple[str, int]]]
    years: tuple[int, int] | None


def facet_counts(filters: Filters) -> Facets:
    """Facet counts from the index (FT.AGGREGATE), in one round trip.

    Multi-select: each attribute's counts apply every filter but that attribute's own, so a
    shopper sees what choosing another value as well would add.
    """
    client = get_client()
    with search_errors():
        live = live_index()
        pipe = client.pipeline(transaction=False)
        for parameter, field in TAG_PARAMETERS.items():
            others = dataclasses.replace(filters, tags={p: v for p, v in filters.tags.items() if p != parameter})
            pipe.execute_command("FT.AGGREGATE", live.name, _query_text(others), "GROUPBY", "1", f"@{field}",
                                 "REDUCE", "COUNT", "0", "AS", "count", "SORTBY", "2", "@count", "DESC",
                                 "MAX", str(FACET_VALUES), "DIALECT", "2")
        unbounded = dataclasses.replace(filters, year_min=None, year_max=None)
        pipe.execute_command("FT.AGGREGATE", live.name, _query_text(unbounded), "GROUPBY", "0",
                             "REDUCE", "MIN", "1", "@year", "AS", "lo", "REDUCE", "MAX", "1", "@year", "AS", "hi",
                             "DIALECT", "2")
        *groups, years = pipe.execute()
    counts = {}
    for parameter, field, group in zip(TAG_PARAMETERS, TAG_PARAMETERS.values(), groups, strict=True):
        rows = [_pairs(row) for row in group[1:]]
        counts[parameter] = [(row[field], int(row["count"])) for row in rows if row.get(field)]
    span = _pairs(years[1]) if len(years) > 1 else {}
    bounds = (span.get("lo"), span.get("hi"))
    return Facets(counts, (int(float(bounds[0])), int(float(bounds[1]))) if None not in bounds else None)


def _query_text(filters: Filters) -> str:
    expression = filters.expression()
    return str(expression) if expression is not None else "*"
