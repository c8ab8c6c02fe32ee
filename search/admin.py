"""The admin page "Search index": what is live and building, and a recall check on demand."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from search.connection import SearchUnavailable, get_client, search_errors
from search.evaluation import recall_check
from search.selectors import index_info, live_index_name
from search.services import index_versions

RECALL_SAMPLES = 50


def search_index_view(request: HttpRequest) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": "Search index", "versions": [], "problem": ""}
    try:
        client = get_client()
        with search_errors():
            live = live_index_name(client)
            context["versions"] = [{**index_info(client, name, detailed=True), "live": name == live}
                                   for name in index_versions(client)]
        if request.method == "POST":
            context["recall"] = recall_check(samples=RECALL_SAMPLES)
    except SearchUnavailable as exc:
        context["problem"] = str(exc)
    return TemplateResponse(request, "admin/search_index.html", context)


urlpatterns = [path("search-index/", admin.site.admin_view(search_index_view), name="search-index")]
