"""The search box: a shopper's words, by meaning and by keyword, fused."""

from __future__ import annotations

import dataclasses
import enum
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from catalog.attributes import BY_PARAMETER, TAGS
from core import metrics
from core.errors import BadRequest
from search.filters import WORD, Filters, name_words, unprintable
from search.kinds import BY_NAME
from search.query.colours import words as colour_words
from search.query.highlights import Marks
from search.query.intent import FAMILIES, intended
from search.query.matches import Matches, sorted_ids
from search.query.ordering import Sort
from search.query.rules import Boost, Steering
from search.query.rules import steering as rule_steering
from search.query.spelling import Spelling, corrections
from search.query.synonyms import Thesaurus, synonym_groups, thesaurus
from search.query.understanding import Understanding, broader, understand, vocabulary
from search.query.words import STOPWORDS, stem, tokens
from search.store import get_store
from search.store.compiler import ExactTag
from search.store.connection import get_reader, search_errors, text
from search.store.redisearch import _pairs
from search.store.versions import LiveIndex, live_index, product_of

TEXT = BY_NAME["text"]


#: Reciprocal rank fusion's constant (the usual 60), and the nearest products by meaning that
#: a search matches (the keyword matches have no such ceiling: paging reaches the last).
RRF_K = 60
CANDIDATES = 100
#: How deep a search ranks at most: RediSearch's own ceiling (its MAXSEARCHRESULTS, by default).
MAX_RESULTS = 1_000_000
#: The last word of a query, this long or longer, is also read as the start of a word: the
#: shopper may still be typing it ("sungl").
PREFIX_FROM = 3
PREFIX_WEIGHT = 0.5
#: A boost reorders the products ranked best before it, this many at most.
BOOSTED_REACH = 1000


@dataclass(frozen=True)
class SearchPage:
    """One page of search results, and what the search did to get them."""

    results: list[dict[str, Any]]
    page: int
    k: int
    #: How many products the search matched: paging ends at the last of them.
    count: int
    understood: dict[str, str]
    relaxed: bool
    applied: Filters
    #: The query as searched when words of it were misspelled ("" when it was searched as typed).
    corrected: str = ""
    #: Words the search read as well as the query's own (its synonyms).
    synonyms: tuple[str, ...] = ()
    #: What the search matched, for counting its facets (:mod:`search.query.facets`).
    matches: Matches = dataclasses.field(default_factory=Matches)
    #: The shop's rules that applied (their ids).
    rules: tuple[int, ...] = ()

    @property
    def has_next(self) -> bool:
        return self.page * self.k < self.count

    @property
    def filled(self) -> bool:
        """Whether fewer than a page matched all the query was read as, and products that match
        part of it follow them (``lacking`` in their explanation)."""
        return any(r["explanation"].get("lacking") for r in self.results)

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


@dataclass
class _Ranked:
    """One way of reading the query, searched: its matches and their fused ranking."""

    filters: Filters
    matches: Matches
    ranking: list[tuple[str, dict[str, Any]]]


