"""What a shopper narrows results by, as one value: :class:`Filters`.

It holds only the choices. Reading them from request parameters is the storefront's
(:mod:`storefront.filtering`); turning them into the index's query language is the index
store's (:mod:`search.store.compiler`); the database's, :mod:`search.query.catalog_grid`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

WORD = re.compile(r"\w+")


def normal_form(query: str) -> str:
    """A query as one query, whatever its case and spacing ("Black  Watch" is "black watch"):
    for counting and suggesting searches."""
    return " ".join(query.lower().split())


def name_words(text: str) -> tuple[str, ...]:
    """The words of ``text`` as the index's tokenizer sees them (lower case, no punctuation)."""
    return tuple(dict.fromkeys(word.lower() for word in WORD.findall(text)))


def unprintable(value: str) -> bool:
    """Whether ``value`` holds a control or other invisible character: no catalog value holds
    them, the query parser does not take them even escaped, and PostgreSQL cannot store a NUL."""
    return any(unicodedata.category(ch).startswith("C") for ch in value)


#: (lowest, highest) of a range; None for no bound.
Bounds = tuple[float | None, float | None]


@dataclass(frozen=True)
class Filters:
    """Pre-filters for a query. Values within one tag parameter are OR'ed; everything else is
    AND'ed. Tags and ranges are keyed by the attributes' query parameters (``category``,
    ``price``); a range's bounds are inclusive."""

    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    excluded: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ranges: dict[str, Bounds] = field(default_factory=dict)
    name: tuple[str, ...] = ()
    near: tuple[float, float] | None = None  # (latitude, longitude)
    radius_km: float = 10.0
    min_score: float | None = None

    def pairs(self) -> list[tuple[str, Any]]:
        """These filters as (query parameter, value) pairs: for links and forms that keep them,
        and as their one canonical form (kept answers are keyed on it)."""
        pairs: list[tuple[str, Any]] = [(p, v) for p, values in self.tags.items() for v in values]
        pairs += [(f"not_{p}", v) for p, values in self.excluded.items() for v in values]
        if self.name:
            pairs.append(("name", " ".join(self.name)))
        for parameter, bounds in self.ranges.items():
            pairs += [(f"{parameter}_{side}", _plain(bound)) for side, bound in zip(("min", "max"), bounds, strict=True)
                      if bound is not None]
        if self.min_score is not None:
            pairs.append(("min_score", self.min_score))
        if self.near is not None:
            pairs += [("lat", self.near[0]), ("lon", self.near[1]), ("radius_km", self.radius_km)]
        return pairs

    def as_query(self) -> str:
        """These filters as a query string, for links that keep them."""
        return urlencode(self.pairs())

    def bound(self, parameter: str, side: int) -> float | None:
        """A range's lowest (``side`` 0) or highest (1) bound, or None."""
        return self.ranges.get(parameter, (None, None))[side]


def _plain(number: float) -> float | int:
    """A bound as a person writes it: 2012, not 2012.0."""
    return int(number) if float(number).is_integer() else number
