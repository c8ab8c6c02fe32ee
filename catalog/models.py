"""The catalog: the source of truth. The Redis index is derived from it and can be rebuilt."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Coalesce

from catalog.attributes import PRODUCT_ID, STORED

#: The fields a product's text, as search reads it, is made of (:attr:`Product.search_text`).
SEARCH_TEXT_FIELDS = ("name", "gender", "article_type", "base_colour", "usage", "description")


class Product(models.Model):
    """One product of the shop's catalog. Its attributes are the registry's
    (:data:`catalog.attributes.STORED`), added below the class; what search makes of it (its
    vectors, their state) is search's own business (:class:`search.models.IndexEntry`)."""

    id = models.CharField(primary_key=True, max_length=64, validators=[RegexValidator(PRODUCT_ID)],
                          help_text="The shop's own id (a SKU): letters, digits, '-', '_' and '.'.")
    image = models.ImageField(upload_to="products/", blank=True)
    image_problem = models.CharField(
        max_length=255, blank=True,
        help_text="Why the product has no usable image; it is then searchable by text only.",
    )
    image_fetched_from = models.URLField(
        max_length=2000, blank=True,
        help_text="The image link the photo was last fetched from (or tried): fetched again when the link changes.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.id} {self.name}"

    @property
    def image_url(self) -> str | None:
        return self.image.url if self.image else None

    @property
    def search_text(self) -> str:
        """The product's text as search sees it (the text model and keyword matching alike):
        its name, its descriptive tags and its description."""
        parts = (getattr(self, name) for name in SEARCH_TEXT_FIELDS)
        return ". ".join(p for p in parts if p and p != "NA")

    @property
    def selling_price(self) -> Decimal | None:
        """The price a shopper pays: the sale price when there is one."""
        return self.sale_price if self.sale_price is not None else self.price

    @property
    def location(self) -> tuple[float, float] | None:
        """The store's (longitude, latitude), when it has one."""
        return (self.longitude, self.latitude) if self.latitude is not None and self.longitude is not None else None

    @property
    def image_fetch_pending(self) -> bool:
        """Its image link has not been fetched yet."""
        return bool(self.image_link) and self.image_fetched_from != self.image_link


for _attribute in STORED:
    Product.add_to_class(_attribute.field, _attribute.model_field())


class ImportRun(models.Model):
    """One catalog upload through the admin, and the truth about every row of it."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        READING = "reading", "Reading the file"
        INDEXING = "indexing", "Indexing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=255, help_text="The uploaded file names.")
    folder = models.CharField(max_length=500, help_text="Where the upload was stored on disk.")
    state = models.CharField(max_length=16, choices=State, default=State.QUEUED)
    error = models.TextField(blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(default=list, blank=True, help_text="[{line, id, reason}] of rows not imported.")
    image_problems = models.JSONField(default=list, blank=True)
    images_converted = models.JSONField(default=list, blank=True)
    product_ids = models.JSONField(default=list, blank=True)
    removed = models.PositiveIntegerField(default=0, help_text="Products removed because the file did not list them.")
    sync = models.BooleanField(default=False, help_text="Remove the products the file does not list.")
    indexing_started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.source}"


#: The price a shopper pays (:attr:`Product.selling_price`), as the database works it out.
SELLING_PRICE = Coalesce("sale_price", "price")
#: The derived attributes the database can work out, for filtering and ordering lists.
EXPRESSIONS = {"selling_price": SELLING_PRICE}

#: Products whose image link waits to be fetched.
FETCH_PENDING = ~models.Q(image_link="") & ~models.Q(image_fetched_from=models.F("image_link"))