@metrics.SEARCH_SECONDS.labels("box").time()
def search_products(query: str, filters: Filters, k: int = 12, page: int = 1, mode: Mode = Mode.FUSED,
                    understanding: bool = True, sort: Sort = Sort.RELEVANCE, exact: bool = False,
                    decided: frozenset[str] = frozenset(), steering: Steering | None = None) -> SearchPage:
    """Free-text search: the query's MiniLM vector (KNN) fused with BM25 keyword matching on
    the product's text, by reciprocal rank fusion, within ``filters``.

    Forgiving: a word that neither the catalog nor the text model knows is corrected to the
    catalog's nearest word (``corrected``; not with ``exact``), and the terms of the synonym
    groups that the query says join it (``synonyms``), as keywords and in the text the model reads.
    The last word is also read as the start of a word ("sungl" finds sunglasses).
    A gender, colour, product type or brand the query names (in the catalog's words or a
    synonym) becomes a filter too, unless the shopper set that filter, or ``decided`` it (unticked
    the value the query was read as: the query is then not read for that attribute). Where fewer
    than a page passes them all, wider readings fill the page after them (``filled``): a shade's
    farther colours, a product type read as its sub category (or a sub category as its
    category), then the reading less its guesses (values read from a need, a usage). Where nothing
    passes them all, they are dropped again, the narrowest first, until something matches (``relaxed``).

    The shop's rules for the query apply (:mod:`search.query.rules`; ``steering`` in their
    place, for the admin's preview): pinned products first
    (within the shopper's filters, whatever the words were read as), hidden ones never, boosts
    on the scores. ``sort`` other than relevance orders all the matches (pins among them).
    Each result says why it is there (``explanation``) and which of its words matched
    (``highlight``).
    """
    if unprintable(query):
        raise BadQuery("The search holds a control character: type it again, in words.")
    client = get_reader()
    live = live_index()
    steering = rule_steering(query) if steering is None else steering
    depth = max(CANDIDATES, page * k + len(steering.pinned))
    with search_errors():
        asked = read_query(client, live, query, understanding, exact)
        searched, also, reading, read, partial, words = (asked.searched, asked.synonyms, asked.reading, asked.read,
                                                         asked.partial, asked.thesaurus)
        fixes = asked.fixes
        meaning = query_vector(f"{read} ({', '.join(also)})" if also else read) if read.strip() else None
        understood = {a: v for a, v in reading.values.items() if a not in filters.tags and a not in decided}

        def ranking(read_as: dict[str, tuple[str, ...]]) -> _Ranked:
            """The matches with ``read_as`` as filters: the words that named them are no keywords,
            nor their synonyms."""
            taken = set(" ".join(reading.words.get(a, "") for a in read_as).split())
            unfiltered = " ".join(word for word in tokens(searched) if word not in taken)
            return _search(client, live, searched, meaning, words.expand(unfiltered), filters, read_as, depth, mode,
                           taken, partial, steering.hidden)

        read_as = {a: (v, *reading.also.get(a, ())) for a, v in understood.items()}
        ranked, read_first = ranking(read_as), understood
        farther = {a: (*values, *reading.farther[a]) for a, values in read_as.items() if a in reading.farther}
        if farther and len(ranked.ranking) < k:  # "crimson heels": Maroon's, then Red's
            ranked = _after(ranked, ranking({**read_as, **farther}), sorted(farther))
        for dropped in _relaxations(understood, reading.meant) if not ranked.ranking else ():
            understood = {a: v for a, v in read_first.items() if a not in dropped}
            read_as = {a: values for a, values in read_as.items() if a in understood}
            ranked = ranking(read_as)
            if ranked.ranking:  # nothing matched all: the first reading that matches leads
                break
        for wider, lacking in _fillings(read_as, broader(client, live.name), reading.meant):
            if len(ranked.ranking) >= k:
                break
            ranked = _after(ranked, ranking(wider), lacking)  # "perfume for men": then other fragrance for men
        relaxed = understood != read_first
        matches = dataclasses.replace(ranked.matches, pinned=steering.pinned)
        total, pinned, boosted = _survey(client, live, filters, matches, steering.boosts,
                                         [pid for pid, _ in ranked.ranking[:BOOSTED_REACH]])
        matches = dataclasses.replace(matches, pinned=pinned)
        if sort is Sort.RELEVANCE:
            order = _steered(ranked.ranking, pinned, steering.boosts, boosted)
            chosen = order[(page - 1) * k:page * k]
        else:
            why = dict(ranked.ranking)
            chosen = [(pid, why.get(pid, {"score": 0.0}))
                      for pid in sorted_ids(filters, matches, sort, (page - 1) * k, k)]
        documents = get_store().documents([pid for pid, _ in chosen])
    marks = Marks.of(query, searched, also, partial=partial)
    results = [{**document, "score": round(why["score"], 6), "explanation": why, "highlight": marks.highlight(document)}
               for (_, why), document in zip(chosen, documents, strict=True) if document]
    return SearchPage(results, page, k, total, understood, relaxed, ranked.filters,
                      corrected=searched if fixes else "", synonyms=also, matches=matches, rules=steering.rules)


@dataclass(frozen=True)
class Asked:
    """A query as the search box reads it, before it searches."""

    #: The query with its misspellings corrected, and the corrections.
    searched: str
    fixes: dict[str, str]
    #: The synonyms' terms its words bring in, and the synonym groups by term.
    synonyms: tuple[str, ...]
    thesaurus: Thesaurus
    #: The attribute values its words, shades and needs name.
    reading: Understanding
    #: The text the model reads: corrected, completed, without a word half typed.
    read: str
    #: The last word, where the shopper may still be typing it ("" where it is too short).
    partial: str


