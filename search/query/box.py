"""The search box: a shopper's words, by meaning and by keyword, fused."""

from __future__ import annotations

import dataclasses
import enum
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis
from redis.commands.search.query import Query
from redisvl.query import VectorQuery

from search.kinds import BY_NAME
from search.query.filters import Filters, name_words
from search.query.understanding import STOPWORDS, Understanding, stem, understand, vocabulary
from search.store import get_store
from search.store.connection import get_client, search_errors
from search.store.versions import LiveIndex, live_index, product_of

TEXT = BY_NAME["text"]


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
        documents = get_store().documents([pid for pid, _ in chosen])
    results = [{**document, "score": round(why["score"], 6), "explanation": why}
               for (_, why), document in zip(chosen, documents, strict=True) if document]
    return SearchPage(results, page, k, len(ranked), understood, relaxed, narrowed)


@functools.lru_cache(maxsize=2048)
def query_vector(query: str) -> np.ndarray:
    """The text vector of a shopper's query. Shoppers ask the same things again and again: the
    popular queries' vectors are kept (the model's answer never changes)."""
    return TEXT.embedder().embed([query])[0]


def _fused(client: redis.Redis, live: LiveIndex, query: str, filters: Filters, depth: int, mode: Mode,
           filtered_words: set[str]) -> list[tuple[int, dict[str, Any]]]:
    """Both rankings, fused. ``filtered_words`` are query words already turned into filters:
    every candidate matches them, so they only add noise to keyword scores."""
    expression = filters.expression()
    spec = live.specs[TEXT.field]
    rankings: dict[int, dict[str, Any]] = {}
    vector_hits = []
    if mode is not Mode.KEYWORD:
        knn = VectorQuery(vector=live.vector_bytes(query_vector(query)), vector_field_name=TEXT.field,
                          return_fields=[], filter_expression=expression, num_results=depth)
        vector_hits = client.ft(live.name).search(knn, knn.params).docs
    for rank, hit in enumerate(vector_hits, start=1):
        similarity = spec.score(float(hit.vector_distance))
        if filters.min_score is not None and similarity < filters.min_score:
            continue
        rankings[product_of(hit.id)] = {"vector_rank": rank, "vector_score": round(similarity, 6),
                                         "metric": spec.metric}
    # Keywords: the query's content words, any of them, scored by BM25. Words are reduced to
    # letters, digits and underscores first, so none can change the query's structure.
    words = [word for word in name_words(query) if len(word) > 1 and any(ch.isalnum() for ch in word)
             and word not in STOPWORDS and stem(word) not in filtered_words]
    if words and mode is not Mode.VECTOR:
        text = f"@text:({'|'.join(words)})" + (f" {expression}" if expression is not None else "")
        keyword = Query(text).scorer("BM25").no_content().paging(0, depth).dialect(2)
        for rank, hit in enumerate(client.ft(live.name).search(keyword).docs, start=1):
            product_id = product_of(hit.id)
            if filters.min_score is None or product_id in rankings:
                rankings.setdefault(product_id, {})["keyword_rank"] = rank
    for why in rankings.values():
        why["score"] = sum(1.0 / (RRF_K + why[key]) for key in ("vector_rank", "keyword_rank") if key in why)
    return sorted(rankings.items(), key=lambda item: item[1]["score"], reverse=True)
