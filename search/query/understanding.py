"""Reading a shopper's query: which gender, colour, product type, usage or brand it names (the
attribute table's ``understood`` attributes), and which catalog colours a shade it names passes for.

The vocabulary is the catalog's own (the tag values in the live index), so this works on any
catalog without a word list tuned to one. Gender words get a few everyday synonyms ("ladies",
"men's"); the others are matched as written, singular or plural, with or
without spaces or hyphens ("t-shirt" finds "Tshirts").
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis

from catalog.attributes import BY_PARAMETER, TAGS
from search.filters import WORD
from search.query.colours import around, read_shade
from search.query.words import STOPWORDS, stem, tokens
from search.store.redisearch import _pairs

VOCABULARY_SECONDS = 60.0
T = TypeVar("T")
GENDER_SYNONYMS = {
    "men": ("men", "man", "mens", "male", "males", "gents", "gentlemen", "him"),
    "women": ("women", "woman", "womens", "ladies", "lady", "female", "females", "her"),
    "boys": ("boys", "boy"),
    "girls": ("girls", "girl"),
    "unisex": ("unisex",),
}
#: Words after which a query speaks of what the shopper has (:func:`_owned`). Not "her": "for her" is a gender.
POSSESSIVES = frozenset(("my", "your", "our", "their", "his"))
#: Words that start a clause about what the shopper has, and the longest phrase read as had.
RELATIVES = frozenset(("who", "whose", "which", "where", "when"))
OWNED_WORDS = 3
#: Words that join two values of one attribute into either ("mascara and eyeliner", "black or white").
EITHER = frozenset(("and", "or"))
#: The shortest value read from a query: "W" or "ID" may be brands, but not what a shopper typing
#: them usually means.
MIN_VALUE_LENGTH = 3
#: Synonym groups, each a tuple of terms (:func:`search.query.synonyms.synonym_groups`).
Groups = tuple[tuple[str, ...], ...]
#: The attributes understood (the attribute table's ``understood``); gender has its synonyms.
UNDERSTOOD = tuple(attribute for attribute in TAGS if attribute.understood)
#: The attributes whose values a query is read for: by its words, or by its need (``glossed``).
READ = tuple(attribute for attribute in TAGS if attribute.understood or attribute.glossed)


@dataclass(frozen=True)
class Understanding:
    """Attribute values a query names, with the words that named them."""

    values: dict[str, str] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)
    #: The word being typed, and the word of the value it was read as ({"sungl": "sunglasses"}).
    completed: dict[str, str] = field(default_factory=dict)
    #: Other values read as well as ``values``' (which is the nearest): colours as near to a shade
    #: (:mod:`search.query.colours`), values as near to a need (:mod:`search.query.intent`).
    also: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Values that pass less well, read as well when ``values`` and ``also`` leave a page short
    #: (colours farther from a shade).
    farther: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def meant(self) -> frozenset[str]:
        """The attributes read from the query's need rather than named by its words: the less sure."""
        return frozenset(self.values) - frozenset(self.words)


