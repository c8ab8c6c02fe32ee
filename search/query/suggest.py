"""Autocomplete: what a shopper may mean by the letters typed so far, from RediSearch's
suggestion dictionaries (FT.SUGGET, fuzzy on the prefix): popular past searches, the suggested
attributes' values (a product type, a colour, a brand) and product names.

Past searches whose words the catalog has are remembered (the pages and the API call
:func:`remember_query`), and a search becomes a suggestion once ``FINDER_SUGGEST_MIN_SEARCHES``
different visitors made it (counted by a HyperLogLog a search, kept a month from its last use):
one shopper's odd words (or a troll's) are not offered to the next.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from catalog.attributes import SUGGESTED
from search.filters import normal_form
from search.store.connection import SearchUnavailable, get_client, get_reader, search_errors, text
from search.store.schema import suggestion_key
from search.store.versions import live_index

#: Suggestions at most, and of each source at most (past searches, attribute values).
LIMIT = 8
PER_SOURCE = 3
#: Prefixes this long are matched fuzzily (one edit), when nothing starts with them as typed:
#: shorter ones match too much ("wat": cat, sat, bat...).
FUZZY_FROM = 4
MAX_QUERY_LENGTH = 60
VISITORS_KEPT_SECONDS = 30 * 86_400


@dataclass(frozen=True)
class Suggestion:
    """``kind`` is ``query``, ``product`` or an attribute's parameter; ``product_id`` for a product."""

    text: str
    kind: str
    product_id: str | None = None


def suggestions(prefix: str, limit: int = LIMIT) -> list[Suggestion]:
    """Suggestions for ``prefix``: past searches first, then attribute values (those most
    products have first), then product names; each text once. The dictionaries are asked for the
    prefix as typed and, only when nothing starts with it, one edit off (a misspelling)."""
    prefix = normal_form(prefix)[:MAX_QUERY_LENGTH]
    if not prefix:
        return []
    live = live_index()
    sources = [("query", _queries_key()), *((a.parameter, suggestion_key(live.doc_prefix, a.parameter))
                                            for a in SUGGESTED),
               ("product", suggestion_key(live.doc_prefix, "products"))]
    answers = _ask(sources, prefix, limit, fuzzy=False)
    if not any(answers) and len(prefix) >= FUZZY_FROM:
        answers = _ask(sources, prefix, limit, fuzzy=True)
    queries: list[Suggestion] = []
    scored_values: list[tuple[float, Suggestion]] = []
    products: list[Suggestion] = []
    for (kind, _), answer in zip(sources, answers, strict=True):
        for said, score, payload in answer:
            if kind == "query":
                queries.append(Suggestion(said, kind))
            elif kind == "product":
                products.append(Suggestion(said, kind, payload))
            else:
                scored_values.append((score, Suggestion(said, kind)))
    values = [suggestion for _, suggestion in sorted(scored_values, key=lambda pair: -pair[0])]
    found: dict[str, Suggestion] = {}
    for candidates, most in ((queries, PER_SOURCE), (values, PER_SOURCE), (products, limit)):
        for candidate in candidates:
            if len(found) >= limit or most == 0:
                break
            if candidate.text.casefold() not in found:
                found[candidate.text.casefold()] = candidate
                most -= 1
    return list(found.values())


def _ask(sources: list[tuple[str, str]], prefix: str, limit: int, fuzzy: bool) -> list[list[tuple[str, float, str]]]:
    """Every dictionary's suggestions for ``prefix``, in one round trip."""
    with search_errors():
        pipe = get_reader().pipeline(transaction=False)
        for _, key in sources:
            pipe.execute_command("FT.SUGGET", key, prefix, *(["FUZZY"] if fuzzy else []), "MAX", limit,
                                 "WITHSCORES", "WITHPAYLOADS")
        return [_triples(answer) for answer in pipe.execute()]


def _triples(answer: list[Any] | None) -> list[tuple[str, float, str]]:
    """FT.SUGGET's flat answer WITHSCORES WITHPAYLOADS as (text, score, payload)."""
    answer = answer or []
    return [(text(value), float(score), text(payload) if payload is not None else "")
            for value, score, payload in zip(answer[::3], answer[1::3], answer[2::3], strict=True)]


def remember_query(text: str, visitor: str) -> None:
    """Count who made a search (``visitor``: their address, say); once enough different
    visitors have, suggest it. Best effort: a search is never refused because Redis could not
    count it."""
    text = normal_form(text)
    if not text or len(text) > MAX_QUERY_LENGTH:
        return
    who = f"{_queries_key()}:who:{hashlib.sha1(text.encode()).hexdigest()}"
    try:
        with search_errors():
            pipe = get_client().pipeline(transaction=False)
            pipe.pfadd(who, visitor)
            pipe.expire(who, VISITORS_KEPT_SECONDS)
            pipe.pfcount(who)
            count = pipe.execute()[-1]
            if count >= settings.FINDER_SUGGEST_MIN_SEARCHES and not get_client().sismember(_removed_key(), text):
                get_client().execute_command("FT.SUGADD", _queries_key(), text, count)
    except SearchUnavailable:
        return


def remove_suggestion(text: str) -> bool:
    """Take a popular search out of autocomplete for good (staff, in the admin: a planted one,
    say); whether it was there."""
    text = normal_form(text)
    with search_errors():
        get_client().sadd(_removed_key(), text)
        return bool(get_client().execute_command("FT.SUGDEL", _queries_key(), text))


def _queries_key() -> str:
    return f"{settings.FINDER_INDEX_PREFIX}:suggest:queries"


def _removed_key() -> str:
    """Searches staff took out of autocomplete: never suggested again, however often made."""
    return f"{settings.FINDER_INDEX_PREFIX}:suggest:removed"
