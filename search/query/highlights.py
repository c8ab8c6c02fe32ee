"""Highlights: a result's name and description with the words the search matched in ``<mark>``.

The words are the query's as typed, as corrected, and its synonyms', compared as the search
compares them (lower case, singular), so "sunglases" marks "Sunglasses"; the word the shopper is
still typing marks the words it starts. Everything else is HTML-escaped: a highlight is safe to
put in a page as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import Any

from search.filters import WORD
from search.query.words import STOPWORDS, stem, tokens

#: A long description is shown around its first match, this many characters either side.
CONTEXT = 120


@dataclass(frozen=True)
class Marks:
    """The words (singular, lower case) a search matches, and the start of a word being typed."""

    words: frozenset[str]
    partial: str = ""

    @classmethod
    def of(cls, *texts: str | Iterable[str], partial: str = "") -> Marks:
        said = " ".join(text if isinstance(text, str) else " ".join(text) for text in texts)
        return cls(frozenset(word for word in tokens(said) if word not in STOPWORDS), partial.lower())

    def matches(self, word: str) -> bool:
        lower = word.lower()
        return stem(lower) in self.words or (bool(self.partial) and lower.startswith(self.partial))

    def mark(self, text: str) -> str:
        """``text`` escaped, its matched words marked."""
        parts, last = [], 0
        for word in WORD.finditer(text):
            if self.matches(word.group()):
                parts += [escape(text[last:word.start()]), f"<mark>{escape(word.group())}</mark>"]
                last = word.end()
        parts.append(escape(text[last:]))
        return "".join(parts)

    def highlight(self, document: dict[str, Any]) -> dict[str, str]:
        """``{"name": ...}``, and ``"description"`` where the description matched: a long one
        cut around its first match."""
        found = {"name": self.mark(str(document.get("name") or ""))}
        description = str(document.get("description") or "")
        if description:
            start = next((w.start() for w in WORD.finditer(description) if self.matches(w.group())), -1)
            if start >= 0:
                begin = max(0, start - CONTEXT)
                begin = description.rfind(" ", 0, begin) + 1 if begin else 0
                end = description.find(" ", start + CONTEXT)
                end = len(description) if end < 0 else end
                before, after = ("… " if begin else ""), (" …" if end < len(description) else "")
                found["description"] = before + self.mark(description[begin:end]) + after
        return found
