"""Reads of a shopper's favourites (signed in or a guest), recently viewed and dismissed
products, and their picks (For you)."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Count
from django.http import HttpRequest

from catalog.models import Product
from search.filters import Filters
from search.query import catalog_grid
from search.query.ordering import Sort
from search.query.recommend import recommended
from search.store import get_store
from shoppers.models import Dismissal, Favourite, View
from shoppers.services import FAVOURITES_CACHE_SECONDS, GUEST_KEY, favourites_key


def favourite_ids(request: HttpRequest) -> list[str]:
    """The shopper's favourites' ids, the latest first (an account's from the shared cache, which
    holds them for a minute: every page asks, for its hearts)."""
    if request.user.is_authenticated:
        return cache.get_or_set(favourites_key(request.user.pk),
                                lambda: list(request.user.favourites.values_list("product_id", flat=True)),
                                FAVOURITES_CACHE_SECONDS)
    return list(request.session.get(GUEST_KEY, []))


def favourite_products(request: HttpRequest) -> list[Product]:
    """The shopper's favourite products, the latest first."""
    ids = favourite_ids(request)
    found = Product.objects.in_bulk(ids)
    return [found[pid] for pid in ids if pid in found]


def recently_viewed(user: AbstractBaseUser) -> list[Product]:
    """The products a signed-in shopper opened, the latest first."""
    return [view.product for view in View.objects.filter(user=user).select_related("product")]


def dismissed_products(user: AbstractBaseUser) -> list[Product]:
    """The products a signed-in shopper said are not for them, the latest first."""
    return [dismissal.product for dismissal in Dismissal.objects.filter(user=user).select_related("product")]


#: What For you reads of a shopper's history: a favourite counts fully, a product only opened
#: for less; only the latest of each, so that a long history costs no more than a short one.
FAVOURITE_WEIGHT = 1.0
VIEW_WEIGHT = 0.5
VIEWS_READ = 20
FAVOURITES_READ = 100
DISMISSALS_READ = 100


class Basis(enum.StrEnum):
    """What a shopper's picks come from."""

    HISTORY = "history"  # their favourites, views and "not for me"s
    POPULAR = "popular"  # nothing of theirs yet, or nothing of it in the index: the shop's favourites


@dataclass(frozen=True)
class Picks:
    results: list[dict[str, Any]]
    basis: Basis


def picks_for(user: AbstractBaseUser, filters: Filters, k: int = 12) -> Picks:
    """For you: products near what ``user`` liked and away from what they dismissed, within
    ``filters``, none they have seen or dismissed; with no history to go on, the shop's most
    liked (:func:`popular`)."""
    favourites = list(Favourite.objects.filter(user=user).values_list("product_id", flat=True)[:FAVOURITES_READ])
    viewed = list(View.objects.filter(user=user).values_list("product_id", flat=True))  # the latest first
    dismissed = list(Dismissal.objects.filter(user=user).values_list("product_id", flat=True)[:DISMISSALS_READ])
    liked = {**{pid: VIEW_WEIGHT for pid in viewed[:VIEWS_READ]}, **{pid: FAVOURITE_WEIGHT for pid in favourites}}
    seen = {*liked, *dismissed, *viewed}
    results = recommended(liked, dismissed, seen, filters, k) if liked else None
    if results is not None:
        return Picks(results, Basis.HISTORY)
    return Picks(popular(filters, k, exclude=seen), Basis.POPULAR)


def popular(filters: Filters, k: int, exclude: Collection[str] = ()) -> list[dict[str, Any]]:
    """The ``k`` products shoppers keep and open most (a favourite counts twice a view), then
    the newest, within ``filters``: as the index shows them."""
    fans: Counter[str] = Counter()
    for pid, n in Favourite.objects.values_list("product").annotate(n=Count("id")):
        fans[pid] += 2 * n
    for pid, n in View.objects.values_list("product").annotate(n=Count("id")):
        fans[pid] += n
    passing = catalog_grid.products(filters, Sort.NEWEST).exclude(id__in=list(exclude))
    liked = [pid for pid, _ in fans.most_common()]
    allowed = set(passing.filter(id__in=liked).values_list("id", flat=True))
    chosen = [pid for pid in liked if pid in allowed][:k]
    chosen += list(passing.exclude(id__in=chosen).values_list("id", flat=True)[:k - len(chosen)])
    return [document for document in get_store().documents(chosen) if document]
