from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from catalog.models import Product
from search.services import queue_embedding


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "gender", "master_category", "article_type", "status", "status_reason"]
    list_filter = ["status", "gender", "master_category"]
    search_fields = ["id", "name", "article_type"]
    readonly_fields = ["status", "status_reason", "updated_at"]
    actions = ["reembed"]

    @admin.action(description="Re-embed selected products")
    def reembed(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        ids = list(queryset.values_list("id", flat=True))
        queryset.update(status=Product.Status.PENDING, status_reason="")
        queue_embedding(ids)
        self.message_user(request, f"{len(ids)} products queued for embedding.", messages.SUCCESS)
