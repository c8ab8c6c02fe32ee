"""Throttling: who a request comes from, and how often each may ask.

The API uses DRF's throttles, the pages django-ratelimit; both count in the shared cache,
read their rates from ``FINDER_RATES`` when they count (so a setting changed at run time,
as a test does, applies at once) and stand aside when ``FINDER_THROTTLE`` is off.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import is_ratelimited
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

if TYPE_CHECKING:  # DRF's views import the throttles from the settings: no import of them here
    from rest_framework.request import Request
    from rest_framework.views import APIView

View = Callable[..., HttpResponse]


def client_network(request: HttpRequest) -> str:
    """Where the client is, for counting: its address, or for IPv6 the first address of its /64
    network (one subscriber's, in which they may pick any address). The address is REMOTE_ADDR or, behind
    ``FINDER_PROXY_COUNT`` trusted proxies that each append the address they saw to
    X-Forwarded-For, the entry the outermost of them appended (DRF's NUM_PROXIES rule). Entries
    before it are the client's own word, never taken.
    """
    proxies = settings.FINDER_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    address = request.META.get("REMOTE_ADDR", "")
    if proxies and forwarded:
        addresses = [address.strip() for address in forwarded.split(",")]
        address = addresses[-min(proxies, len(addresses))]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False).network_address)
    return str(parsed)


def rate(scope: str) -> str:
    """The rate of ``scope`` ("20/m": 20 a minute), in django-ratelimit's and DRF's notation alike."""
    return settings.FINDER_RATES[scope]


def per_user_or_address(group: str, request: HttpRequest) -> str:
    """django-ratelimit's key: the signed-in user, else the address."""
    return f"user:{request.user.pk}" if request.user.is_authenticated else f"ip:{client_network(request)}"


def limit(scope: str, key: str | Callable[[str, HttpRequest], str] = per_user_or_address,
          method: str = "POST", group: str = "") -> Callable[[View], View]:
    """A page view decorator: past ``scope``'s rate (per ``key``: the user or address by
    default, "ip", "post:username"...), requests by ``method`` get a 429 page that says to wait.
    """
    def decorator(view: View) -> View:
        @functools.wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if settings.FINDER_THROTTLE and is_ratelimited(request, group=group or scope, key=key, rate=rate(scope),
                                                          method=method, increment=True):
                return render(request, "429.html", status=429)
            return view(request, *args, **kwargs)
        return limited
    return decorator


class _Settings:
    """Rates from ``FINDER_RATES`` when counting, and nothing counted with throttling off."""

    scope: str

    def get_rate(self) -> str:
        return rate(self.scope)

    def get_ident(self, request: Request) -> str:
        return client_network(request._request)

    def allow_request(self, request: Request, view: APIView) -> bool:
        if not settings.FINDER_THROTTLE:
            return True
        return super().allow_request(request, view)  # type: ignore[misc]


class AnonThrottle(_Settings, SimpleRateThrottle):
    """Signed-out requests, per address (for endpoints open to them)."""

    scope = "anon"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserThrottle(_Settings, SimpleRateThrottle):
    """Signed-in requests, per user."""

    scope = "user"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class ScopedThrottle(_Settings, ScopedRateThrottle):
    """A stricter rate for the costly endpoints, named by the view's ``throttle_scope``."""
