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

from catalog.attributes import TAGS
from finder.errors import BadRequest
from search.filters import WORD, Filters, name_words, unprintable
from search.kinds import BY_NAME
from search.query.ordering import Sort
from search.query.spelling import corrections
from search.query.synonyms import Thesaurus, synonym_groups, thesaurus
from search.query.understanding import STOPWORDS, Understanding, stem, tokens, understand, vocabulary
from search.store import get_store
from search.store.connection import get_reader, search_errors
from search.store.versions import LiveIndex, live_index, product_of

TEXT = BY_NAME["text"]


#: Reciprocal rank fusion's constant (the usual 60) and how deep each ranking is read.
RRF_K = 60
CANDIDATES = 100


#: With a sort other than relevance, the most relevant matches that are reordered.
SORTED_DEPTH = 48


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
    #: The query as searched when words of it were misspelled ("" when it was searched as typed).
    corrected: str = ""
    #: Words the search read as well as the query's own (its synonyms).
    synonyms: tuple[str, ...] = ()

    @property
    def has_next(self) -> bool:
        return self.page * self.k < self.candidates

    @property
    def found_words(self) -> bool:
        """Whether the catalog has the query's words (an attribute it named, a keyword match):
        nearest neighbours come back for any query, gibberish too."""
        return bool(self.understood) or any("keyword_rank" in r["explanation"] for r in self.results)


class BadQuery(BadRequest):
    """The search's words cannot be searched as they are."""


class Mode(enum.StrEnum):
    """Which rankings the search box fuses; ``evaluate`` measures each alone."""

    FUSED = "fused"
    VECTOR = "vector"
    KEYWORD = "keyword"


def search_products(query: str, filters: Filters, k: int = 12, page: int = 1, mode: Mode = Mode.FUSED,
                    understanding: bool = True, sort: Sort = Sort.RELEVANCE, exact: bool = False,
                    decided: frozenset[str] = frozenset()) -> SearchPage:
    """Free-text search: the query's MiniLM vector (KNN) fused with BM25 keyword matching on
    the product's text, by reciprocal rank fusion, within ``filters``.

    Forgiving: a word that neither the catalog nor the text model knows is corrected to the
    catalog's nearest word (``corrected``; not with ``exact``), and the terms of the synonym
    groups that the query says join it (``synonyms``), as keywords and in the text the model reads.
    A gender, colour, product type or brand the query names (in the catalog's words or a
    synonym) becomes a filter too, unless the shopper set that filter, or ``decided`` it (unticked
    the value the query was read as: the query is then not read for that attribute); if nothing passes them
    all, they are dropped again, the narrowest first (``relaxed``). ``sort`` other than
    relevance reorders the :data:`SORTED_DEPTH` best. Each result says why it is there
    (``explanation``).
    """
    if unprintable(query):
        raise BadQuery("The search holds a control character: type it again, in words.")
    client = get_reader()
    live = live_index()
    depth = max(CANDIDATES, page * k)
    groups = synonym_groups() if understanding else ()
    words = thesaurus(groups)
    with search_errors():
        fixes = {} if exact or not understanding else corrections(
            client, live.name, name_words(query), lambda word: _known(word, words))
        searched = _corrected(query, fixes)
        also = tuple(words.expand(searched))
        meaning = query_vector(f"{searched} ({', '.join(also)})" if also else searched)
        reading = understand(searched, vocabulary(client, live.name), groups) if understanding else Understanding()
        understood = {a: v for a, v in reading.values.items() if a not in filters.tags and a not in decided}

        def ranking(values: dict[str, str]) -> tuple[Filters, list[tuple[str, dict[str, Any]]]]:
            """The ranking with ``values`` as filters: their words are no keywords, nor their synonyms."""
            narrowed = dataclasses.replace(filters, tags={**filters.tags, **{a: (v,) for a, v in values.items()}})
            taken = set(" ".join(reading.words[a] for a in values).split())
            unfiltered = " ".join(word for word in tokens(searched) if word not in taken)
            return narrowed, _fused(client, live, searched, meaning, words.expand(unfiltered), narrowed, depth, mode,
                                    taken)

        narrowed, ranked = ranking(understood)
        relaxed = bool(understood) and not ranked
        for dropped in _relaxations(understood) if relaxed else ():
            understood = {a: v for a, v in understood.items() if a not in dropped}
            narrowed, ranked = ranking(understood)
            if ranked:
                break
        if sort is Sort.RELEVANCE:
            chosen = ranked[(page - 1) * k:page * k]
            pairs = list(zip(chosen, get_store().documents([pid for pid, _ in chosen]), strict=True))
        else:
            ranked = ranked[:SORTED_DEPTH]
            pairs = sorted(zip(ranked, get_store().documents([pid for pid, _ in ranked]), strict=True),
                           key=lambda pair: sort.key(pair[1]) if pair[1] else ())[(page - 1) * k:page * k]
    results = [{**document, "score": round(why["score"], 6), "explanation": why}
               for (_, why), document in pairs if document]
    return SearchPage(results, page, k, len(ranked), understood, relaxed, narrowed,
                      corrected=searched if fixes else "", synonyms=also)


