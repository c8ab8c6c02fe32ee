"""Synonym groups at query time: read from the database (staff edit them in the admin), kept in
the shared cache until one changes, so an edit reaches every process's next search.

Why here and not in the engine's FT.SYNUPDATE: RediSearch applies a synonym group as it
indexes, and it has no command to take a term out of a group again; a shop owner who removes
a wrong synonym would see it live on until the index is rebuilt. Expanding the query instead
takes edits and deletions alike on the next search, and lets a group hold phrases ("track
pants"), which the engine's groups, one term each, cannot.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from search.filters import name_words
from search.models import SynonymGroup
from search.query.understanding import Groups
from search.query.words import tokens

CACHE_KEY = "search:synonym-groups"


def synonym_groups() -> Groups:
    """Every synonym group, as tuples of terms."""
    groups = cache.get(CACHE_KEY)
    if groups is None:
        groups = tuple(tuple(group.term_list()) for group in SynonymGroup.objects.all())
        cache.set(CACHE_KEY, groups, timeout=86_400)  # every shared key has a time to live
    return groups


def forget_groups(**kwargs: Any) -> None:
    """A group was saved or deleted: the next search reads them afresh (a signal receiver)."""
    cache.delete(CACHE_KEY)


@dataclass(frozen=True)
class Thesaurus:
    """The groups by their terms' words (singular, lower case): each term's companions."""

    companions: dict[tuple[str, ...], tuple[str, ...]]
    longest: int

    def expand(self, query: str) -> list[str]:
        """The companions of every term that ``query`` says, each once, not those it says itself;
        in plain words (letters, digits), each a phrase."""
        said = tokens(query)
        found: dict[str, None] = {}
        for size in range(min(len(said), self.longest), 0, -1):
            for start in range(len(said) - size + 1):
                for term in self.companions.get(tuple(said[start:start + size]), ()):
                    found.setdefault(term)
        own = set(said)
        return [term for term in found if not set(tokens(term)) <= own]

    @functools.cached_property
    def words(self) -> frozenset[str]:
        """Every word of every term: a shopper's word, never a misspelling."""
        return frozenset(word for term in self.companions for word in term)


@functools.lru_cache(maxsize=8)
def thesaurus(groups: Groups) -> Thesaurus:
    companions: dict[tuple[str, ...], tuple[str, ...]] = {}
    for group in groups:
        phrases = [" ".join(name_words(term)) for term in group]
        for term, phrase in zip(group, phrases, strict=True):
            key = tuple(tokens(term))
            if key:
                others = tuple(p for p in phrases if p and p != phrase)
                companions[key] = tuple(dict.fromkeys(companions.get(key, ()) + others))
    return Thesaurus(companions, max((len(key) for key in companions), default=0))