def understand(query: str, vocabulary: dict[str, list[str]], groups: Groups = (), partial: str = "",
               whole: bool = False) -> Understanding:
    """The attribute values ``query`` names, in the catalog's words (``vocabulary``) or in a
    synonym of them (``groups``: a group's term that spells a value makes its other terms
    spell it too: "sweatpants" names "Track Pants"). ``partial``, the query's last word, may be
    the start of a value's last word ("men formal sho": Formal Shoes) where only one value of
    the attribute starts so; alone, only where it is no word in itself (not ``whole``: "night" is
    no start of "Nightdress")."""
    words_said = tokens(query)
    # What the shopper has ("my trousers") is no product they look for: its words read nothing.
    owned = _owned(words_said)
    words_read = ["" if i in owned else word for i, word in enumerate(words_said)]
    values: dict[str, str] = {}
    words: dict[str, str] = {}
    taken: dict[int, str] = {}  # query word position -> the attribute that read it
    genders = {value.lower(): value for value in vocabulary.get("gender", [])}
    for canonical, synonyms in GENDER_SYNONYMS.items():
        said = [i for i, t in enumerate(words_said) if t in {stem(s) for s in synonyms}]
        if said and canonical in genders:
            values["gender"], words["gender"] = genders[canonical], words_said[said[0]]
            taken.update((i, "gender") for i in said)
            break
    # Each attribute's best reading; then the longest readings first, each word read by one
    # attribute only ("black" is a colour before it is a brand; "red tape" a brand before
    # "red" is a colour). An attribute and the one it narrows may share words.
    partial = partial.lower() if words_said and words_said[-1] == stem(partial.lower()) else ""
    readings = [(attribute, match) for attribute in UNDERSTOOD if attribute.parameter != "gender"
                if (match := _longest_match(words_read, vocabulary.get(attribute.parameter, []), groups,
                                            partial, whole))]
    related = {frozenset((a.parameter, a.narrows)) for a in UNDERSTOOD if a.narrows}
    completed: dict[str, str] = {}
    for attribute, (value, start, size, completion) in sorted(readings, key=lambda reading: -reading[1][2]):
        positions = range(start, start + size)
        if any(i in taken and frozenset((taken[i], attribute.parameter)) not in related for i in positions):
            continue
        values[attribute.parameter], words[attribute.parameter] = value, " ".join(words_said[start:start + size])
        taken.update((i, attribute.parameter) for i in positions if i not in taken)
        if completion:
            completed[partial] = completion
    also: dict[str, tuple[str, ...]] = {}
    farther: dict[str, tuple[str, ...]] = {}
    # "mascara and eyeliner": values of one attribute joined by "and" or "or" are read as either.
    for attribute in UNDERSTOOD:
        if attribute.parameter in words and attribute.parameter != "gender":
            spellings = _spellings(tuple(vocabulary.get(attribute.parameter, [])), groups)
            mine = {i for i, said in taken.items() if said == attribute.parameter}
            free = {i for i in range(len(words_said))
                    if i not in taken or frozenset((taken[i], attribute.parameter)) in related}
            more = _joined(words_read, mine, free, spellings)
            if more:
                candidates = vocabulary[attribute.parameter]
                also[attribute.parameter] = tuple(dict.fromkeys(candidates[order] for order, _, _ in more
                                                                if candidates[order] != values[attribute.parameter]))
                words[attribute.parameter] = " ".join(
                    [words[attribute.parameter], *(" ".join(words_said[at:at + size]) for _, at, size in more)])
                taken.update((i, attribute.parameter) for _, at, size in more for i in range(at, at + size))
    # A shade no value of the catalog names ("scarlet") is the catalog's nearest colour.
    for attribute in UNDERSTOOD:
        if attribute.shades and attribute.parameter not in values:
            free = set(range(len(words_said))) - set(taken) - owned
            shade = read_shade(words_said, free, tuple(vocabulary.get(attribute.parameter, [])))
            if shade:
                (value, *others), positions = shade.near, range(shade.start, shade.start + shade.size)
                values[attribute.parameter], also[attribute.parameter] = value, tuple(others)
                farther[attribute.parameter] = shade.farther
                words[attribute.parameter] = " ".join(words_said[i] for i in positions)
                taken.update((i, attribute.parameter) for i in positions)
    # A catalog colour said outright fills a short page from the colours nearest it, as a shade does.
    for attribute in UNDERSTOOD:
        if attribute.shades and attribute.parameter in values and attribute.parameter not in farther:
            read = {values[attribute.parameter], *also.get(attribute.parameter, ())}
            farther[attribute.parameter] = tuple(
                colour for colour in around(values[attribute.parameter], tuple(vocabulary.get(attribute.parameter, [])))
                if colour not in read)
    # A narrower attribute says the broader one (an article type, its sub category).
    for attribute in UNDERSTOOD:
        if attribute.narrows and attribute.parameter in values:
            values.pop(attribute.narrows, None)
            words.pop(attribute.narrows, None)
    return Understanding({a.parameter: values[a.parameter] for a in UNDERSTOOD if a.parameter in values}, words,
                         completed, {a: v for a, v in also.items() if v}, {a: v for a, v in farther.items() if v})


