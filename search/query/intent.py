"""Reading a shopper's need or occasion: "keep the sun out of my eyes" is Sunglasses, "bottoms"
Bottomwear, "something for the office" Formal, though the query names none of them.

Zero-shot: the text model compares the query with a short gloss of every value of the
attributes that have them (the attribute table's ``glossed``: product types, categories,
usage), in the shop's words (:class:`search.models.Gloss`, edited in the admin; a value with
no gloss is read by its own name, so a shop's new value is read from the start). A value is
read where its gloss is near enough to the query, or nearly so and far nearer than any other
value's, with the few others of its attribute as near ("clothes to sleep in": Night suits and
Nightdress); where many are as near, the attribute is not read. Of an attribute and those it
narrows (product type, sub category, category), the one whose gloss is nearest is the one read.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from django.core.cache import cache

from catalog.attributes import BY_PARAMETER, TAGS
from search.kinds import BY_NAME
from search.models import Gloss

CACHE_KEY = "search:glosses"
#: The cosine similarity of the query and a gloss that reads the gloss's value, at least; the
#: values within ``BAND`` of the nearest are read with it, where they are ``MOST`` at most.
SIMILAR = 0.52
BAND = 0.05
MOST = 3
#: Or a value is read where its gloss is ``FLOOR`` near at least and ``MARGIN`` ahead of every
#: value not read with it: a clear first ("shirt for a job interview": Formal, 0.46 against 0.20).
FLOOR = 0.45
MARGIN = 0.15
#: Where the query's words named a value of the family (its product type, say) whose gloss is
#: not near the query (under ``SIMILAR``), how far the need's value must be ahead of it to be
#: read in its place ("keep the sun out of my eyes" names the category Eyes, and means Sunglasses).
OVERRIDE = 0.25
GLOSSED = tuple(attribute for attribute in TAGS if attribute.glossed)


def _families() -> tuple[tuple[str, ...], ...]:
    """The glossed attributes, grouped with those they narrow ((article_type, sub_category,
    master_category), (usage,)): one value is read per group."""
    families: list[list[str]] = []
    for attribute in GLOSSED:
        if any(other.narrows == attribute.parameter for other in GLOSSED):
            continue  # a broader one: its narrowest attribute starts its family
        family, step = [attribute.parameter], attribute
        while step.narrows and BY_PARAMETER[step.narrows].glossed:
            step = BY_PARAMETER[step.narrows]
            family.append(step.parameter)
        families.append(family)
    return tuple(tuple(family) for family in families)


FAMILIES = _families()


def glosses() -> dict[str, dict[str, str]]:
    """Every gloss, by attribute (its parameter) and value in lower case (as the index's tags)."""
    found = cache.get(CACHE_KEY)
    if found is None:
        found = {}
        for attribute, value, text in Gloss.objects.values_list("attribute", "value", "text"):
            found.setdefault(attribute, {})[value.lower()] = text
        cache.set(CACHE_KEY, found, timeout=86_400)  # every shared key has a time to live
    return found


def forget_glosses(**kwargs: Any) -> None:
    """A gloss was saved or deleted: the next search reads them afresh (a signal receiver)."""
    cache.delete(CACHE_KEY)


@functools.lru_cache(maxsize=16)
def _vectors(texts: tuple[str, ...]) -> np.ndarray:
    """The glosses' text vectors, computed once per process for each attribute's set of glosses."""
    return BY_NAME["text"].embedder().embed(list(texts))


def intended(family: tuple[str, ...], vector: np.ndarray, vocabulary: dict[str, list[str]],
             read: dict[str, str], over: dict[str, dict[str, tuple[str, ...]]]) -> tuple[str, tuple[str, ...]] | None:
    """The attribute of ``family`` and its values (nearest first) that a query's need (its text
    ``vector``) means; None where it is unsure. ``read``: what the query's words named, which a
    need replaces only where it reads far better, or where it narrows it: where every value the
    need reads lies under it (``over``: the broader values each value lies under), "a bag for
    college" is Backpacks, a kind of Bags."""
    known = glosses()
    similarity: dict[str, dict[str, float]] = {}
    best: tuple[float, str, tuple[str, ...]] | None = None
    for attribute in family:
        values = vocabulary.get(attribute, [])
        if not values:
            continue
        texts = tuple(known.get(attribute, {}).get(value, value) for value in values)
        scores = _vectors(texts) @ vector
        similarity[attribute] = dict(zip(values, scores.tolist(), strict=True))
        order = np.argsort(-scores)
        top = float(scores[order[0]])
        near = tuple(values[i] for i in order[:MOST + 1] if top - scores[i] <= BAND)
        runner_up = float(scores[order[len(near)]]) if len(values) > len(near) else 0.0
        clear = top >= FLOOR and top - runner_up >= MARGIN
        if (top >= SIMILAR or clear) and len(near) <= MOST and (best is None or top > best[0]):
            best = (top, attribute, near)
    if best is None:
        return None
    named = [attribute for attribute in family if attribute in read]
    if named and all(_under(best[1], value, attribute, read[attribute], over)
                     for attribute in named for value in best[2]):
        return best[1], best[2]
    said = [similarity.get(attribute, {}).get(read[attribute], best[0]) for attribute in named]
    if any(fit >= SIMILAR or best[0] - fit < OVERRIDE for fit in said):
        return None
    return best[1], best[2]


def _under(attribute: str, value: str, wider: str, wide: str, over: dict[str, dict[str, tuple[str, ...]]]) -> bool:
    """Whether ``attribute``'s ``value`` lies under ``wider``'s ``wide`` value, a step or more
    above it (a product type under its sub category, or under that one's category)."""
    values = {value}
    while BY_PARAMETER[attribute].narrows:
        values = {above for said in values for above in over.get(attribute, {}).get(said, ())}
        attribute = BY_PARAMETER[attribute].narrows
        if attribute == wider:
            return wide in values
    return False
