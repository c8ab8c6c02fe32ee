"""The search app's tables. The index itself lives in Redis; what staff tune about search lives here."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

#: A synonym: words of letters, digits and hyphens, as a shopper types them.
TERM = re.compile(r"[\w-]+(?: [\w-]+)*")
MAX_TERM_LENGTH = 40


class SearchIndex(models.Model):
    """An empty table that only carries the permissions of the "Search index" admin page, so
    that staff get them the way they get every other (an unmanaged model would break
    ``dumpdata`` of the whole database)."""

    class Meta:
        default_permissions = ()
        permissions = [("view_search_index", "Can see the search index page"),
                       ("check_recall", "Can run the recall check"),
                       ("remove_suggestion", "Can take a popular search out of autocomplete")]


def split_terms(text: str) -> list[str]:
    """A group's terms: comma-separated, lower case, single spaces, each once."""
    return list(dict.fromkeys(" ".join(term.lower().split()) for term in text.split(",") if term.strip()))


class SynonymGroup(models.Model):
    """Words and phrases that mean one thing to a shopper ("sweatpants, joggers, track pants").

    The search box reads a query's term as any of its group's (:mod:`search.query.synonyms`):
    a group that holds one of the catalog's own words (a product type, a colour) lets a shopper's
    word name it. Edits apply to the next search, in every process; no restart, no reindexing.
    """

    terms = models.TextField(help_text="Comma-separated words or phrases that mean the same thing to a "
                                       "shopper, e.g. “sweatpants, joggers, track pants”.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["terms"]

    def __str__(self) -> str:
        return ", ".join(self.term_list())

    def term_list(self) -> list[str]:
        return split_terms(self.terms)

    def clean(self) -> None:
        terms = self.term_list()
        if len(terms) < 2:
            raise ValidationError({"terms": "A group needs at least two terms, separated by commas."})
        for term in terms:
            if len(term) > MAX_TERM_LENGTH or not TERM.fullmatch(term):
                raise ValidationError({"terms": f"“{term[:60]}”: a term is words (letters, digits, hyphens), "
                                                f"at most {MAX_TERM_LENGTH} characters."})
        self.terms = ", ".join(terms)


class CatalogMap(models.Model):
    """The catalog's vectors of one kind laid out in two dimensions (:mod:`search.mapping`),
    kept until the catalog or its vectors change. Derived data, like the index."""

    kind = models.CharField(max_length=20, unique=True)
    method = models.CharField(max_length=20, help_text="t-SNE (openTSNE), or PCA")
    fingerprint = models.CharField(max_length=200, help_text="the catalog and index it was computed from")
    computed_at = models.DateTimeField(auto_now=True)
    seconds = models.FloatField(help_text="how long computing it took")
    points = models.JSONField(help_text='{"ids": [...], "x": [...], "y": [...]}, x and y in [0, 1]')

    def __str__(self) -> str:
        return f"map of {self.kind} vectors ({self.method}, {len(self.points['ids'])} products)"


class IndexEntry(models.Model):
    """Where one product's vector of one kind stands: what search tracks per product (as
    wagtail's ``IndexEntry``), in a table of its own, so that the catalog knows nothing of
    vector kinds. A product without a text entry has not been seen by search yet: it is pending."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        QUEUED = "queued", "Queued"
        INDEXED = "indexed", "Indexed"
        FAILED = "failed", "Failed"

    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, help_text="The vector kind (search.kinds): text, image...")
    state = models.CharField(max_length=16, choices=State, default=State.PENDING)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When its work was last queued.")
    reason = models.CharField(max_length=255, blank=True, help_text="Why it failed.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "index entries"
        constraints = [models.UniqueConstraint(fields=["product", "kind"], name="one-entry-a-product-and-kind")]
        indexes = [models.Index(fields=["kind", "state"], name="entry-kind-state")]

    def __str__(self) -> str:
        return f"{self.product_id} {self.kind}: {self.state}"


#: Entries whose work waits: not yet queued, or queued and not done.
WAITING = (IndexEntry.State.PENDING, IndexEntry.State.QUEUED)
