"""Keeping and letting go of favourites, for an account or, before there is one, in the guest's
session (a guest's favourites join the account they sign up for or log in to); an account's
recently viewed products and the products it said are not for it; and an account deleted with
everything it kept."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.http import HttpRequest
from django.utils import timezone

from catalog.models import Product
from core.errors import Conflict
from shoppers.models import Dismissal, Favourite, View

logger = logging.getLogger(__name__)

#: The session key of a guest's favourites, and how many a guest may keep (the oldest go first).
GUEST_KEY = "favourites"
GUEST_LIMIT = 200
#: How many favourites, and how many "not for me"s, an account may keep: more are refused.
ACCOUNT_LIMIT = 500


class LimitReached(Conflict):
    """The account keeps as many of these as it may."""
#: Recently viewed products kept per account.
VIEWS_KEPT = 50
#: How long the shared cache holds an account's favourites' ids (every page reads them, for its
#: hearts; each change here forgets them at once).
FAVOURITES_CACHE_SECONDS = 60


def favourites_key(user_id: int) -> str:
    return f"favourites-{user_id}"


def set_favourite(request: HttpRequest, product: Product, on: bool) -> None:
    """Keep ``product`` (``on``) or let it go, for the account signed in or the guest's session."""
    if request.user.is_authenticated:
        if on:
            _below_limit(Favourite, request.user, product, "favourites")
            Favourite.objects.get_or_create(user=request.user, product=product)
        else:
            Favourite.objects.filter(user=request.user, product=product).delete()
        cache.delete(favourites_key(request.user.pk))
        return
    kept = [pid for pid in request.session.get(GUEST_KEY, []) if pid != product.id]
    request.session[GUEST_KEY] = ([product.id, *kept] if on else kept)[:GUEST_LIMIT]


def adopt_guest_favourites(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    """Signed up or logged in: the guest's favourites become the account's (a signal receiver)."""
    session: SessionBase | None = getattr(request, "session", None)
    ids = session.pop(GUEST_KEY, []) if session is not None else []
    existing = set(Product.objects.filter(id__in=ids).values_list("id", flat=True))
    # Oldest first, so that the latest keeps the highest id (they share a created_at).
    Favourite.objects.bulk_create([Favourite(user=user, product_id=pid) for pid in reversed(ids) if pid in existing],
                                  ignore_conflicts=True)
    cache.delete(favourites_key(user.pk))


def record_view(request: HttpRequest, product: Product) -> None:
    """A signed-in shopper opened ``product``: it heads their recently viewed, which keeps the
    latest :data:`VIEWS_KEPT`. One upsert, so the same shopper in two tabs cannot collide; and
    best effort: a view the database could not take (SQLite busy under load) never costs the
    shopper the page."""
    if not request.user.is_authenticated:
        return
    try:
        with transaction.atomic():
            View.objects.bulk_create([View(user=request.user, product=product, viewed_at=timezone.now())],
                                     update_conflicts=True, unique_fields=["user", "product"],
                                     update_fields=["viewed_at"])
            stale = list(View.objects.filter(user=request.user).values_list("id", flat=True)[VIEWS_KEPT:])
            if stale:
                View.objects.filter(id__in=stale).delete()
    except DatabaseError as exc:
        logger.warning("recently viewed not recorded for user %s: %s", request.user.pk, exc)


def clear_views(user: AbstractBaseUser) -> None:
    View.objects.filter(user=user).delete()


def dismiss(user: AbstractBaseUser, product: Product, on: bool = True) -> None:
    """``product`` is not for ``user`` (``on``; it stops being a favourite too), or is again."""
    if on:
        _below_limit(Dismissal, user, product, '"not for me" products')
        Dismissal.objects.get_or_create(user=user, product=product)
        Favourite.objects.filter(user=user, product=product).delete()
        cache.delete(favourites_key(user.pk))
    else:
        Dismissal.objects.filter(user=user, product=product).delete()


def _below_limit(model: type[Favourite | Dismissal], user: AbstractBaseUser, product: Product, what: str) -> None:
    """Refuse a new mark past :data:`ACCOUNT_LIMIT` (marking one already marked is fine)."""
    marks = model.objects.filter(user=user)
    if marks.count() >= ACCOUNT_LIMIT and not marks.filter(product=product).exists():
        raise LimitReached(f"You keep {ACCOUNT_LIMIT} {what}, as many as an account may: remove some first.")


def clear_dismissals(user: AbstractBaseUser) -> None:
    Dismissal.objects.filter(user=user).delete()


def delete_account(user: AbstractBaseUser) -> None:
    """The account and everything it kept (favourites, views, dismissals: they go with it, by cascade)."""
    user.delete()
