"""Reads of a shopper's favourites (signed in or a guest) and recently viewed products."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from catalog.models import Product
from shoppers.models import View
from shoppers.services import GUEST_KEY


def favourite_ids(request: HttpRequest) -> list[int]:
    """The shopper's favourites' ids, the latest first."""
    if request.user.is_authenticated:
        return list(request.user.favourites.values_list("product_id", flat=True))
    return list(request.session.get(GUEST_KEY, []))


def favourite_products(request: HttpRequest) -> list[Product]:
    """The shopper's favourite products, the latest first."""
    ids = favourite_ids(request)
    found = Product.objects.in_bulk(ids)
    return [found[pid] for pid in ids if pid in found]


def recently_viewed(user: AbstractBaseUser) -> list[Product]:
    """The products a signed-in shopper opened, the latest first."""
    return [view.product for view in View.objects.filter(user=user).select_related("product")]
