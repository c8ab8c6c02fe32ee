"""The account pages under ``accounts/``, Django's own (login, logout, password change and reset)
among them. Their names are not namespaced: Django's auth views find ``login`` and
``password_reset_confirm`` by those names."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from core.throttling import limit
from shoppers.views import (
    PasswordResetView,
    SignUpView,
    account,
    clear_not_for_me,
    clear_recently_viewed,
    delete_my_account,
)

# Logins are rate limited per address (one password sprayed over many usernames), on top of
# django-axes's lockout of a username at one address; and per username (one username tried from
# many addresses) only far above what a person types, so that a stranger cannot lock its owner
# out: past it, the owner still gets in by resetting the password, which signs them in. Sign-ups
# and password reset mails per address.
login = limit("login", key="ip")(limit("login_username", key="post:username")(auth_views.LoginView.as_view()))

urlpatterns = [
    path("signup/", limit("signup", key="ip")(SignUpView.as_view()), name="signup"),
    path("login/", login, name="login"),
    path("", account, name="account"),
    path("viewed/clear/", clear_recently_viewed, name="clear-viewed"),
    path("not-for-me/clear/", clear_not_for_me, name="clear-dismissed"),
    path("delete/", delete_my_account, name="delete-account"),
    path("password_reset/", limit("password_reset", key="ip")(PasswordResetView.as_view()), name="password_reset"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        post_reset_login=True, post_reset_login_backend="django.contrib.auth.backends.ModelBackend"),
         name="password_reset_confirm"),
    path("", include("django.contrib.auth.urls")),
]
