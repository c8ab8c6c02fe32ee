"""Colours as shoppers say them: a shade the catalog never names ("scarlet", "wine", "camel",
"rose gold") read as the catalog's nearest colour.

Nearest by the colours' values, not by a list of pairs: every name in the lexicon
(``search/data/colours.tsv``, about a thousand names with their sRGB values) and every colour the
catalog uses are points in CIELAB, and a shade is read as the catalog colours near it by
CIEDE2000 (:func:`nearest`). A shop's new colour needs no work where the lexicon knows its name (or, for
"Coffee Brown", its first word); one it does not know is still read by its own name, never as
the nearest of a shade.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

from coloraide import Color

from search.query.words import tokens

LEXICON = Path(__file__).resolve().parent.parent / "data" / "colours.tsv"


@functools.cache
def lexicon() -> dict[tuple[str, ...], str]:
    """Each colour name, as the words a query has for it ("off white": ("off", "white")), and its
    value (``#rrggbb``; "" for a name that is no one colour, such as "multi")."""
    names: dict[tuple[str, ...], str] = {}
    for line in LEXICON.read_text().splitlines():
        if line and not line.startswith("#"):
            name, value, _source = line.split("\t")
            names.setdefault(tuple(tokens(name)), value)
    return names


def value_of(colour: str) -> str:
    """A catalog colour's value: its name's in the lexicon, else its first word's ("Coffee
    Brown": coffee); "" when the lexicon knows neither."""
    words = tuple(tokens(colour))
    return lexicon().get(words) or (lexicon().get(words[:1], "") if len(words) > 1 else "")


#: CIEDE2000 distances: catalog colours this near a shade all pass for it ("camel": Tan, Taupe,
#: Khaki...); those up to ``FARTHEST`` pass less well (read when the near ones leave a page short);
#: a shade whose nearest catalog colour is farther than ``FARTHEST`` is not read.
NEAR = 15.0
FARTHEST = 25.0


@dataclass(frozen=True)
class Shade:
    """The catalog colours a shade passes for, nearest first."""

    #: Every colour within ``NEAR``, or else the nearest alone.
    near: tuple[str, ...]
    #: The other colours within ``FARTHEST``.
    farther: tuple[str, ...]
    #: Where the shade's words are in the query: the first, and how many.
    start: int = 0
    size: int = 0


@functools.lru_cache(maxsize=4096)
def nearest(shade: tuple[str, ...], colours: tuple[str, ...]) -> Shade | None:
    """The catalog colours (of ``colours``) that pass for the lexicon's ``shade``, by their
    distance in CIELAB (CIEDE2000); None when the shade or no catalog colour has a value, or the
    nearest is farther than ``FARTHEST``."""
    value = lexicon().get(shade)
    if not value:
        return None
    distances = _by_distance(value, colours)
    if not distances or distances[0][0] > FARTHEST:
        return None
    near = tuple(colour for distance, colour in distances if distance <= NEAR) or (distances[0][1],)
    return Shade(near, tuple(colour for distance, colour in distances if distance <= FARTHEST and colour not in near))


@functools.lru_cache(maxsize=4096)
def around(colour: str, colours: tuple[str, ...]) -> tuple[str, ...]:
    """The catalog ``colours`` within ``FARTHEST`` of the catalog's own ``colour``, nearest first:
    what fills a page the colour alone leaves short ("charcoal trousers": Black after Charcoal)."""
    value = value_of(colour)
    if not value:
        return ()
    return tuple(other for distance, other in _by_distance(value, colours) if distance <= FARTHEST and other != colour)


def _by_distance(value: str, colours: tuple[str, ...]) -> list[tuple[float, str]]:
    """The catalog ``colours`` that have a value, with their CIEDE2000 distance from ``value``,
    nearest first."""
    said = Color(value)
    return sorted((said.delta_e(Color(found), method="2000"), colour) for colour in colours
                  if (found := value_of(colour)))


def read_shade(words: list[str], free: set[int], colours: tuple[str, ...]) -> Shade | None:
    """The longest run of ``words`` (at ``free`` positions only) that names a colour in the
    lexicon, read as the catalog ``colours`` that pass for it."""
    names = lexicon()
    for size in range(min(len(words), _longest()), 0, -1):
        for start in range(len(words) - size + 1):
            window = tuple(words[start:start + size])
            if all(i in free for i in range(start, start + size)) and window in names:
                found = nearest(window, colours)
                if found:
                    return dataclasses.replace(found, start=start, size=size)
    return None


@functools.cache
def _longest() -> int:
    """The most words a colour name has."""
    return max(map(len, lexicon()), default=0)


@functools.cache
def words() -> frozenset[str]:
    """Every word of the lexicon's names: a shopper's word, never a misspelling ("lilac")."""
    return frozenset(word for name in lexicon() for word in name)
