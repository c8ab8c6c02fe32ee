"""The admin's extra pages of analytics: the search analytics dashboard and its CSV export, under ``/admin/``
(included by the project's URLs before the admin's own, whose catch-all would answer them)."""

from django.contrib import admin
from django.urls import path

from analytics.admin import dashboard, export

urlpatterns = [
    path("analytics/", admin.site.admin_view(dashboard), name="analytics"),
    path("analytics/export.csv", admin.site.admin_view(export), name="analytics-export"),
]
