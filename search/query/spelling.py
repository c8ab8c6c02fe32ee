"""Misspellings: a query's words that neither the catalog nor the text model knows, and the
catalog's word one edit away (two for long words), by RediSearch's FT.SPELLCHECK over the
index's own terms.

Only unknown words are corrected: a word in the catalog's text, a synonym, or a whole word of
the text model's vocabulary (everyday English: "gym", "kicks") is what the shopper meant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import redis

from search.store.connection import text

#: Shorter words have too many neighbours one edit away ("wach": watch, wash, each...).
MIN_LENGTH = 4
#: Words this long may be two edits off; shorter ones, two edits away, are mostly other words
#: ("jeens" is two edits from "heels" as well as one from "jeans").
TWO_EDITS = 8


@dataclass(frozen=True)
class Spelling:
    """``fixes``: {misspelled word: the catalog's word}; ``typing``: the last word is the start of
    catalog words, and no word itself (neither the catalog's nor the text model's)."""

    fixes: dict[str, str] = field(default_factory=dict)
    typing: bool = False


def corrections(client: redis.Redis, index: str, words: Sequence[str], known: Callable[[str], bool],
                partial: str = "") -> Spelling:
    """The misspelled words of ``words`` (lower case, letters and digits only): those that
    ``known`` does not know, nor the catalog. ``partial`` is a word the shopper may still be
    typing: it is no misspelling when words of the catalog start with it."""
    unknown = [word for word in dict.fromkeys(words) if len(word) >= MIN_LENGTH and word.isalpha()
               and not known(word)]
    if not unknown:
        return Spelling()
    pipe = client.pipeline(transaction=False)
    pipe.execute_command("FT.SPELLCHECK", index, " ".join(unknown), "DISTANCE", 1, "DIALECT", 2)
    if partial in unknown:
        pipe.execute_command("FT.SEARCH", index, f"@search_text:{partial}*", "LIMIT", 0, 0, "DIALECT", 2)
    found = pipe.execute()
    fixes = _fixes(found[0])
    typing = partial in unknown and partial in _misspelled(found[0]) and int(found[1][0]) > 0
    if typing:
        fixes.pop(partial, None)
    longer = [word for word in unknown if word not in fixes and len(word) >= TWO_EDITS and not
              (typing and word == partial)]
    if longer:
        fixes.update(_fixes(client.execute_command("FT.SPELLCHECK", index, " ".join(longer), "DISTANCE", 2,
                                                   "DIALECT", 2)))
    return Spelling(fixes, typing)


def _misspelled(reply: list) -> set[str]:
    """The words an FT.SPELLCHECK reply names: those the index does not hold."""
    return {text(term) for _, term, _ in reply}


def _fixes(reply: list) -> dict[str, str]:
    """The most frequent term offered for each word of an FT.SPELLCHECK reply (which leaves out
    words the index holds). Terms marked ``+`` are stems, not words a shopper would read."""
    fixes = {}
    for _, term, suggestions in reply:
        candidates = [(float(score), text(suggestion)) for score, suggestion in suggestions]
        best = max(((score, word) for score, word in candidates if not word.startswith("+")), default=None)
        if best is not None and best[0] > 0:
            fixes[text(term)] = best[1]
    return fixes