def _longest_match(words: list[str], candidates: list[str], groups: Groups, partial: str = "",
                   whole: bool = False) -> tuple[str, int, int, str] | None:
    """The candidate value spelled out by the most query words: (value, first word, words, and
    the word ``partial`` was completed to, or "").

    Of readings as long, the one of the value listed first wins, at its first place. A reading
    that ends in the word being typed counts where no whole words spell a value as long."""
    spellings = _spellings(tuple(candidates), groups)
    for size in range(min(len(words), max(spellings.longest, 1)), 0, -1):
        found = []
        for start in range(len(words) - size + 1):
            found.extend((order, start) for order in spellings.orders(tuple(words[start:start + size])))
        if found:
            order, start = min(found)
            return candidates[order], start, size, ""
        if partial and len(partial) >= 3 and (size > 1 or not whole):
            head = tuple(words[len(words) - size:-1])
            starting = {(order, last) for last, order in spellings.heads.get(head, ())
                        if last.startswith(partial) and last != partial}
            if len({order for order, _ in starting}) == 1:
                order, last = min(starting)
                return candidates[order], len(words) - size, size, last
    return None


def _owned(words: list[str]) -> set[int]:
    """The places of the words that follow a possessive ("my", "your"...): what the shopper has,
    not what they look for ("hold up my trousers", "keep my neck warm", "shoes to match my red
    dress"). The phrase ends at a function word or a relative one ("my girlfriend who loves
    jewellery"), and has ``OWNED_WORDS`` at most."""
    owned: set[int] = set()
    for place, word in enumerate(words):
        if word in POSSESSIVES:
            for after in range(place + 1, min(place + 1 + OWNED_WORDS, len(words))):
                if words[after] in STOPWORDS or words[after] in POSSESSIVES or words[after] in RELATIVES:
                    break
                owned.add(after)
    return owned


def _joined(words: list[str], mine: set[int], free: set[int], spellings: _Spellings) -> list[tuple[int, int, int]]:
    """The further values of an attribute that ``words`` name joined to its reading (at ``mine``)
    by "and" or "or" ("eyeliner and mascara", "black or white"), each as (its place in the
    vocabulary, its first word, its number of words); read at ``free`` positions only."""
    mine, free = set(mine), set(free) - set(mine)

    def linked(first: int, last: int) -> bool:
        """Whether words ``first`` to ``last`` (not included) are joined to the attribute's words."""
        left, right = first - 1, last
        while left in free and words[left] in EITHER:
            left -= 1
        while right in free and words[right] in EITHER:
            right += 1
        return (left < first - 1 and left in mine) or (right > last and right in mine)

    found: list[tuple[int, int, int]] = []
    grew = True
    while grew:
        grew = False
        for start in range(len(words)):
            reading = _value_at(words, start, free, spellings)
            if reading is not None and linked(start, start + reading[1]):
                found.append((reading[0], start, reading[1]))
                mine.update(range(start, start + reading[1]))
                free.difference_update(range(start, start + reading[1]))
                grew = True
    return found


def _value_at(words: list[str], start: int, free: set[int], spellings: _Spellings) -> tuple[int, int] | None:
    """The longest value whose words begin at ``start``, all at ``free`` positions: (its place in
    the vocabulary, its number of words)."""
    for size in range(min(len(words) - start, spellings.longest), 0, -1):
        if not all(i in free for i in range(start, start + size)):
            continue
        if orders := spellings.orders(tuple(words[start:start + size])):
            return min(orders), size
    return None


@dataclass(frozen=True)
class _Spellings:
    """A vocabulary's values by their words and by their words run together ("t shirt" and
    "tshirt" both spell "Tshirts"): each maps to (the value's place in the list, its number of words)."""

    exact: dict[tuple[str, ...], tuple[int, int]]
    joined: dict[str, tuple[int, int]]
    longest: int
    #: The values by their words but the last: (their last word as written, lower case; their place).
    heads: dict[tuple[str, ...], list[tuple[str, int]]]

    def orders(self, window: tuple[str, ...]) -> list[int]:
        """The places of the values ``window`` spells, by its words or by them run together,
        where it has three words at most or no more than the value's own."""
        return [match[0] for match in (self.exact.get(window), self.joined.get("".join(window)))
                if match is not None and len(window) <= max(3, match[1])]


