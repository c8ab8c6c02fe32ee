"""Searches and clicks as the roll-up writes them (:mod:`analytics.services`): no shopper's
identity, only a salted hash that tells one visitor's searches from another's."""

from __future__ import annotations

from django.db import models


class Search(models.Model):
    """One search a shopper made (the first page of results)."""

    search_id = models.CharField(max_length=32, unique=True, help_text="what its clicks refer to")
    at = models.DateTimeField(db_index=True)
    visitor = models.CharField(max_length=16, help_text="a salted hash of the session: never the shopper")
    query = models.CharField(max_length=200, help_text="as typed")
    normalised = models.CharField(max_length=200, db_index=True, help_text="lower case, single spaces: for grouping")
    corrected = models.CharField(max_length=200, blank=True, help_text="as searched, when misspelled")
    filters = models.JSONField(default=list, help_text="the shopper's own filters, as (parameter, value) pairs")
    understood = models.JSONField(default=dict, help_text="attribute values read from the query")
    relaxed = models.BooleanField(default=False, help_text="nothing matched every understood value")
    results = models.PositiveIntegerField(help_text="matches ranked")
    matched = models.BooleanField(default=True, help_text="the catalog had its words (a keyword, an attribute): "
                                                          "nearest neighbours come back for any query, gibberish too")
    latency_ms = models.FloatField()

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "searches"
        indexes = [models.Index(fields=["visitor", "-at"], name="search-by-visitor")]

    def __str__(self) -> str:
        return f"{self.query!r} ({self.results} results)"


class RuleHit(models.Model):
    """One of the shop's rules applied to a search (:class:`search.models.Rule`). Kept by the
    rule's id, so that a rule deleted since still counts in the weeks it ran."""

    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="rule_hits")
    rule_id = models.PositiveIntegerField(db_index=True)

    def __str__(self) -> str:
        return f"rule {self.rule_id} on {self.search_id}"


class Click(models.Model):
    """A shopper opened a result of a search: at ``position`` (1 is the first)."""

    event = models.CharField(max_length=40, unique=True, help_text="its stream entry: rolled up once")
    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="clicks")
    product_id = models.CharField(max_length=64, help_text="the product's id as its link named it: any id fits")
    position = models.PositiveIntegerField()
    at = models.DateTimeField()

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"#{self.position} of {self.search_id}"


class Visit(models.Model):
    """A shopper followed a product's "View in shop" link to the shop's own page: from a search's
    result (``search``), or from a product page reached any other way (no search)."""

    event = models.CharField(max_length=40, unique=True, help_text="its stream entry: rolled up once")
    search = models.ForeignKey(Search, null=True, blank=True, on_delete=models.CASCADE, related_name="visits")
    product_id = models.CharField(max_length=64)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"visit to {self.product_id}"


class Cursor(models.Model):
    """How far the roll-up has read the stream, moved in the same transaction as the rows it
    wrote: an entry is rolled up exactly once, even when a roll-up dies half-way."""

    name = models.CharField(max_length=40, primary_key=True)
    last_event = models.CharField(max_length=40)
    set_aside = models.PositiveIntegerField(default=0, help_text="entries the database would not take, skipped")

    def __str__(self) -> str:
        return f"{self.name} at {self.last_event}"
