"""Search in the admin: the page "Search index" (what is live and building, and a recall check
on demand, run by a worker; seeing it takes the permission ``search.view_search_index``,
running the check ``search.check_recall``), and the synonym groups, which apply to the next
search when saved."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from catalog.selectors import embedding_backlog
from search.evaluation import last_recall_check, start_recall_check
from search.models import SynonymGroup
from search.store import get_store
from search.store.connection import SearchUnavailable

RECALL_SAMPLES = 50


def search_index_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("search.view_search_index"):
        raise PermissionDenied
    if request.method == "POST":
        if not request.user.has_perm("search.check_recall"):
            raise PermissionDenied
        start_recall_check(RECALL_SAMPLES)
        return HttpResponseRedirect(reverse("search-index"), status=303)
    context = {**admin.site.each_context(request), "title": "Search index", "versions": [], "problem": "",
               "recall": last_recall_check(), "may_check": request.user.has_perm("search.check_recall"),
               "backlog": embedding_backlog(settings.FINDER_PENDING_TOO_LONG),
               "overdue_minutes": settings.FINDER_PENDING_TOO_LONG // 60}
    try:
        store = get_store()
        live = store.live_name()
        context["versions"] = [{**store.info(name, detailed=True), "live": name == live} for name in store.versions()]
    except SearchUnavailable as exc:
        context["problem"] = str(exc)
    return TemplateResponse(request, "admin/search_index.html", context)


@admin.register(SynonymGroup)
class SynonymGroupAdmin(admin.ModelAdmin):
    list_display = ("__str__", "updated_at")
    search_fields = ("terms",)


urlpatterns = [path("search-index/", admin.site.admin_view(search_index_view), name="search-index")]
