"""The Jinja2 environment product cards are drawn in: Django's backend's (autoescaped), with the
filters the cards use."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from storefront.templatetags.shop import match_label, money, path_for, why_this


def environment(**options: Any) -> Environment:
    jinja = Environment(**options)  # Django's backend passes autoescape=True
    jinja.filters.update(path_for=path_for, match_label=match_label, money=money, why_this=why_this)
    return jinja
