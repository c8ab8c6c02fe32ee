"""A product's attributes, typed, in one registry that everything else reads.

Each :class:`Attribute` says what kind of value it holds (:class:`Kind`) and, from that, its
model field, how a value from a file, a feed or the API is checked (:meth:`Attribute.clean`),
its field in the index and in the index's documents, its filter and facet, and its API field.
The importers, the index schema, the documents, the filters, the facets, the API serializers
and the OpenAPI schema all follow :data:`ATTRIBUTES`: adding an attribute is a row here and a
migration (docs/recipes.md).

A few rows are *derived*: worked out from other attributes (the price a shopper pays, the
store's location, the text search reads) rather than stored, so that the index can filter,
sort and search by them.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models

#: A product id: the shop's own (a SKU), letters, digits, ``-``, ``_`` and ``.``, starting with a
#: letter or a digit (so that no id is ``.`` or ``..`` in a URL).
PRODUCT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: The character that separates tag values inside one index field; a tag value never holds it.
TAG_SEPARATOR = "|"


class Kind(enum.StrEnum):
    """What an attribute holds, which decides how it is stored, indexed, filtered and shown."""

    #: One of a handful of exact values: a tag in the index, a filter (``?brand=Nike``), a facet.
    TAG = "tag"
    #: A number: numeric in the index, a range filter (``?year_min=2012&year_max=2014``).
    NUMBER = "number"
    #: Words: searched as text.
    TEXT = "text"
    #: A web address (http or https): kept and shown, not searched.
    URL = "url"
    #: A place (longitude, latitude): a geo filter (``?lat=..&lon=..&radius_km=..``).
    GEO = "geo"


class Invalid(ValueError):
    """A value an attribute cannot take; the message says why, for the person who sent it."""


_URL = URLValidator(schemes=["http", "https"])
#: Whitespace a multi-line text (a description) may hold; any other control character is refused.
_LINE_BREAKS = "\n\r\t"


@dataclass(frozen=True)
class Attribute:
    """One attribute of a product."""

    #: The Product field (or, for a derived one, its property), and the index's and the
    #: document's field of the same name.
    field: str
    kind: Kind
    #: What the pages call it.
    label: str
    #: Its query parameter (``?category=Footwear``, ``not_category=...``; ``?price_min=``) and facet
    #: key; the field's name when empty.
    parameter: str = ""
    #: The column of a catalog file in the public set's layout (styles.csv), if it has one.
    column: str = ""
    #: A styles.csv must have the column (and a row a value).
    required: bool = False
    #: Every product has one, whatever brought it (a file, a feed, the API).
    always: bool = False
    #: Worked out from other attributes (a Product property), not stored.
    derived: bool = False
    #: In the index: a tag, numeric, text or geo field (URLs never are).
    indexed: bool = True
    #: A filter on the pages and the API (tags and numbers), and for tags a facet.
    filtered: bool = True
    #: In the index's documents, and so in every answer that shows a product.
    shown: bool = True
    #: The search box turns the attribute's values that a query names into a filter.
    understood: bool = False
    #: The attribute it narrows (its values lie within that one's): once a query names this
    #: attribute, the broader one is not looked for (an article type says its sub category).
    narrows: str = ""
    #: Its values have glosses (:class:`search.models.Gloss`): the search box reads a query's need
    #: or occasion against them ("keep the sun out of my eyes": Sunglasses).
    glossed: bool = False
    #: Shops label it loosely (one product serves several occasions): where the value a query
    #: names leaves the search page short, products without it, ranked by the words, fill the page.
    loose: bool = False
    #: A photo shows it: words that name its values find products by their photos
    #: (:mod:`search.looks` learns what each value looks like).
    seen: bool = False
    #: Its values are colours: a shade a query names that the catalog does not ("scarlet", "wine")
    #: is read as the nearest of them (:mod:`search.query.colours`).
    shades: bool = False
    #: Its values are offered as the shopper types in the search box (autocomplete).
    suggested: bool = False
    #: Text: the longest value, in characters. Numbers: the decimal places (0: whole numbers).
    max_length: int = 64
    decimals: int = 0
    minimum: float = 0
    maximum: float = 10**10
    #: The only values it may take (stored as written here); a value is read in lower case,
    #: spaces and hyphens as underscores ("In stock" and "out-of-stock" are ``in_stock`` and ``out_of_stock``).
    choices: tuple[str, ...] = ()
    #: Text that may run over several lines (a description).
    multiline: bool = False
    #: Text searched by its words' stems ("dresses" finds "dress"); a name is matched as typed.
    stemmed: bool = True
    #: Help for staff, in the admin.
    help: str = ""
    #: A database index on the column (the pages filter by it without the search index).
    db_index: bool = False

    def __post_init__(self) -> None:
        if not self.parameter:
            object.__setattr__(self, "parameter", self.field)

    @property
    def stored(self) -> bool:
        return not self.derived

    def model_field(self) -> models.Field:
        """The Product field that stores it."""
        common: dict[str, Any] = {"help_text": self.help, "db_index": self.db_index}
        if self.kind is Kind.NUMBER:
            if self.decimals:
                return models.DecimalField(max_digits=12, decimal_places=self.decimals, null=True, blank=True,
                                           **common)
            if self.minimum < 0:
                return models.FloatField(null=True, blank=True, **common)
            return models.PositiveIntegerField(null=True, blank=True, **common)
        if self.kind is Kind.URL:
            return models.URLField(max_length=self.max_length, blank=True, **common)
        blank = not self.always
        choices = [(choice, choice.replace("_", " ").capitalize()) for choice in self.choices] or None
        if self.max_length > 255:
            return models.TextField(blank=blank, **common)
        return models.CharField(max_length=self.max_length, blank=blank, choices=choices, **common)

    def empty(self) -> Any:
        """The value of a product that has none."""
        return None if self.kind is Kind.NUMBER else ""

    def clean(self, value: Any) -> Any:
        """``value`` as the attribute keeps it: text trimmed, a number rounded to its decimal
        places, a choice in its own spelling; :meth:`empty` for a blank. Raises :class:`Invalid`
        saying why it cannot be taken (whatever sent it: a file's cell, a feed, the API)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return self.empty()
        if self.kind is Kind.NUMBER:
            return self._number(value)
        if not isinstance(value, str):
            raise Invalid("must be text")
        text = value.strip()
        allowed = _LINE_BREAKS if self.multiline else ""
        if any(unicodedata.category(ch).startswith("C") and ch not in allowed for ch in text):
            raise Invalid("holds a control character")
        if "\ufffd" in text:
            raise Invalid("is not UTF-8 text")
        if len(text) > self.max_length:
            raise Invalid(f"is longer than {self.max_length:,} characters")
        if self.kind is Kind.URL:
            try:
                _URL(text)
            except ValidationError:
                raise Invalid("must be a web address starting http:// or https://") from None
        if self.kind is Kind.TAG and TAG_SEPARATOR in text:
            raise Invalid(f"holds '{TAG_SEPARATOR}', which separates tags")
        if self.choices:
            spelled = "_".join(text.lower().replace("-", " ").split())
            if spelled not in self.choices:
                raise Invalid(f"must be one of {', '.join(self.choices)}")
            return spelled
        return text

    def _number(self, value: Any) -> Decimal | int | float:
        if isinstance(value, bool):
            raise Invalid("must be a number")
        if isinstance(value, str) and not value.isascii():  # Decimal reads fullwidth digits too
            raise Invalid("must be a number")
        try:
            number = Decimal(value.strip() if isinstance(value, str) else str(value))
        except (InvalidOperation, ValueError, TypeError):
            raise Invalid("must be a number") from None
        if not number.is_finite():
            raise Invalid("must be a number")
        if not self.minimum <= number <= self.maximum:
            raise Invalid(f"must be from {self.minimum:g} to {self.maximum:g}")
        if self.decimals:
            return number.quantize(Decimal(1).scaleb(-self.decimals), rounding=ROUND_HALF_UP)
        if self.minimum < 0:
            return float(number)
        if number != number.to_integral_value():
            raise Invalid("must be a whole number")
        return int(number)


AVAILABILITY = ("in_stock", "out_of_stock", "preorder", "backorder")

ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("name", Kind.TEXT, "Name", column="productDisplayName", required=True, always=True, max_length=255,
              filtered=False, stemmed=False),
    Attribute("gender", Kind.TAG, "Gender", column="gender", required=True, understood=True, seen=True,
              max_length=32, db_index=True),
    Attribute("master_category", Kind.TAG, "Category", parameter="category", column="masterCategory",
              required=True, glossed=True, seen=True, db_index=True),
    Attribute("sub_category", Kind.TAG, "Sub category", column="subCategory", required=True, understood=True,
              narrows="category", glossed=True, seen=True, suggested=True),
    Attribute("article_type", Kind.TAG, "Product type", column="articleType", required=True, understood=True,
              narrows="sub_category", glossed=True, seen=True, suggested=True),
    Attribute("base_colour", Kind.TAG, "Colour", column="baseColour", understood=True, shades=True, seen=True,
              suggested=True),
    Attribute("brand", Kind.TAG, "Brand", column="brand", understood=True, suggested=True,
              help="From the catalog's brand column, or the name."),
    Attribute("season", Kind.TAG, "Season", column="season", max_length=32),
    Attribute("usage", Kind.TAG, "Usage", column="usage", understood=True, glossed=True, loose=True),
    Attribute("availability", Kind.TAG, "Availability", choices=AVAILABILITY, max_length=16),
    Attribute("google_product_category", Kind.TAG, "Google product category", max_length=255),
    Attribute("group", Kind.TAG, "Product group", filtered=False,
              help="Variants of one product share it (a feed's item_group_id); a similar row shows one of them."),
    Attribute("year", Kind.NUMBER, "Year", column="year", minimum=1900, maximum=2100),
    Attribute("price", Kind.NUMBER, "Price", decimals=2, indexed=False, filtered=False),
    Attribute("sale_price", Kind.NUMBER, "Sale price", decimals=2, indexed=False, filtered=False),
    Attribute("selling_price", Kind.NUMBER, "Price", parameter="price", derived=True, shown=False,
              decimals=2),
    Attribute("description", Kind.TEXT, "Description", max_length=5000, multiline=True, indexed=False,
              filtered=False),
    Attribute("link", Kind.URL, "Link", max_length=2000, help="The product's page in the shop."),
    Attribute("image_link", Kind.URL, "Image link", max_length=2000,
              help="Where the shop keeps the photo; the finder fetches its own copy."),
    Attribute("latitude", Kind.NUMBER, "Latitude", column="latitude", minimum=-90, maximum=90, indexed=False,
              filtered=False, shown=False, help="Store location, for geo filters."),
    Attribute("longitude", Kind.NUMBER, "Longitude", column="longitude", minimum=-180, maximum=180,
              indexed=False, filtered=False, shown=False),
    Attribute("location", Kind.GEO, "Location", derived=True, shown=False),
    Attribute("search_text", Kind.TEXT, "Text", derived=True, shown=False, filtered=False),
)
BY_FIELD = {attribute.field: attribute for attribute in ATTRIBUTES}
#: What every product has, whatever brought it.
ALWAYS = tuple(attribute.field for attribute in ATTRIBUTES if attribute.always)
#: The attributes a Product stores, in the table's order.
STORED = tuple(attribute for attribute in ATTRIBUTES if attribute.stored)
#: The tag attributes shoppers filter by, each a facet; by query parameter.
TAGS = tuple(a for a in ATTRIBUTES if a.kind is Kind.TAG and a.filtered)
BY_PARAMETER = {attribute.parameter: attribute for attribute in TAGS}
#: The numeric attributes shoppers filter by as a range (``<parameter>_min``, ``<parameter>_max``).
RANGES = tuple(a for a in ATTRIBUTES if a.kind is Kind.NUMBER and a.filtered)
RANGE_BY_PARAMETER = {attribute.parameter: attribute for attribute in RANGES}
#: The attributes whose values autocomplete offers.
SUGGESTED = tuple(attribute for attribute in ATTRIBUTES if attribute.suggested)
#: Attributes every answer shows, in the table's order.
SHOWN = tuple(attribute for attribute in ATTRIBUTES if attribute.shown)


def clean_product_id(value: Any) -> str:
    """A product id as the catalog keeps it; raises :class:`Invalid`."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not PRODUCT_ID.fullmatch(text):
        raise Invalid("must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or a digit")
    return text
