"""How results explain themselves to a shopper: a match in words, not a raw score (an RRF
score of 0.016 says nothing), and "Why this?" in plain sentences."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import get_script_prefix, reverse

register = template.Library()

KIND_WORDS = {"text": "description", "image": "photo"}


#: A product id no catalog has, to reverse a product's URL once and fill in others by formatting.
_SLOT = 987654321987


@functools.cache
def _pattern(name: str, prefix: str) -> str:
    return reverse(name, args=[_SLOT]).replace(str(_SLOT), "{}")


@register.filter
def path_for(product: Any, name: str) -> str:
    """``{% url name product.id %}``, the resolver asked once per URL name (and script prefix)
    rather than for each of the five links of each card of a page: it took a fifth of a page."""
    return _pattern(name, get_script_prefix()).format(int(product["id"] if isinstance(product, dict) else product.id))


@register.simple_tag(takes_context=True)
def product_url(context: template.Context, product: Any) -> str:
    """A card's link to its product; a search's result's link says which search and where in it
    (search analytics: the product page records the click)."""
    url = path_for(product, "storefront:detail")
    if context.get("search_id") and context.get("position"):
        url += "?" + urlencode({"sid": context["search_id"], "pos": context["position"]})
    return url


@register.filter
def match_label(product: dict[str, Any]) -> str:
    """A result's match, in words: how alike, for similar products; what matched, for a search."""
    why = product.get("explanation") or {}
    if why.get("vector"):
        return f"{_percent(product.get('score', 0.0))} alike"
    if why.get("vector_rank") and why.get("keyword_rank"):
        return "Matches your words and meaning"
    if why.get("keyword_rank"):
        return "Matches your words"
    return "Close in meaning"


@register.filter
def why_this(product: dict[str, Any]) -> str:
    """Why a result is where it is, in a sentence or two."""
    why = product.get("explanation") or {}
    if why.get("vector") == "both":
        return (f"Its photo is {_percent(why.get('image_score', 0.0))} alike and its description "
                f"{_percent(why.get('text_score', 0.0))} alike; the photo counts for "
                f"{_percent(why.get('weight', 0.5))} of the blend.")
    if why.get("vector"):
        words = KIND_WORDS.get(why["vector"], why["vector"])
        return (f"Its {words} is {_percent(product.get('score', 0.0))} alike this one's, as the "
                f"{why['vector']} model sees them ({why.get('metric', '').lower()} similarity).")
    parts = []
    if why.get("vector_rank"):
        parts.append(f"#{why['vector_rank']} closest in meaning to your search")
    if why.get("keyword_rank"):
        parts.append(f"#{why['keyword_rank']} best match for its words")
    return (" and ".join(parts) + ": the two rankings are combined.") if parts else ""


def _percent(share: float) -> str:
    return f"{round(max(0.0, min(float(share), 1.0)) * 100)}%"
