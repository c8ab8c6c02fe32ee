"""The product attributes a shopper filters by: one table that everything else reads.

The importer's columns, the model's fields, the index's tag fields, the filters and their query
parameters, the facets and their labels, the API's fields and the search box's understanding
all come from :data:`ATTRIBUTES`. Adding an attribute is a row here, a model field and a
migration (docs/recipes.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attribute:
    """A product attribute with a handful of exact values: a tag in the index, a filter, a facet."""

    #: The query parameter (``?category=Footwear``, ``not_category=...``) and the facet's key.
    parameter: str
    #: The Product field, and the index's and the document's field of the same name.
    field: str
    #: The column of a catalog file (the public set's spelling).
    column: str
    #: What the sidebar calls it.
    label: str
    #: A catalog file must have the column (and a row a value).
    required: bool = False
    #: The search box turns the attribute's values that a query names into a filter.
    understood: bool = False
    #: The attribute it narrows (its values lie within that one's): once a query names this
    #: attribute, the broader one is not looked for (an article type says its sub category).
    narrows: str = ""
    #: Its values are offered as the shopper types in the search box (autocomplete).
    suggested: bool = False
    max_length: int = 64


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("gender", "gender", "gender", "Gender", required=True, understood=True, max_length=32),
    Attribute("category", "master_category", "masterCategory", "Category", required=True),
    Attribute("sub_category", "sub_category", "subCategory", "Sub category", required=True, understood=True,
              suggested=True),
    Attribute("article_type", "article_type", "articleType", "Product type", required=True, understood=True,
              narrows="sub_category", suggested=True),
    Attribute("base_colour", "base_colour", "baseColour", "Colour", understood=True, suggested=True),
    Attribute("brand", "brand", "brand", "Brand", understood=True, suggested=True),
    Attribute("season", "season", "season", "Season", max_length=32),
    Attribute("usage", "usage", "usage", "Usage"),
)
BY_PARAMETER = {attribute.parameter: attribute for attribute in ATTRIBUTES}
#: Product fields of the attributes, in the table's order.
FIELDS = tuple(attribute.field for attribute in ATTRIBUTES)
#: The attributes whose values autocomplete offers.
SUGGESTED = tuple(attribute for attribute in ATTRIBUTES if attribute.suggested)
