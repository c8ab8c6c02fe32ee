"""The catalog: the source of truth. The Redis index is derived from it and can be rebuilt."""

from django.conf import settings
from django.db import models


class Product(models.Model):
    """One product of a catalog in the layout of the public "Fashion Product Images" set."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        INDEXED = "indexed", "Indexed"
        FAILED = "failed", "Failed"

    id = models.PositiveBigIntegerField(primary_key=True, help_text="The id from the catalog file.")
    gender = models.CharField(max_length=32, db_index=True)
    master_category = models.CharField(max_length=64, db_index=True)
    sub_category = models.CharField(max_length=64)
    article_type = models.CharField(max_length=64)
    base_colour = models.CharField(max_length=64, blank=True)
    season = models.CharField(max_length=32, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    usage = models.CharField(max_length=64, blank=True)
    brand = models.CharField(max_length=64, blank=True, help_text="From the catalog's brand column, or the name.")
    name = models.CharField(max_length=255)
    latitude = models.FloatField(null=True, blank=True, help_text="Store location, for geo filters.")
    longitude = models.FloatField(null=True, blank=True)
    image = models.ImageField(upload_to="products/", blank=True)
    image_problem = models.CharField(
        max_length=255, blank=True,
        help_text="Why the product has no usable image; it is then searchable by text only.",
    )

    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING, db_index=True,
                              help_text="Pending until the product is searchable by text; failed with a reason.")
    image_pending = models.BooleanField(default=False, help_text="Its image is queued for embedding.")
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When its text was last queued for embedding.")
    image_queued_at = models.DateTimeField(null=True, blank=True,
                                           help_text="When its image was last queued for embedding.")
    status_reason = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.id} {self.name}"

    @property
    def image_url(self) -> str | None:
        return self.image.url if self.image else None

    def search_text(self) -> str:
        """The product's text as search sees it (the text model and keyword matching alike):
        its name and its descriptive tags."""
        parts = [self.name, self.gender, self.article_type, self.base_colour, self.usage]
        return ". ".join(p for p in parts if p and p != "NA")


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
    indexing_started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.source}"


#: Products with embedding work still queued: their text, or their image.
PENDING = models.Q(status=Product.Status.PENDING) | models.Q(image_pending=True)
