"""The catalog in the admin: every product's search status, shown and filterable, and the
actions that keep the index in step (edits re-embed, deletes leave the index)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from catalog import selectors, services
from catalog.forms import CatalogUploadForm, ProductAdminForm
from catalog.models import ImportRun, Product
from core.middleware import limit_bodies


def thumbnail(url: str | None) -> str:
    """A photo small enough for a list's row; a dash for a product without one."""
    return format_html('<img src="{}" alt="" class="thumb" loading="lazy">', url) if url else "—"


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductAdminForm
    list_display = ["photo", "id", "name", "gender", "master_category", "article_type", "price", "availability",
                    "image_problem"]
    list_display_links = ["photo", "id", "name"]
    list_filter = ["gender", "master_category", "availability"]
    search_fields = ["id", "name", "article_type"]
    readonly_fields = ["image_problem", "image_fetched_from", "updated_at"]
    actions = ["reembed"]

    class Media:
        css = {"all": ["css/admin.css"]}

    @admin.display(description="Photo")
    def photo(self, product: Product) -> str:
        return thumbnail(product.image_url)

    def get_urls(self) -> list[URLPattern]:
        """The add and change forms take a photo: bodies up to ``FINDER_MAX_PHOTO_BYTES``."""
        return limit_bodies(super().get_urls(), "FINDER_MAX_PHOTO_BYTES", "catalog_product_add",
                            "catalog_product_change")

    def save_model(self, request: HttpRequest, obj: Product, form: ModelForm, change: bool) -> None:
        replaced = ""
        if "image" in form.changed_data:
            obj.image_problem = ""
            replaced = Product.objects.filter(pk=obj.pk).values_list("image", flat=True).first() or ""
        super().save_model(request, obj, form, change)
        if replaced:
            transaction.on_commit(lambda: services.delete_photos([replaced]))
        if not change:
            transaction.on_commit(lambda: services.announce_changed([obj.pk]))
        elif form.changed_data:
            changed = set(form.changed_data)
            transaction.on_commit(lambda: services.announce_changed([obj.pk], changed))
        if obj.image_fetch_pending:
            transaction.on_commit(lambda: services.queue_fetches([obj.pk]))

    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        services.delete_products(Product.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        services.delete_products(queryset)

    @admin.action(description="Re-embed selected products")
    def reembed(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        count = services.reembed(queryset)
        self.message_user(request, f"{count} products queued for embedding.", messages.SUCCESS)


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    """Catalog uploads: "Add" is the upload form; each run's page shows its live progress and
    every row that was not imported, with its line and reason."""

    list_display = ["id", "source", "state", "created", "updated", "unchanged", "created_at", "created_by"]
    list_filter = ["state"]

    def has_change_permission(self, request: HttpRequest, obj: ImportRun | None = None) -> bool:
        return False  # a run is a record of what happened, not something to edit

    def get_urls(self) -> list[URLPattern]:
        """Its progress page; and the upload ("add"), which takes bodies up to ``FINDER_MAX_UPLOAD_BYTES``."""
        progress = path("<int:run_id>/progress/", self.admin_site.admin_view(self.progress_view),
                        name="catalog_importrun_progress")
        return [progress, *limit_bodies(super().get_urls(), "FINDER_MAX_UPLOAD_BYTES", "catalog_importrun_add")]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        # An upload larger than FINDER_MAX_UPLOAD_BYTES was refused before this view (get_urls).
        form, limit = CatalogUploadForm(), settings.FINDER_MAX_UPLOAD_BYTES
        if request.method == "POST":
            form = CatalogUploadForm(request.POST, request.FILES)
            if form.is_valid():
                run = services.store_upload(form.files_by_role(), request.user, sync=form.cleaned_data["sync"])
                services.queue_import(run)
                return HttpResponseRedirect(reverse("admin:catalog_importrun_change", args=[run.pk]))
        return TemplateResponse(request, "admin/catalog/upload.html", {
            **self.admin_site.each_context(request), "title": "Upload a catalog", "form": form,
            "opts": self.model._meta, "max_mb": limit // 1_000_000,
        })

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        run = get_object_or_404(ImportRun, pk=object_id)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        photos = selectors.photo_urls([row["id"] for row in (*run.rejected, *run.images_converted)])
        return TemplateResponse(request, "admin/catalog/import_run.html", {
            **self.admin_site.each_context(request), "title": str(run), "run": run, "opts": self.model._meta,
            "progress": selectors.import_progress(run),
            "rejected": [{**row, "photo": thumbnail(photos.get(str(row["id"])))} for row in run.rejected],
            "converted": [{**row, "photo": thumbnail(photos.get(str(row["id"])))} for row in run.images_converted],
        })

    def progress_view(self, request: HttpRequest, run_id: int) -> JsonResponse:
        run = get_object_or_404(ImportRun, pk=run_id)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        return JsonResponse(selectors.import_progress(run))
