"""The shop's rules at query time: which apply to a query, and what they ask of its results.

Rules are read from the database (staff write them in the admin or through the API) and kept in
the shared cache until one changes, as synonym groups are: a write reaches every process's next
search, and nothing else is forgotten (kept answers of other queries stay). Whether a rule has
started or ended is decided at each search, so a rule's end needs no write at all.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from search.models import Rule
from search.query.words import tokens

CACHE_KEY = "search:rules"


@dataclass(frozen=True)
class Boost:
    """Results whose ``parameter`` attribute is ``value`` have their score multiplied by ``weight``."""

    parameter: str
    value: str
    weight: float

    @property
    def said(self) -> str:
        """What a result it moved says of it."""
        return f"boosted: {self.parameter.replace('_', ' ')} {self.value}" if self.weight >= 1 else \
            f"buried: {self.parameter.replace('_', ' ')} {self.value}"


@dataclass(frozen=True)
class _Kept:
    """A rule as searches read it: its words in normal form and what it asks."""

    id: int
    words: tuple[str, ...]
    exact: bool
    pin: tuple[str, ...]
    hide: tuple[str, ...]
    boosts: tuple[Boost, ...]
    starts: datetime.datetime | None
    ends: datetime.datetime | None

    def applies(self, said: tuple[str, ...], now: datetime.datetime) -> bool:
        if (self.starts and now < self.starts) or (self.ends and now >= self.ends):
            return False
        return said == self.words if self.exact else set(self.words) <= set(said)


@dataclass(frozen=True)
class Steering:
    """What the rules that apply to a query ask: ``pinned`` first, in order; ``hidden`` never;
    ``boosts`` on the scores. ``rules``: the ids of those rules."""

    rules: tuple[int, ...] = ()
    pinned: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    boosts: tuple[Boost, ...] = ()


def normal_form(query: str) -> tuple[str, ...]:
    """A query's words as rules compare them: lower case, singular, a hyphen's words run
    together ("T-Shirts for MEN" is "tshirt for men")."""
    return tuple(tokens(query.replace("-", "")))


def steering(query: str, rules: Iterable[_Kept] | None = None) -> Steering:
    """What the rules (the shop's, unless ``rules`` says) ask of ``query`` (as typed: before any
    spelling correction) now.

    Every rule that applies does: pins of exact rules before those of contains rules, newer
    rules' first; a product pinned and hidden is hidden."""
    said = normal_form(query)
    now = timezone.now()
    found = sorted((rule for rule in (_rules() if rules is None else rules) if rule.applies(said, now)),
                   key=lambda rule: (not rule.exact, -rule.id))
    if not found:
        return Steering()
    hidden = tuple(dict.fromkeys(pid for rule in found for pid in rule.hide))
    pinned = tuple(pid for pid in dict.fromkeys(pid for rule in found for pid in rule.pin) if pid not in hidden)
    return Steering(tuple(rule.id for rule in found), pinned, hidden,
                    tuple(boost for rule in found for boost in rule.boosts))


def preview(rule: Rule) -> tuple[Steering, Steering]:
    """What the shop's other rules ask of ``rule``'s query, and what they ask with ``rule`` too,
    as if it were on now: the admin shows the results both ways before a rule goes live."""
    others = [kept for kept in _rules() if kept.id != rule.id]
    now = _kept(rule, always=True)
    return steering(rule.query, others), steering(rule.query, [*others, now])


def _rules() -> tuple[_Kept, ...]:
    """Every enabled rule that has not ended, from the shared cache or the database."""
    rules = cache.get(CACHE_KEY)
    if rules is None:
        rules = tuple(_kept(rule) for rule in Rule.objects.filter(enabled=True).exclude(ends__lte=timezone.now()))
        cache.set(CACHE_KEY, rules, timeout=3600)  # an end passed meanwhile is checked at each search
    return rules


def _kept(rule: Rule, always: bool = False) -> _Kept:
    """``rule`` as searches read it; ``always``: whatever its dates say."""
    return _Kept(rule.id or 0, normal_form(rule.query), rule.match == Rule.Match.EXACT, tuple(rule.pin),
                 tuple(rule.hide), tuple(Boost(b["attribute"], b["value"], float(b["weight"])) for b in rule.boost),
                 None if always else rule.starts, None if always else rule.ends)


def forget_rules(**kwargs: Any) -> None:
    """A rule was saved or deleted: the next search reads them afresh (a signal receiver)."""
    cache.delete(CACHE_KEY)
