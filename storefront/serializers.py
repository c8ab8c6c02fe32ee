"""The product as the API shows it from the database: the shape of the index's documents."""

from __future__ import annotations

from rest_framework import serializers

from catalog.models import Product
from search.store.documents import FIELDS


class ProductSerializer(serializers.ModelSerializer):
    image_url = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Product
        # The shape of the index's documents, so that every answer shows a product the same way.
        fields = list(FIELDS)