def read_query(client: redis.Redis, live: LiveIndex, query: str, understanding: bool = True,
               exact: bool = False) -> Asked:
    """Read ``query``: correct its misspellings (not ``exact``), find its synonyms, and read the
    attribute values it names or means (not without ``understanding``)."""
    groups = synonym_groups() if understanding else ()
    words = thesaurus(groups)
    typed = WORD.findall(query.lower())  # in order, repeats too: the last is the word being typed
    partial = typed[-1] if typed and len(typed[-1]) >= PREFIX_FROM and typed[-1].isalnum() else ""
    spelling = Spelling() if exact or not understanding else corrections(
        client, live.name, name_words(query), lambda word: _known(word, words), partial)
    searched = _corrected(query, spelling.fixes)
    whole = bool(partial) and _known(partial, words)
    known = vocabulary(client, live.name) if understanding else {}
    reading = understand(searched, known, groups, partial, whole) if understanding else Understanding()
    read = _corrected(searched, reading.completed)
    if spelling.typing and partial not in reading.completed:  # a word half typed: no meaning yet
        read = " ".join(word for word in WORD.findall(read) if word.lower() != partial)
    if understanding:
        reading = _with_needs(reading, read, known, broader(client, live.name))
    return Asked(searched, spelling.fixes, tuple(words.expand(searched)), words, reading, read, partial)


def _survey(client: redis.Redis, live: LiveIndex, filters: Filters, matches: Matches,
            boosts: tuple[Boost, ...], ranked: list[str]) -> tuple[int, tuple[str, ...], list[set[str]]]:
    """In one round trip: how many products ``matches`` holds, which of its pinned products the
    index has within the shopper's filters (in the rules' order), and for each boost, which of
    the ``ranked`` products have the boosted value (no boost is asked when nothing is ranked)."""
    query = matches.query(filters)
    if query is None:
        return 0, (), [set() for _ in boosts]
    pipe = client.pipeline(transaction=False)
    pipe.execute_command("FT.SEARCH", live.name, query, "LIMIT", 0, 0, "DIALECT", 2)
    if matches.pinned:
        pipe.execute_command("FT.SEARCH", live.name, Matches(pinned=matches.pinned).query(filters), "NOCONTENT",
                             "LIMIT", 0, len(matches.pinned), "DIALECT", 2)
    for boost in boosts if ranked else ():
        tag = ExactTag(BY_PARAMETER[boost.parameter].field) == boost.value
        pipe.execute_command("FT.SEARCH", live.name, f"{ExactTag('id') == ranked} {tag}", "NOCONTENT",
                             "LIMIT", 0, len(ranked), "DIALECT", 2)
    found = pipe.execute()
    total = int(found.pop(0)[0])
    passing = {product_of(text(key)) for key in found.pop(0)[1:]} if matches.pinned else set()
    pinned = tuple(pid for pid in matches.pinned if pid in passing)
    return total, pinned, [{product_of(text(key)) for key in reply[1:]} for reply in found]


def _steered(ranking: list[tuple[str, dict[str, Any]]], pinned: tuple[str, ...], boosts: tuple[Boost, ...],
             boosted: list[set[str]]) -> list[tuple[str, dict[str, Any]]]:
    """The ranking as the rules want it: the pinned products first, in order, then the rest by
    their scores, each multiplied by the weights of the boosts it has. Each moved result's
    explanation says so (``rules``)."""
    why = dict(ranking)
    rest = []
    for product_id, reasons in ranking:
        if product_id in pinned:
            continue
        applied = [boost for boost, ids in zip(boosts, boosted, strict=True) if product_id in ids]
        if applied:
            reasons = {**reasons, "score": reasons["score"] * float(np.prod([boost.weight for boost in applied])),
                       "rules": [boost.said for boost in applied]}
        rest.append((product_id, reasons))
    rest.sort(key=lambda item: item[1]["score"], reverse=True)
    pins = [(pid, {**why.get(pid, {"score": 0.0}), "pinned": place, "rules": ["pinned by a rule"]})
            for place, pid in enumerate(pinned, start=1)]
    return pins + rest


