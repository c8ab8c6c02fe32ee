"""Pages of the project itself: sign-up (Django's auth app ships none), the account page (with
clearing its history and deleting it), the health check, the metrics, and the benchmark's floor."""

import hmac
from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST
from django.views.generic import CreateView
from django.views.static import serve

from finder import metrics as finder_metrics
from finder.celery import declare_task_metrics
from search.store.connection import SearchUnavailable, get_client, search_errors
from shoppers.selectors import dismissed_products, recently_viewed
from shoppers.services import clear_dismissals, clear_views, delete_account
from storefront.access import shopper_page


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, which says plainly when the shop has no mail server (``EMAIL_URL``) to send the link with."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.EMAIL_URL:
            return render(request, "problem.html", {"problem": "This shop has no mail server set up, so it cannot "
                                                               "send you a link to reset your password. Ask the "
                                                               "shop's staff to reset it."}, status=503)
        return super().dispatch(request, *args, **kwargs)


class SignUpView(CreateView):
    form_class = UserCreationForm
    template_name = "registration/signup.html"
    success_url = reverse_lazy("storefront:list")

    def form_valid(self, form: UserCreationForm) -> HttpResponse:
        response = super().form_valid(form)
        # The password was just set through the form: the model backend vouches for it (the
        # throttling backend in front of it authenticates nobody).
        login(self.request, self.object, backend="django.contrib.auth.backends.ModelBackend")
        return response


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The shopper's own page: what the account keeps for them (recently viewed, "not for me",
    a link to the favourites), and the way to clear or delete it."""
    return _account_page(request, "")


def _account_page(request: HttpRequest, problem: str) -> HttpResponse:
    return render(request, "registration/account.html", {
        "viewed": recently_viewed(request.user), "dismissed": dismissed_products(request.user), "problem": problem,
    }, status=400 if problem else 200)


@login_required
@require_POST
def clear_recently_viewed(request: HttpRequest) -> HttpResponse:
    clear_views(request.user)
    return redirect("account")


@login_required
@require_POST
def clear_not_for_me(request: HttpRequest) -> HttpResponse:
    clear_dismissals(request.user)
    return redirect("account")


@login_required
@require_POST
def delete_my_account(request: HttpRequest) -> HttpResponse:
    """The account and all it kept, once the shopper confirms with their password."""
    user = request.user
    if not user.check_password(request.POST.get("password", "")):
        return _account_page(request, "That is not your password: the account is still here.")
    logout(request)
    delete_account(user)
    return redirect("storefront:list")


def health(request: HttpRequest) -> JsonResponse:
    """``/healthz``: 200 when the database and Redis answer, else 503; for a container's health
    check, so it is plain HTTP and needs no login. Redis is pinged itself: the shared cache
    would answer as an empty one while it is down."""
    problems = []
    try:
        connection.ensure_connection()
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}")
    try:
        with search_errors():
            get_client().ping()
    except SearchUnavailable as exc:
        problems.append(f"redis: {exc}")
    return JsonResponse({"status": "unwell" if problems else "ok", "problems": problems},
                        status=503 if problems else 200)


def metrics(request: HttpRequest) -> HttpResponse:
    """``/metrics``: every web process's and worker's metrics in Prometheus's text format, for a
    scraper that sends ``Authorization: Bearer <FINDER_METRICS_TOKEN>``; a 404 to anyone else, and
    to everyone when no token is set (nothing tells a stranger that the page exists)."""
    token = settings.FINDER_METRICS_TOKEN
    if not token or not hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                            f"Bearer {token}".encode()):
        raise Http404
    declare_task_metrics()
    body, content_type = finder_metrics.exposition()
    return HttpResponse(body, content_type=content_type)


def floor(request: HttpRequest) -> HttpResponse:
    """``/floor/`` (with ``FINDER_FLOOR_VIEW`` only): a page that does nothing but know who asks,
    so what the server, the middleware and authentication cost alone. ``make bench`` measures the
    search pages against it."""
    return HttpResponse(b"signed in" if request.user.is_authenticated else b"anonymous", content_type="text/plain")


@shopper_page
def photo(request: HttpRequest, path: str) -> HttpResponse:
    """A product photo from ``MEDIA_ROOT`` (``FINDER_SERVE_MEDIA``): in development, and for a private
    catalog, whose photos are behind its login as its pages are."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)
