"""Pages kept until the index changes: one view decorator, in the manner of Django's ``cache_page``.

A view under :func:`kept_page` is drawn once for everyone who sees it the same way (the same
path and query, the same ``X-Fragment`` header, signed in or not, staff or not) and kept among
the answers of the index's epoch (:mod:`search.query.answers`), so any write to the index
retires it. What belongs to one request, the CSRF token, the page's own path, the shopper's name
and whether each heart is pressed, is drawn as a slot and filled in for each request.

A slot is a NUL character, a token drawn at random when the process starts, and the slot's name.
Input cannot make one: the filters refuse control characters, and nobody outside the process
knows the token. A page is kept already cut at its slots, its text encoded, so answering it again
is a join of bytes. A page that would be larger than ``FINDER_MAX_PAGE_BYTES`` is refused with a
400 before it is put together.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.html import escape
from markupsafe import Markup

from core.errors import FinderError
from search.query.answers import remembered
from shoppers.selectors import favourite_ids

View = Callable[..., HttpResponse]

_TOKEN = secrets.token_hex(8)
_SLOT = re.compile(f"\x00{_TOKEN}:(csrf|here|name|heart):([\\w.-]*)\x00")


def _slot(name: str, argument: object = "") -> str:
    return f"\x00{_TOKEN}:{name}:{argument}\x00"


@dataclass(frozen=True)
class StandIn:
    """The shopper as a kept page draws them: what they share with others, their name a slot."""

    is_authenticated: bool
    is_staff: bool
    username: str = _slot("name")


@dataclass
class Hearts:
    """A kept page's hearts: each card's heart is drawn both ways and shown pressed or not per request."""

    drawn: dict[str, tuple[str, str]] = field(default_factory=dict)

    def choose(self, product_id: object, pressed: str, unpressed: str) -> Markup:
        self.drawn[str(product_id)] = (pressed, unpressed)
        return Markup(_slot("heart", product_id))


def stand_ins(request: HttpRequest) -> dict[str, Any]:
    """Template context that replaces the request's own values while a page is drawn to be kept
    (:mod:`storefront.context` adds it); nothing otherwise."""
    hearts = getattr(request, "kept_hearts", None)
    if hearts is None:
        return {}
    return {"csrf_token": _slot("csrf"), "here": _slot("here"), "favourites": hearts,
            "user": StandIn(request.user.is_authenticated, request.user.is_staff)}


@dataclass(frozen=True)
class Kept:
    """A page cut at its slots: text (bytes) and slots ``(name, argument)`` in turn, each heart
    both ways; ``names``, the kinds of slot it has."""

    parts: tuple[bytes | tuple[str, str], ...]
    hearts: dict[str, tuple[bytes, bytes]]
    names: frozenset[str]

    def fill(self, request: HttpRequest) -> list[bytes]:
        """The page's pieces for this request, its slots filled in."""
        names = self.names
        values = {
            "csrf": escape(get_token(request)).encode() if "csrf" in names else b"",
            "here": escape(request.get_full_path()).encode() if "here" in names else b"",
            "name": escape(request.user.get_username()).encode() if "name" in names else b"",
        }
        liked = {str(product_id) for product_id in favourite_ids(request)} if self.hearts else set()
        return [part if isinstance(part, bytes) else
                self.hearts[part[1]][part[1] not in liked] if part[0] == "heart" else values[part[0]]
                for part in self.parts]


def kept_page(*headers: str) -> Callable[[View], View]:
    """Keep the page a view draws until the index changes (see the module's docstring), one for
    each value of the request ``headers`` the view varies on (as ``vary_on_headers`` names them).

    Only a plain 200 is kept: an error, or a page the view marked ``Cache-Control: no-store``
    (it shows more than the index, such as a notice about a running import), is drawn each time,
    its slots filled in the same way."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            question = ("page", request.path, urlencode(sorted(request.GET.lists()), doseq=True),
                        tuple(request.headers.get(header) for header in headers),
                        request.user.is_authenticated, request.user.is_staff)
            drawn: list[HttpResponse] = []

            def draw() -> Kept | None:
                request.kept_hearts = hearts = Hearts()  # type: ignore[attr-defined]
                try:
                    drawn.append(view(request, *args, **kwargs))
                finally:
                    del request.kept_hearts  # type: ignore[attr-defined]
                return _cut(drawn[0].content.decode(), hearts)

            try:
                kept = remembered(question, draw, keep=lambda found: found is not None and _keepable(drawn[0]))
            except FinderError:  # the index cannot be asked: the view says so in its own words
                return view(request, *args, **kwargs)
            pieces = kept.fill(request) if kept is not None else []
            if kept is None or sum(map(len, pieces)) > settings.FINDER_MAX_PAGE_BYTES:
                return render(request, "problem.html", {"problem": "This page would be too large to show: ask "
                                                                   "for fewer filter values."}, status=400)
            response = drawn[0] if drawn else HttpResponse()
            response.content = b"".join(pieces)
            return response

        return page

    return decorator


def _keepable(response: HttpResponse) -> bool:
    return response.status_code == 200 and "no-store" not in response.get("Cache-Control", "")


def _cut(html: str, hearts: Hearts) -> Kept | None:
    """``html`` cut at its slots; None when it is too large to keep or to show."""
    if len(html) > settings.FINDER_MAX_PAGE_BYTES:
        return None
    pieces = _SLOT.split(html)  # text, name, argument, text, name, argument, ..., text
    parts: list[bytes | tuple[str, str]] = []
    for index in range(0, len(pieces), 3):
        parts.append(pieces[index].encode())
        if index + 2 < len(pieces):
            parts.append((pieces[index + 1], pieces[index + 2]))
    return Kept(tuple(parts), {product_id: (pressed.encode(), unpressed.encode())
                               for product_id, (pressed, unpressed) in hearts.drawn.items()},
                frozenset(pieces[1::3]))
