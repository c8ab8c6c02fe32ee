from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from finder.throttling import limit
from finder.views import (
    PasswordResetView,
    SignUpView,
    account,
    clear_not_for_me,
    clear_recently_viewed,
    delete_my_account,
    floor,
    health,
    metrics,
    photo,
)

# Logins are rate limited per address (one password sprayed over many usernames), on top of
# django-axes's lockout of a username at one address; and per username (one username tried from
# many addresses) only far above what a person types, so that a stranger cannot lock its owner
# out: past it, the owner still gets in by resetting the password, which signs them in. Sign-ups
# and password reset mails per address.
login = limit("login", key="ip")(limit("login_username", key="post:username")(auth_views.LoginView.as_view()))

urlpatterns = [
    path("healthz", health, name="health"),
    path("metrics", metrics, name="metrics"),
    path("admin/", include("search.admin_urls")),
    path("admin/", include("analytics.admin_urls")),
    path("admin/login/", limit("login", key="ip", group="admin-login")(admin.site.login)),
    path("admin/", admin.site.urls),
    path("accounts/signup/", limit("signup", key="ip")(SignUpView.as_view()), name="signup"),
    path("accounts/login/", login, name="login"),
    path("accounts/", account, name="account"),
    path("accounts/viewed/clear/", clear_recently_viewed, name="clear-viewed"),
    path("accounts/not-for-me/clear/", clear_not_for_me, name="clear-dismissed"),
    path("accounts/delete/", delete_my_account, name="delete-account"),
    path("accounts/password_reset/", limit("password_reset", key="ip")(PasswordResetView.as_view()),
         name="password_reset"),
    path("accounts/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        post_reset_login=True, post_reset_login_backend="django.contrib.auth.backends.ModelBackend"),
         name="password_reset_confirm"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("storefront.urls")),
]
if settings.FINDER_SERVE_MEDIA:
    # Product photos, in development, and for a private catalog: behind its login, as its pages
    # are. A public shop's production deployment serves MEDIA_ROOT from its web server or object
    # storage instead (docker-compose.yml: the proxy).
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", photo))
if settings.FINDER_FLOOR_VIEW:
    urlpatterns.append(path("floor/", floor))