@functools.lru_cache(maxsize=32)
def _spellings(candidates: tuple[str, ...], groups: Groups) -> _Spellings:
    """Indexed once per vocabulary and synonym groups (they change at most once a minute, and
    when staff edit a group), so that reading a query costs a lookup per run of its words, not
    a pass over every brand the catalog has."""
    exact: dict[tuple[str, ...], tuple[int, int]] = {}
    joined: dict[str, tuple[int, int]] = {}
    heads: dict[tuple[str, ...], list[tuple[str, int]]] = {}
    longest = 0
    for order, value in enumerate(candidates):
        wanted = tokens(value)
        if len("".join(wanted)) < MIN_VALUE_LENGTH or all(word in STOPWORDS for word in wanted):
            continue
        heads.setdefault(tuple(wanted[:-1]), []).append((WORD.findall(value.lower())[-1], order))
        exact.setdefault(tuple(wanted), (order, len(wanted)))
        joined.setdefault("".join(wanted), (order, len(wanted)))
        longest = max(longest, 3, len(wanted))
    for group in groups:
        terms = [tuple(tokens(term)) for term in group]
        spelled = [exact.get(term) or joined.get("".join(term)) for term in terms]
        value = next((found for found in spelled if found is not None), None)
        if value is None:
            continue
        for term, found in zip(terms, spelled, strict=True):
            if found is None and term:
                exact.setdefault(term, (value[0], len(term)))
                joined.setdefault("".join(term), (value[0], len(term)))
                longest = max(longest, len(term))
    return _Spellings(exact, joined, longest, heads)


_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[float, Any]] = {}


def _kept(index: str, what: str, fetch: Callable[[], T]) -> T:
    """``fetch()``'s answer about ``index``, asked again once it is a minute old."""
    with _lock:
        cached = _cache.get((index, what))
        if cached and time.monotonic() - cached[0] < VOCABULARY_SECONDS:
            return cached[1]
    found = fetch()
    with _lock:
        _cache[(index, what)] = (time.monotonic(), found)
    return found


def vocabulary(client: redis.Redis, index: str) -> dict[str, list[str]]:
    """The tag values of the attributes a query is read for in ``index`` (FT.TAGVALS), cached a minute."""

    def fetch() -> dict[str, list[str]]:
        pipe = client.pipeline(transaction=False)
        for attribute in READ:
            pipe.execute_command("FT.TAGVALS", index, attribute.field)
        return {attribute.parameter: sorted(v.decode() if isinstance(v, bytes) else v for v in values)
                for attribute, values in zip(READ, pipe.execute(), strict=True)}

    return _kept(index, "vocabulary", fetch)


def broader(client: redis.Redis, index: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """For each understood attribute that narrows another, the values of the broader one that each
    of its values lies under, in lower case as the tags ({"article_type": {"bracelet": ("jewellery",)}}),
    from ``index`` (FT.AGGREGATE), cached a minute."""
    narrowing = [attribute for attribute in UNDERSTOOD if attribute.narrows]

    def fetch() -> dict[str, dict[str, tuple[str, ...]]]:
        pipe = client.pipeline(transaction=False)
        for attribute in narrowing:
            fields = (f"@{attribute.field}", f"@{BY_PARAMETER[attribute.narrows].field}")
            pipe.execute_command("FT.AGGREGATE", index, "*", "GROUPBY", 2, *fields, "DIALECT", 2)
        found: dict[str, dict[str, tuple[str, ...]]] = {}
        for attribute, reply in zip(narrowing, pipe.execute(), strict=True):
            under: dict[str, set[str]] = {}
            for row in reply[1:]:
                pairs = _pairs(row)
                value, wider = pairs.get(attribute.field), pairs.get(BY_PARAMETER[attribute.narrows].field)
                if value and wider:
                    under.setdefault(value.lower(), set()).add(wider.lower())
            found[attribute.parameter] = {value: tuple(sorted(widers)) for value, widers in under.items()}
        return found

    return _kept(index, "broader", fetch)
