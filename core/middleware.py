"""The finder's middleware: each request observed (its id, its log line, its metrics), and
request bodies refused before they are read."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import URLPattern

from core import metrics
from core.logs import REQUEST_ID, request_id_from

View = Callable[..., HttpResponse]

logger = logging.getLogger("finder.requests")


class RequestMiddleware:
    """Observe each request, first in and last out: give it an id (``X-Request-ID`` when the
    client sent a plain one, else a new one: :mod:`core.logs`), echoed in the response and
    carried into the log lines and tasks it leads to; count and time it by view for /metrics; and
    log one line with its method, path (never its query string: a shopper's words stay as
    anonymous as the analytics keeps them), status, duration and user id."""

    def __init__(self, get_response: View) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get("X-Request-ID"))
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        metrics.REQUESTS.inc()
        try:
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            match = request.resolver_match
            view = match.view_name if match is not None else "unmatched"
            metrics.RESPONSES.labels(view, request.method, str(response.status_code)).inc()
            metrics.REQUEST_SECONDS.labels(view, request.method).observe(seconds)
            user = getattr(request, "user", None)
            user_id = user.pk if user is not None and user.is_authenticated else None
            logger.info("%s %s %s %.1f ms", request.method, request.path, response.status_code, seconds * 1000,
                        extra={"method": request.method, "path": request.path, "status": response.status_code,
                               "duration_ms": round(seconds * 1000, 1), "user_id": user_id})
            response["X-Request-ID"] = request_id
            return response
        finally:
            REQUEST_ID.reset(token)


def limit_body(setting: str) -> Callable[[View], View]:
    """Mark a view as taking bodies of at most ``settings.<setting>`` bytes (see below)."""
    def decorator(view: View) -> View:
        view.max_body_setting = setting  # type: ignore[attr-defined]
        return view
    return decorator


def limit_bodies(patterns: list[URLPattern], setting: str, *names: str) -> list[URLPattern]:
    """``patterns`` with the views of those named ``names`` marked as by :func:`limit_body`: for
    URLs another app makes, such as the admin's add and change forms."""
    for pattern in patterns:
        if pattern.name in names:
            limit_body(setting)(pattern.callback)
    return patterns


class BodyLimitMiddleware:
    """Refuse, from its Content-Length, a body larger than its view takes (:func:`limit_body`;
    ``FINDER_MAX_BODY_BYTES`` for every other view), before anything reads it: Django would
    otherwise spool a large upload to disk first (CSRF checking reads the body to find its token),
    and a client that trickles a large body holds a web thread while it is read. The API answers
    413 in JSON, pages with a page.
    """

    def __init__(self, get_response: View) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: View, args: Any, kwargs: Any) -> HttpResponse | None:
        setting = getattr(view, "max_body_setting", None)
        limit = getattr(settings, setting or "FINDER_MAX_BODY_BYTES")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= limit:
            return None
        message = f"The {'upload' if setting else 'request'} is too large: at most {limit / 1_000_000:g} MB."
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=413)
        return render(request, "problem.html", {"problem": message}, status=413)
