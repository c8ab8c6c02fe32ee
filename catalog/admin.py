"""The catalog in the admin: every product's search status, shown and filterable, and the
actions that keep the index in step (edits re-embed, deletes leave the index)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from catalog import services
from catalog.models import Product
from catalog.services import CATALOG_FIELDS


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "gender", "master_category", "article_type", "status", "status_reason"]
    list_filter = ["status", "gender", "master_category"]
    search_fields = ["id", "name", "article_type"]
    readonly_fields = ["status", "status_reason", "image_problem", "updated_at"]
    actions = ["reembed", "retry_failed"]

    def save_model(self, request: HttpRequest, obj: Product, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change or set(form.changed_data) & set(CATALOG_FIELDS):
            services.reembed(Product.objects.filter(pk=obj.pk))

    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        services.delete_products(Product.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        services.delete_products(queryset)

    @admin.action(description="Re-embed selected products")
    def reembed(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        count = services.reembed(queryset)
        self.message_user(request, f"{count} products queued for embedding.", messages.SUCCESS)

    @admin.action(description="Retry failed products among those selected")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        count = services.reembed(queryset.filter(status=Product.Status.FAILED))
        self.message_user(request, f"{count} failed products queued again.", messages.SUCCESS)
