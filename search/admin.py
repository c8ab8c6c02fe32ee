"""Search in the admin: the page "Search index" (what is live and building, and a recall check
on demand, run by a worker; seeing it takes the permission ``search.view_search_index``,
running the check ``search.check_recall``, taking a popular search out of autocomplete
``search.remove_suggestion``), the catalog map (the same permission), and the
synonym groups and the shop's rules, which apply to the next search when saved."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import reverse

from catalog.attributes import TAGS
from core.errors import FinderError
from search.evaluation import last_recall_check, start_recall_check
from search.filters import Filters
from search.indexing import queue_embedding
from search.kinds import BY_NAME, KINDS
from search.mapping import map_points
from search.models import CatalogMap, Gloss, IndexEntry, Rule, SynonymGroup
from search.query.rules import preview
from search.query.search_box import search_products
from search.query.suggest import MAX_QUERY_LENGTH, remove_suggestion
from search.selectors import embedding_backlog
from search.store import get_store
from search.store.connection import SearchUnavailable

RECALL_SAMPLES = 50


def search_index_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("search.view_search_index"):
        raise PermissionDenied
    if request.method == "POST" and "suggestion" in request.POST:
        if not request.user.has_perm("search.remove_suggestion"):
            raise PermissionDenied
        text = request.POST["suggestion"][:MAX_QUERY_LENGTH]
        try:
            removed = remove_suggestion(text)
        except SearchUnavailable as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{text!r} {'is no longer' if removed else 'was not, and will not be,'} "
                                      "suggested.")
        return HttpResponseRedirect(reverse("search-index"), status=303)
    if request.method == "POST":
        if not request.user.has_perm("search.check_recall"):
            raise PermissionDenied
        start_recall_check(RECALL_SAMPLES)
        return HttpResponseRedirect(reverse("search-index"), status=303)
    context = {**admin.site.each_context(request), "title": "Search index", "versions": [], "problem": "",
               "recall": last_recall_check(), "may_check": request.user.has_perm("search.check_recall"),
               "may_remove": request.user.has_perm("search.remove_suggestion"),
               "backlog": embedding_backlog(settings.FINDER_PENDING_TOO_LONG),
               "overdue_minutes": settings.FINDER_PENDING_TOO_LONG // 60}
    try:
        store = get_store()
        live = store.live_name()
        context["versions"] = [{**info, "live": info["name"] == live, "indexed": indexed_in_words(info)}
                               for info in (store.info(name, detailed=True) for name in store.versions())]
    except SearchUnavailable as exc:
        context["problem"] = str(exc)
    return TemplateResponse(request, "admin/search_index.html", context)


def indexed_in_words(info: dict) -> str:
    """How much of a version Redis has taken in, as the shop's people say it."""
    documents = info["num_docs"]
    if info["percent_indexed"] >= 1:
        return f"all {documents:,} document{pluralize(documents)} indexed"
    return f"{info['percent_indexed']:.0%} indexed so far: Redis is still taking in its {documents:,} documents"


@admin.register(IndexEntry)
class IndexEntryAdmin(admin.ModelAdmin):
    """Where each product's vectors stand: staff find what failed, and why, and try again."""

    list_display = ("product", "kind", "state", "reason", "queued_at", "updated_at")
    list_filter = ("state", "kind")
    search_fields = ("product__id", "product__name", "reason")
    list_select_related = ("product",)
    readonly_fields = ("product", "kind", "state", "queued_at", "reason", "updated_at")
    actions = ("retry",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # search keeps its own entries

    @admin.action(description="Embed the selected products again")
    def retry(self, request: HttpRequest, queryset: QuerySet[IndexEntry]) -> None:
        ids = list(queryset.values_list("product_id", flat=True).distinct())
        queue_embedding(ids, {BY_NAME[kind] for kind in queryset.values_list("kind", flat=True).distinct()
                              if kind in BY_NAME})
        self.message_user(request, f"{len(ids)} products queued for embedding.", messages.SUCCESS)


@admin.register(SynonymGroup)
class SynonymGroupAdmin(admin.ModelAdmin):
    list_display = ("__str__", "updated_at")
    search_fields = ("terms",)


@admin.register(Gloss)
class GlossAdmin(admin.ModelAdmin):
    """What each product type, category and usage is for, in a shopper's words: the search box
    reads needs and occasions against these (docs/relevance.md)."""

    list_display = ("value", "attribute", "text", "updated_at")
    list_filter = ("attribute",)
    search_fields = ("value", "text")


class IdsField(forms.CharField):
    """Product ids, one per line or separated by commas or spaces, as a list."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: object) -> object:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: str | None) -> list[str]:  # type: ignore[override]
        return list(dict.fromkeys((value or "").replace(",", " ").split()))


class RuleForm(forms.ModelForm):
    pin = IdsField(required=False, help_text="Product ids placed first, in this order: one a line.")
    hide = IdsField(required=False, help_text="Product ids never shown for the query: one a line.")

    class Meta:
        model = Rule
        fields = ["query", "match", "pin", "hide", "boost", "starts", "ends", "enabled"]


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    """The shop's rules. A saved rule's page shows the first results of its query without it and
    with it, as if it were on now; saved, it applies to searches at once."""

    form = RuleForm
    list_display = ("query", "match", "enabled", "starts", "ends", "updated_at")
    list_filter = ("match", "enabled")
    search_fields = ("query",)
    change_form_template = "admin/search/rule/change_form.html"
    PREVIEW = 12

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        rule = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if rule is not None and request.method == "GET":
            context["preview"] = self._preview(rule)
        return super().change_view(request, object_id, form_url, context)

    def _preview(self, rule: Rule) -> dict[str, Any]:
        before, after = preview(rule)
        try:
            return {"before": search_products(rule.query, Filters(), k=self.PREVIEW, steering=before).results,
                    "after": search_products(rule.query, Filters(), k=self.PREVIEW, steering=after).results}
        except FinderError as exc:
            return {"problem": str(exc)}


def catalog_map_view(request: HttpRequest) -> HttpResponse:
    """The catalog as a map of each kind's vectors (drawn by ``static/js/catalog-map.js``)."""
    if not request.user.has_perm("search.view_search_index"):
        raise PermissionDenied
    maps = {m.kind: m for m in CatalogMap.objects.all()}
    return TemplateResponse(request, "admin/catalog_map.html", {
        **admin.site.each_context(request), "title": "Catalog map",
        "kinds": [{"kind": kind, "map": maps.get(kind.name)} for kind in reversed(KINDS)],
        "attributes": TAGS})


def catalog_map_data(request: HttpRequest, kind: str) -> JsonResponse:
    if not request.user.has_perm("search.view_search_index"):
        raise PermissionDenied
    if kind not in BY_NAME:
        raise Http404
    points = map_points(BY_NAME[kind])
    if points is None:
        raise Http404("No map yet: it is drawn once the catalog's embedding has settled.")
    return JsonResponse(points)