def _with_needs(reading: Understanding, read: str, known: dict[str, list[str]],
                over: dict[str, dict[str, tuple[str, ...]]]) -> Understanding:
    """``reading`` with the values the query's need or occasion means (:mod:`search.query.intent`).
    Each family of attributes (product type, sub category, category; usage) is read from the
    query's words but those that named a value outside it: "shirt for the office" is read
    for usage as "for the office". A value read so takes the place of those the words named
    in its family."""
    values, words, also, farther = dict(reading.values), dict(reading.words), dict(reading.also), dict(reading.farther)
    for family in FAMILIES:
        named = {word for attribute, said in reading.words.items() if attribute not in family
                 for word in said.split()}
        own = {word for attribute, said in reading.words.items() if attribute in family for word in said.split()}
        rest = [word for word in WORD.findall(read) if stem(word.lower()) not in named]
        if all(word.lower() in STOPWORDS or stem(word.lower()) in own for word in rest):
            continue  # nothing said beyond what the words named ("red tshirt"): no need to read
        meant = intended(family, query_vector(" ".join(rest)), known, reading.values, over)
        if meant:
            for attribute in family:
                for said in (values, words, also, farther):
                    said.pop(attribute, None)
            attribute, (value, *others) = meant
            values[attribute], also[attribute] = value, tuple(others)
    return dataclasses.replace(reading, values=values, words=words, also=also, farther=farther)


def _after(first: _Ranked, wider: _Ranked, lacking: list[str]) -> _Ranked:
    """``first``'s matches (fewer than a page) and then ``wider``'s, read with the ``lacking``
    attributes dropped or farther: ``wider``'s keep their order, with scores below the lowest of
    ``first``'s, and say which attributes they differ in (``lacking`` in their explanation). The
    page counts, facets and sorts the matches of both; the filters it shows chosen stay ``first``'s."""
    near = {product_id for product_id, _ in first.ranking}
    rest = [(product_id, why) for product_id, why in wider.ranking if product_id not in near]
    if not rest:
        return first
    lowest = min((why["score"] for _, why in first.ranking), default=0.0)
    scale = lowest / max(why["score"] for _, why in rest) * 0.999 if first.ranking else 1.0
    following = [(product_id, {**why, "score": why["score"] * scale, "lacking": lacking}) for product_id, why in rest]
    found = tuple(dict.fromkeys((*first.matches.found, *wider.matches.found)))
    return _Ranked(first.filters, dataclasses.replace(wider.matches, found=found), [*first.ranking, *following])


def _relaxations(understood: dict[str, str], meant: frozenset[str]) -> list[set[str]]:
    """When nothing passes every understood value: the values to drop, fewest first, those read
    from the query's need (``meant``) before those its words named, and the narrowest attributes
    (in the attribute table's order) before the broadest."""
    order = sorted((attribute.parameter for attribute in reversed(TAGS) if attribute.parameter in understood),
                   key=lambda parameter: parameter not in meant)
    return [set(order[:count]) for count in range(1, len(order) + 1)]


def _fillings(read_as: dict[str, tuple[str, ...]], over: dict[str, dict[str, tuple[str, ...]]],
              meant: frozenset[str]) -> list[tuple[dict[str, tuple[str, ...]], list[str]]]:
    """The readings that fill a short page, in order, each as (the values read, the attributes it
    reads less strictly). First more of the same kind: each value whose attribute narrows another
    (a product type, its sub category) read as the values it lies under (``over``), the others
    kept: "bracelet" fills with other jewellery, "perfume for men" with men's personal care. Then
    the reading less the values that are guesses: those read from the query's need (``meant``),
    and a loosely labelled attribute's (the attribute table's ``loose``, usage): "outfit for a
    party" finds the catalog's three Party products, then the dresses its words mean."""
    fillings = []
    for attribute in reversed(TAGS):
        if attribute.parameter in read_as and attribute.narrows and attribute.narrows not in read_as:
            above = over.get(attribute.parameter, {})
            under = {value for said in read_as[attribute.parameter] for value in above.get(said, ())}
            if under:
                kept = {a: values for a, values in read_as.items() if a != attribute.parameter}
                fillings.append(({**kept, attribute.narrows: tuple(sorted(under))}, [attribute.parameter]))
    guessed = sorted(parameter for parameter in read_as if parameter in meant or BY_PARAMETER[parameter].loose)
    if guessed:
        fillings.append(({a: values for a, values in read_as.items() if a not in guessed}, guessed))
    return fillings


