"""The words of a query as the search box compares them: lower case, singular, without the
function words that say nothing of a product."""

from __future__ import annotations

import functools

from search.filters import WORD

#: English function words: left out of keyword matching (the vector still reads the whole query),
#: and never read as an attribute's value (a brand called "And" is not what "shoes and socks" means).
#: RediSearch's own default stopword list.
STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
    "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
    "will", "with",
))


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A plural's singular, roughly: enough to match "shoes" with "shoe", "watches" with "watch"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """The words of ``text``, lower case, singular."""
    return [stem(word) for word in WORD.findall(text.lower().replace("'s", ""))]
