"""The search app's tables. The index itself lives in Redis; what staff tune about search lives here."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

from catalog.attributes import ATTRIBUTES, BY_PARAMETER, PRODUCT_ID
from catalog.models import Product

#: A synonym: words of letters, digits and hyphens, as a shopper types them.
TERM = re.compile(r"[\w-]+(?: [\w-]+)*")
MAX_TERM_LENGTH = 40
#: A rule's words: letters or digits somewhere.
WORD = re.compile(r"\w")
#: Products a rule pins or hides, and boosts it makes, at most.
MAX_RULE_IDS = 100
MAX_WEIGHT = 100


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


#: The attributes whose values have glosses (the attribute table's ``glossed``).
GLOSSED = [(attribute.parameter, attribute.label) for attribute in ATTRIBUTES if attribute.glossed]
MAX_GLOSS_LENGTH = 300


class Gloss(models.Model):
    """A few plain words on what one value of an attribute is and is for ("Sunglasses": "dark
    glasses that keep the sun out of your eyes").

    The search box reads a shopper's need or occasion against them with the text model
    (:mod:`search.query.intent`), so "keep the sun out of my eyes" finds sunglasses though it
    names none. A value with no gloss is read by its own name. Edits apply to the next search,
    in every process.
    """

    attribute = models.CharField(max_length=32, choices=GLOSSED)
    value = models.CharField(max_length=255, help_text="The value as the catalog writes it, e.g. “Sunglasses”.")
    text = models.TextField(max_length=MAX_GLOSS_LENGTH,
                            help_text="What it is and what it is for, in a shopper's words; no gender words "
                                      "(the query's are read apart).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "glosses"
        ordering = ["attribute", "value"]
        constraints = [models.UniqueConstraint(fields=["attribute", "value"], name="one_gloss_a_value")]

    def __str__(self) -> str:
        return f"{self.value}: {self.text}"


class Looks(models.Model):
    """What each value of the attributes a photo shows looks like to one image model: the
    classifiers :mod:`search.looks` fits on the catalog's photos, kept until the catalog or its
    vectors change. Derived data, like the index."""

    model = models.CharField(max_length=40, unique=True, help_text="the image model whose vectors they read")
    fingerprint = models.CharField(max_length=200, help_text="the catalog and index they were fitted on")
    photos = models.PositiveIntegerField(help_text="photos they were fitted on")
    classifiers = models.BinaryField(help_text="each attribute's values, weights and intercepts (numpy .npz)")
    computed_at = models.DateTimeField(auto_now=True)
    seconds = models.FloatField(help_text="how long fitting them took")

    class Meta:
        verbose_name_plural = "looks"

    def __str__(self) -> str:
        return f"looks for {self.model}, fitted on {self.photos} photos"


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


class Rule(models.Model):
    """A shop's say over the results of some queries (merchandising): products pinned to the
    first places, products hidden, attribute values boosted or buried.

    A rule applies to a query that is its query (``exact``: the same words, whatever their case,
    spacing or plural) or that holds all its words (``contains``), between ``starts`` and
    ``ends`` while ``enabled``. Search reads the rules at each query (:mod:`search.query.rules`);
    :mod:`search.rules` checks and writes them."""

    class Match(models.TextChoices):
        EXACT = "exact", "Exactly this query"
        CONTAINS = "contains", "Any query with these words"

    query = models.CharField(max_length=200, help_text="The shopper's words the rule is for.")
    match = models.CharField(max_length=16, choices=Match, default=Match.EXACT)
    pin = models.JSONField(default=list, blank=True,
                           help_text="Product ids placed first, in this order.")
    hide = models.JSONField(default=list, blank=True, help_text="Product ids never shown for the query.")
    boost = models.JSONField(default=list, blank=True,
                             help_text='[{"attribute": "brand", "value": "Nike", "weight": 5}]: the score of '
                                       'a product with that value is multiplied by the weight (over 1 lifts, '
                                       'under 1 buries).')
    starts = models.DateTimeField(null=True, blank=True, help_text="Applies from then (empty: now).")
    ends = models.DateTimeField(null=True, blank=True, help_text="Applies until then (empty: for good).")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_match_display()}: {self.query}"

    def clean(self) -> None:
        """Checks a rule however it is written (the admin, the API): a word to match, pins of
        products the catalog has, boosts of a filterable attribute's value by a positive weight."""
        errors: dict[str, str] = {}
        self.query = " ".join(self.query.split())
        if not WORD.search(self.query):
            errors["query"] = "A rule needs a word to match."
        for name in ("pin", "hide"):
            ids = getattr(self, name)
            if not isinstance(ids, list) or not all(isinstance(i, str) and PRODUCT_ID.fullmatch(i) for i in ids):
                errors[name] = "A list of product ids, as strings."
            elif len(ids) > MAX_RULE_IDS:
                errors[name] = f"At most {MAX_RULE_IDS} products."
            else:
                setattr(self, name, list(dict.fromkeys(ids)))
        if "pin" not in errors and self.pin:
            unknown = set(self.pin) - set(Product.objects.filter(pk__in=self.pin).values_list("pk", flat=True))
            if unknown:
                errors["pin"] = "No such product: " + ", ".join(i for i in self.pin if i in unknown)
        boosts = self.boost if isinstance(self.boost, list) else None
        for boost in boosts or ():
            if not isinstance(boost, dict) or boost.get("attribute") not in BY_PARAMETER \
                    or set(boost) - {"attribute", "value", "weight"}:
                errors["boost"] = ('Each boost is {"attribute", "value", "weight"}, the attribute one of: '
                                   + ", ".join(BY_PARAMETER))
                break
            weight = boost.get("weight")
            if not isinstance(boost.get("value"), str) or not boost["value"].strip() or len(boost["value"]) > 255:
                errors["boost"] = f"The value to boost of {boost['attribute']} is missing or too long."
            elif isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= MAX_WEIGHT:
                errors["boost"] = f"A boost's weight is a number over 0 and at most {MAX_WEIGHT}."
        if boosts is None:
            errors["boost"] = "A list of boosts."
        elif len(boosts) > MAX_RULE_IDS:
            errors["boost"] = f"At most {MAX_RULE_IDS} boosts."
        if self.starts and self.ends and self.ends <= self.starts:
            errors["ends"] = "A rule ends after it starts."
        if errors:
            raise ValidationError(errors)
