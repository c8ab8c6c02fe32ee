"""A shopper's own data: removed with their account."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from catalog.models import Product


class Favourite(models.Model):
    """A product a shopper keeps (the heart on a card)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favourites")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "product"], name="one-favourite-a-product")]

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


class Dismissal(models.Model):
    """A product a shopper said is not for them ("Not for me" on a card): For you leans away
    from it and never shows it again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dismissals")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "product"], name="one-dismissal-a-product")]

    def __str__(self) -> str:
        return f"{self.user} ✕ {self.product_id}"
