"""Product cards, and how results explain themselves to a shopper: a match in words, not a raw
score (an RRF score of 0.016 says nothing), and "Why this?" in plain sentences."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import jinja2
from django import template
from django.conf import settings
from django.template import engines
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from catalog.attributes import BY_PARAMETER
from search.filters import Filters
from storefront.filtering import describe

register = template.Library()

KIND_WORDS = {"text": "description", "image": "photo"}


#: A product id no catalog has, to reverse a product's URL once and fill in others by formatting.
_SLOT = 987654321987


@functools.cache
def _pattern(name: str, prefix: str) -> str:
    return reverse(name, args=[_SLOT]).replace(str(_SLOT), "{}")


@jinja2.pass_context
def path_for(context: jinja2.runtime.Context, product: Any, name: str) -> str:
    """``{% url name product.id %}`` for the cards' Jinja2 templates, the resolver asked once per
    URL name (and script prefix) rather than for each of the five links of each card of a page,
    the script prefix read once per render (:func:`_jinja`)."""
    return _pattern(name, context["script_prefix"]).format(product["id"] if isinstance(product, dict)
                                                            else product.id)


@register.simple_tag(takes_context=True)
def cards(context: template.Context, products: Iterable[Any], scored: bool = False, search_id: str = "",
          offset: int = 0) -> str:
    """A card for each product (a model or a result), ``scored`` to say how alike and why; a
    search's results (``search_id``, ``offset`` where in it they begin) say so in their links,
    for search analytics.

    Drawn by Jinja2 (``storefront/_cards.jinja``): a page's twelve cards, three Django
    includes each, were most of a similar page's CPU; Jinja2 draws them several times faster."""
    return _jinja("storefront/_cards.jinja", context, products=products, scored=scored, search_id=search_id,
                  offset=offset)


@register.simple_tag
def facets(groups: list[dict[str, Any]] | None) -> str:
    """The sidebar's facets without counts (while the index cannot be asked): the values from the database."""
    return mark_safe(engines["jinja2"].get_template("storefront/_facets.jinja").render({"groups": groups or ()}))


@register.simple_tag(takes_context=True)
def heart(context: template.Context, product: Any) -> str:
    """The button that makes ``product`` a favourite or not (the one cards have)."""
    return _jinja("storefront/_heart.jinja", context, product=product)


def _jinja(name: str, context: template.Context, **values: Any) -> str:
    """``name`` drawn by the Jinja2 engine with what it reads of the page's context: the shopper,
    their favourites, the CSRF token and path their buttons post with (stand-ins on a kept
    page) and the filters their links keep."""
    filters, token = context.get("filters"), context.get("csrf_token")
    return mark_safe(engines["jinja2"].get_template(name).render({  # autoescaped by Jinja2
        "user": context.get("user"), "favourites": context.get("favourites", ()), "here": context.get("here", ""),
        # What Django's {% csrf_token %} draws, once for the forms of every card.
        "csrf_input": format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token)
        if token else "",
        "vector_kinds": context.get("vector_kinds", ()), "filter_query": filters.as_query() if filters else "",
        "script_prefix": get_script_prefix(), **values}))


@register.simple_tag(takes_context=True)
def with_range(context: template.Context, parameter: str, low: float, high: float | None) -> str:
    """This page's query with the range ``parameter`` set to ``low`` up to (not including) ``high``
    (a price band's link), from its first page."""
    query = context["request"].GET.copy()
    for name in (f"{parameter}_min", f"{parameter}_max", "page"):
        query.pop(name, None)
    query[f"{parameter}_min"] = str(low)
    if high is not None:
        query[f"{parameter}_max"] = f"{high - 0.01:.2f}"
    return f"?{query.urlencode()}"


@register.filter
def described(filters: Filters) -> list[str]:
    """The filters in words (:func:`storefront.filtering.describe`)."""
    return describe(filters)


@register.filter
def money(amount: float | Decimal | None) -> str:
    """A price as the shop shows it: two decimals and its currency ("12.99 USD")."""
    return "" if amount is None else f"{Decimal(str(amount)):,.2f} {settings.FINDER_CURRENCY}"


@register.filter
def match_label(product: dict[str, Any]) -> str:
    """A result's match, in words: how alike, for similar products; what matched, for a search."""
    why = product.get("explanation") or {}
    if why.get("vector"):
        return f"{_percent(product.get('score', 0.0))} alike"
    if why.get("pinned"):
        return "Placed here by the shop"
    if why.get("lacking"):
        return "Matches part of your search"
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
    said = (" and ".join(parts) + ": the two rankings are combined.") if parts else ""
    if why.get("lacking"):
        lacking = " or ".join(BY_PARAMETER[p].label.lower() for p in why["lacking"] if p in BY_PARAMETER)
        said += f" It matches part of your search (its {lacking} differs): it comes after those that match all of it."
    moved = "; ".join(why.get("rules", ()))
    return f"{said} The shop moved it: {moved}.".strip() if moved else said


def _percent(share: float) -> str:
    return f"{round(max(0.0, min(float(share), 1.0)) * 100)}%"
