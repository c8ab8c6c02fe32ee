"""The shopper's account pages: sign-up (Django's auth app ships none), the password reset that
says when the shop cannot send mail, and the account page, with clearing what it keeps and
deleting it."""

from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST
from django.views.generic import CreateView

from shoppers.selectors import dismissed_products, recently_viewed
from shoppers.services import clear_dismissals, clear_views, delete_account


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
