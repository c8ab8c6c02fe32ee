"""The product as the API and the index's JSON documents show it: one shape for both."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from catalog.models import Product


class ProductSerializer(serializers.ModelSerializer):
    image_url = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Product
        fields = ["id", "name", "gender", "master_category", "sub_category", "article_type",
                  "base_colour", "season", "year", "usage", "image_url"]


def product_document(product: Product) -> dict[str, Any]:
    return dict(ProductSerializer(product).data)