def _known(word: str, thesaurus: Thesaurus) -> bool:
    """A word the shopper meant as typed: a stopword, a synonym's, or everyday English."""
    return (word in STOPWORDS or stem(word) in thesaurus.words or word in TEXT.embedder().words
            or stem(word) in colour_words())


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


def _search(client: redis.Redis, live: LiveIndex, query: str, meaning: np.ndarray | None, synonyms: list[str],
            filters: Filters, understood: dict[str, tuple[str, ...]], depth: int, mode: Mode, filtered_words: set[str],
            partial: str, hidden: tuple[str, ...]) -> _Ranked:
    """The query searched within ``filters`` and the ``understood`` values, both rankings fused
    (in one round trip): the ``meaning`` vector's nearest (the query read with its synonyms),
    and the query's words with the ``synonyms`` of those not already filters, ``partial`` also as
    the start of a word. ``filtered_words`` are query words turned into filters: every candidate
    matches them, so they only add noise to keyword scores. When every word was read as a filter,
    every product with those values matches."""
    narrowed = dataclasses.replace(filters, tags={**filters.tags, **understood})
    compiled = get_store().compile_filters(narrowed, exclude=hidden)
    within = str(compiled) if compiled is not None else "*"
    # Keywords: the query's content words, any of them, scored by BM25. Words are reduced to
    # letters, digits and underscores first, so none can change the query's structure.
    words = [word for word in name_words(query) if len(word) > 1 and any(ch.isalnum() for ch in word)
             and word not in STOPWORDS and stem(word) not in filtered_words]
    words += [phrase if " " not in phrase else f"({phrase})" for phrase in synonyms]
    if partial and stem(partial) not in filtered_words:
        # Words it starts count for less than the word itself: "shirt" ranks shirts before shirtdresses.
        words.append(f"({partial}*)=>{{$weight: {PREFIX_WEIGHT};}}")
    read_as = get_store().compile_filters(Filters(tags=understood))
    clause = " ".join(part for part in (f"@search_text:({'|'.join(words)})" if words else "",
                                        str(read_as) if read_as is not None else "") if part)
    if mode is Mode.VECTOR or filters.min_score is not None:
        clause = ""
    pipe = client.pipeline(transaction=False)
    asked_meaning = meaning is not None and mode is not Mode.KEYWORD
    if asked_meaning:
        knn = f"({within})=>[KNN {CANDIDATES} @{TEXT.field} $vector AS distance]"
        pipe.execute_command("FT.SEARCH", live.name, knn, "PARAMS", 2, "vector", live.vector_bytes(meaning),
                             "SORTBY", "distance", "RETURN", 1, "distance", "LIMIT", 0, CANDIDATES, "DIALECT", 2)
    if clause:
        keywords = clause if within == "*" else f"{clause} {within}"
        pipe.execute_command("FT.SEARCH", live.name, keywords, "SCORER", "BM25", "NOCONTENT", "LIMIT", 0, depth,
                             "DIALECT", 2)
    replies = pipe.execute() if asked_meaning or clause else []
    spec = live.specs[TEXT.field]
    rankings: dict[str, dict[str, Any]] = {}
    if asked_meaning:
        hits = replies.pop(0)
        for rank, (key, fields) in enumerate(zip(hits[1::2], hits[2::2], strict=True), start=1):
            similarity = spec.score(float(_pairs(fields)["distance"]))
            if filters.min_score is not None and similarity < filters.min_score:
                continue
            rankings[product_of(text(key))] = {"vector_rank": rank, "vector_score": round(similarity, 6),
                                               "metric": spec.metric}
    found = tuple(rankings)
    if clause:
        for rank, key in enumerate(replies.pop(0)[1:], start=1):
            rankings.setdefault(product_of(text(key)), {})["keyword_rank"] = rank
    for why in rankings.values():
        why["score"] = sum(1.0 / (RRF_K + why[key]) for key in ("vector_rank", "keyword_rank") if key in why)
    ranking = sorted(rankings.items(), key=lambda item: item[1]["score"], reverse=True)
    return _Ranked(narrowed, Matches(clause, found, hidden=hidden), ranking)
