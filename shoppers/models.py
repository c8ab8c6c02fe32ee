"""A shopper's own data: removed with their account."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from catalog.models import Product


class ProductMark(models.Model):
    """A mark a shopper puts on a product, once: a favourite, a "not for me"."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="%(class)ss")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "product"], name="one-%(class)s-a-product")]


class Favourite(ProductMark):
    """A product a shopper keeps (the heart on a card)."""

    def __str__(self) -> str:
        return f"{self.user} ♥ {self.product_id}"


class View(models.Model):
    """A product a signed-in shopper opened: the latest :data:`shoppers.services.VIEWS_KEPT` are kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="views")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    viewed_at = models.DateTimeField()

    class Meta:
        ordering = ["-viewed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "product"], name="one-view-a-product")]

    def __str__(self) -> str:
        return f"{self.user} saw {self.product_id}"


class Dismissal(ProductMark):
    """A product a shopper said is not for them ("Not for me" on a card): For you leans away
    from it and never shows it again."""

    def __str__(self) -> str:
        return f"{self.user} ✕ {self.product_id}"
