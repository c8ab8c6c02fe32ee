"""Misspellings: a query's words that neither the catalog nor the text model knows, and the
catalog's word one edit away (two for long words), by RediSearch's FT.SPELLCHECK over the
index's own terms.

Only unknown words are corrected: a word in the catalog's text, a synonym, or a whole word of
the text model's vocabulary (everyday English: "gym", "kicks") is what the shopper meant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import redis

from search.store.connection import text

#: Shorter words have too many neighbours one edit away ("wach": watch, wash, each...).
MIN_LENGTH = 4
#: Words this long may be two edits off; shorter ones, two edits away, are mostly other words
#: ("jeens" is two edits from "heels" as well as one from "jeans").
TWO_EDITS = 8


def corrections(client: redis.Redis, index: str, words: Sequence[str], known: Callable[[str], bool],
                partial: str = "") -> dict[str, str]:
    """{misspelled word: the catalog's word} for the words of ``words`` (lower case, letters
    and digits only) that ``known`` does not know. ``partial`` is a word the shopper may still be
    typing: it is no misspelling when words of the catalog start with it."""
    unknown = [word for word in dict.fromkeys(words) if len(word) >= MIN_LENGTH and word.isalpha()
               and not known(word)]
    if partial in unknown and int(client.execute_command("FT.SEARCH", index, f"@search_text:{partial}*",
                                                         "LIMIT", 0, 0, "DIALECT", 2)[0]):
        unknown.remove(partial)
    if not unknown:
        return {}
    fixes = _spellcheck(client, index, unknown, 1)
    longer = [word for word in unknown if word not in fixes and len(word) >= TWO_EDITS]
    if longer:
        fixes.update(_spellcheck(client, index, longer, 2))
    return fixes


def _spellcheck(client: redis.Redis, index: str, words: list[str], distance: int) -> dict[str, str]:
    """The most frequent term within ``distance`` edits of each word (FT.SPELLCHECK leaves out
    words the index holds). Terms marked ``+`` are stems, not words a shopper would read."""
    reply = client.execute_command("FT.SPELLCHECK", index, " ".join(words), "DISTANCE", distance, "DIALECT", 2)
    fixes = {}
    for _, term, suggestions in reply:
        candidates = [(float(score), text(suggestion)) for score, suggestion in suggestions]
        best = max(((score, word) for score, word in candidates if not word.startswith("+")), default=None)
        if best is not None and best[0] > 0:
            fixes[text(term)] = best[1]
    return fixes
