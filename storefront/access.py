"""Who may look at the catalog: every shopper, signed in or not, unless ``FINDER_LOGIN_REQUIRED``
makes it a private catalog (a wholesale shop, a staging copy). Read at each request, so the
setting needs no other code to change."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.views import APIView


def may_browse(request: HttpRequest) -> bool:
    """Whether this visitor may see the catalog."""
    return not settings.FINDER_LOGIN_REQUIRED or request.user.is_authenticated


def shopper_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A storefront page: open to everyone, or, for a private catalog, to those signed in."""

    @functools.wraps(view)
    def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_browse(request):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return page


class CatalogReader(BasePermission):
    """The API's read endpoints: what the pages show, under the same rule. Anything personal
    or that writes keeps the default, a login or a token."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return may_browse(request)


class SearchAnalyst(BasePermission):
    """The shop's staff who may see search analytics (``analytics.view_search``)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_staff and request.user.has_perm("analytics.view_search"))



class CatalogWriter(BasePermission):
    """Reading a product: as :class:`CatalogReader`. Writing one: staff whose account may change
    products (``catalog.change_product``; deleting takes ``catalog.delete_product``); a shopper
    is refused (403), a request without a token asked for one (401)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return may_browse(request)
        if request.method == "DELETE":
            return request.user.has_perm("catalog.delete_product")
        return request.user.has_perm("catalog.change_product")


class RuleEditor(DjangoModelPermissions):
    """The shop's rules: staff whose account has the rule permissions (``search.view_rule`` to
    read them, ``add_``, ``change_`` and ``delete_rule`` to write); a request without a token is
    asked for one (401)."""

    perms_map = {**DjangoModelPermissions.perms_map, "GET": ["%(app_label)s.view_%(model_name)s"],
                 "HEAD": ["%(app_label)s.view_%(model_name)s"]}