def _relaxations(understood: dict[str, str]) -> list[set[str]]:
    """When nothing passes every understood value: the values to drop, fewest first, the
    narrowest attributes (in the attribute table's order) before the broadest."""
    order = [attribute.parameter for attribute in reversed(TAGS) if attribute.parameter in understood]
    return [set(order[:count]) for count in range(1, len(order) + 1)]


def _known(word: str, thesaurus: Thesaurus) -> bool:
    """A word the shopper meant as typed: a stopword, a synonym's, or everyday English."""
    return word in STOPWORDS or stem(word) in thesaurus.words or word in TEXT.embedder().words


def _corrected(query: str, fixes: dict[str, str]) -> str:
    """``query`` with each misspelled word replaced, the rest as typed."""
    if not fixes:
        return query
    return WORD.sub(lambda word: fixes.get(word.group().lower(), word.group()), query)


@functools.lru_cache(maxsize=2048)
def query_vector(query: str) -> np.ndarray:
    """The text vector of a shopper's query. Shoppers ask the same things again and again: the
    popular queries' vectors are kept (the model's answer never changes)."""
    return TEXT.embedder().embed([query])[0]


def _fused(client: redis.Redis, live: LiveIndex, query: str, meaning: np.ndarray, synonyms: list[str],
           filters: Filters, depth: int, mode: Mode, filtered_words: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """Both rankings, fused: the ``meaning`` vector (the query read with its synonyms), and the
    query's words with the ``synonyms`` of those not already filters. ``filtered_words`` are
    query words turned into filters: every candidate matches them, so they only add noise to
    keyword scores."""
    compiled = get_store().compile_filters(filters)
    spec = live.specs[TEXT.field]
    rankings: dict[str, dict[str, Any]] = {}
    vector_hits = []
    if mode is not Mode.KEYWORD:
        knn = VectorQuery(vector=live.vector_bytes(meaning), vector_field_name=TEXT.field,
                          return_fields=[], filter_expression=compiled, num_results=depth)
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
    words += [phrase if " " not in phrase else f"({phrase})" for phrase in synonyms]
    if words and mode is not Mode.VECTOR:
        text = f"@search_text:({'|'.join(words)})" + (f" {compiled}" if compiled is not None else "")
        keyword = Query(text).scorer("BM25").no_content().paging(0, depth).dialect(2)
        for rank, hit in enumerate(client.ft(live.name).search(keyword).docs, start=1):
            product_id = product_of(hit.id)
            if filters.min_score is None or product_id in rankings:
                rankings.setdefault(product_id, {})["keyword_rank"] = rank
    for why in rankings.values():
        why["score"] = sum(1.0 / (RRF_K + why[key]) for key in ("vector_rank", "keyword_rank") if key in why)
    return sorted(rankings.items(), key=lambda item: item[1]["score"], reverse=True)
