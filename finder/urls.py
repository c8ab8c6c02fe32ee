"""Every app's pages, by prefix. The admin's extra pages come before ``admin.site.urls``, whose
catch-all would otherwise answer them."""

from django.contrib import admin
from django.urls import include, path

from core.throttling import limit

urlpatterns = [
    path("", include("core.urls")),
    path("admin/", include("search.admin_urls")),
    path("admin/", include("analytics.admin_urls")),
    path("admin/login/", limit("login", key="ip", group="admin-login")(admin.site.login)),
    path("admin/", admin.site.urls),
    path("accounts/", include("shoppers.urls")),
    path("", include("storefront.urls")),
]
