"""The product as the API shows it from the database (the shape of the index's documents), and
as the API takes it; both follow the attribute registry."""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.attributes import STORED, Attribute, Invalid, Kind
from catalog.models import Product
from search.looks import suggestions
from search.models import Rule
from search.store.documents import FIELDS


class ProductSerializer(serializers.ModelSerializer):
    """A product: its id (a string, the shop's own), its attributes, its photo's URL here
    (``image_url``; ``image_link`` is where the shop keeps it) and the shop's ``currency``."""

    id = serializers.CharField(read_only=True, help_text="the shop's own id (a SKU), always a string")
    image_url = serializers.CharField(read_only=True, allow_null=True)
    currency = serializers.SerializerMethodField(help_text="the shop's currency (ISO 4217), for every price")

    class Meta:
        model = Product
        # The shape of the index's documents, so that every answer shows a product the same way.
        fields = [*FIELDS, "currency"]

    def get_currency(self, product: Product) -> str:
        return settings.FINDER_CURRENCY


class SuggestedValue(serializers.Serializer):
    value = serializers.CharField(help_text="the value, as the catalog's other products spell it")
    probability = serializers.FloatField(help_text="how likely the photo classifiers find it, 0.8 or more")


class ProductPageSerializer(ProductSerializer):
    """One product, as its own page shows it: with ``suggested``, for each seen attribute the shop
    left empty (a feed without colours), the value its photo shows, by field. A suggestion is never
    written to the product, searched or filtered by."""

    suggested = serializers.SerializerMethodField()

    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields, "suggested"]

    @extend_schema_field(serializers.DictField(child=SuggestedValue()))
    def get_suggested(self, product: Product) -> dict[str, dict[str, Any]]:
        return {field: {"value": value, "probability": round(probability, 3)}
                for field, (value, probability) in suggestions(product).items()}


class AttributeField(serializers.Field):
    """One attribute as the API takes it, checked by the registry (:meth:`Attribute.clean`)."""

    def __init__(self, attribute: Attribute, **kwargs: Any) -> None:
        self.attribute = attribute
        super().__init__(allow_null=attribute.kind is Kind.NUMBER, help_text=attribute.help or attribute.label,
                         **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        try:
            value = self.attribute.clean(data)
        except Invalid as exc:
            raise serializers.ValidationError(str(exc)) from None
        if self.attribute.always and value in ("", None):
            raise serializers.ValidationError("may not be blank")
        return value

    def to_representation(self, value: Any) -> Any:
        return value


class ProductWriteSerializer(serializers.Serializer):
    """A product as ``PUT``/``PATCH /api/v1/products/<id>`` and the bulk endpoint take it: the
    registry's stored attributes (``name`` required for a whole product). A field it does not
    know is refused, so that a misspelt one is not lost quietly."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {attribute.field: AttributeField(attribute, required=attribute.always) for attribute in STORED}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        data = self.initial_data if isinstance(self.initial_data, dict) else {}
        unknown = sorted(set(data) - set(self.fields) - {"id"})
        if unknown:
            raise serializers.ValidationError({name: ["is not an attribute of a product"] for name in unknown[:20]})
        located = [attrs[name] for name in ("latitude", "longitude") if name in attrs]
        if located and (len(located) == 1 or (located[0] is None) != (located[1] is None)):
            raise serializers.ValidationError({"latitude": ["latitude and longitude go together"]})
        return attrs


class BulkAnswer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    deleted = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField(), help_text="[{line, id, detail}]: lines not written "
                                                                            "(counted from 1)")


class ScoredProductSerializer(ProductSerializer):
    """A product in a ranking: how well it matches, and why (the index's document)."""

    score = serializers.FloatField(help_text="similarity (cosine), or for a search the fused rank score")
    explanation = serializers.DictField(help_text="what placed it: vector, metric, ranks, scores")

    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields, "score", "explanation"]


class SimilarAnswer(serializers.Serializer):
    results = ScoredProductSerializer(many=True)
    page = serializers.IntegerField()


class FoundProductSerializer(ScoredProductSerializer):
    """A search's result: what in it matched the query, too."""

    highlight = serializers.DictField(child=serializers.CharField(),
                                      help_text="name (and description, where it matched) with the matched words in "
                                                "<mark>, the rest HTML-escaped")

    class Meta(ScoredProductSerializer.Meta):
        fields = [*ScoredProductSerializer.Meta.fields, "highlight"]


class SearchAnswer(serializers.Serializer):
    results = FoundProductSerializer(many=True)
    page = serializers.IntegerField()
    count = serializers.IntegerField(help_text="the products the search matched: paging ends at the last")
    facets = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()), required=False,
        help_text="with facets=1: {filter parameter: {value: products}} over the matches; each parameter's counts "
                  "add up to count, less the products without a value for it")
    understood = serializers.DictField(child=serializers.CharField(),
                                       help_text="attribute values the query named, applied as filters")
    relaxed = serializers.BooleanField(help_text="nothing matched every understood value: some were dropped")
    corrected = serializers.CharField(help_text="the query as searched, when words were misspelled; else empty")
    synonyms = serializers.ListField(child=serializers.CharField(), help_text="synonyms searched as well")
    search_id = serializers.CharField(help_text="this search for the shop's analytics (page 1): open a result at "
                                                "/products/<id>/?sid=<search_id>&pos=<position> to count the click")


class ImageSearchAnswer(serializers.Serializer):
    results = ScoredProductSerializer(many=True)


class SuggestionSerializer(serializers.Serializer):
    text = serializers.CharField()
    kind = serializers.CharField(help_text="query (a popular search), product, or an attribute: article_type, brand...")
    label = serializers.CharField(help_text="what to show beside it")
    url = serializers.CharField(help_text="the page it leads to")
    id = serializers.CharField(required=False, help_text="the product's, for kind=product")


class SuggestAnswer(serializers.Serializer):
    suggestions = SuggestionSerializer(many=True)


class StatusAnswer(serializers.Serializer):
    products = serializers.IntegerField()
    indexed = serializers.IntegerField()
    pending = serializers.IntegerField()
    failed = serializers.IntegerField()


class ProblemSerializer(serializers.Serializer):
    """Every error but a bad parameter: a message for a person."""

    detail = serializers.CharField()


class FavouritesAnswer(serializers.Serializer):
    results = ProductSerializer(many=True)


class RecommendationsAnswer(serializers.Serializer):
    results = ProductSerializer(many=True, help_text="with basis=history, each has a score and an explanation too")
    basis = serializers.ChoiceField(choices=["history", "popular"],
                                    help_text="history: from the shopper's favourites, views and dismissals; "
                                              "popular: the shop's most liked, while there is nothing of theirs")


class QueryCounts(serializers.Serializer):
    searches = serializers.IntegerField()
    zero_result = serializers.IntegerField(help_text="searches that found nothing")
    relaxed = serializers.IntegerField(help_text="searches whose understood filters were relaxed")
    clicked = serializers.IntegerField(help_text="searches with a result opened")
    ctr = serializers.FloatField(help_text="click-through rate: clicked / searches")
    visited = serializers.IntegerField(help_text="searches after which a product's link to the shop was followed")
    visit_rate = serializers.FloatField(help_text="visited / searches")
    mrr = serializers.FloatField(help_text="mean reciprocal rank of the first result opened (0 for none)")


class TopQuery(QueryCounts):
    query = serializers.CharField()


class AnalyticsAnswer(QueryCounts):
    first_day = serializers.DateField(help_text="the period's first day")
    last_day = serializers.DateField(help_text="and its last, today")
    top_queries = TopQuery(many=True)


class RuleSerializer(serializers.ModelSerializer):
    """A rule as the API reads and writes it; checked as the admin checks it (:meth:`Rule.clean`).
    A field a ``PUT`` leaves out takes its default: the rule is what was sent."""

    pin = serializers.ListField(child=serializers.CharField(), default=list, help_text="product ids, placed first")
    hide = serializers.ListField(child=serializers.CharField(), default=list, help_text="product ids never shown")
    boost = serializers.ListField(child=serializers.DictField(), default=list,
                                  help_text='[{"attribute": "brand", "value": "Nike", "weight": 5}]')
    starts = serializers.DateTimeField(allow_null=True, default=None)
    ends = serializers.DateTimeField(allow_null=True, default=None)
    enabled = serializers.BooleanField(default=True)

    class Meta:
        model = Rule
        fields = ["id", "query", "match", "pin", "hide", "boost", "starts", "ends", "enabled", "created_at",
                  "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rule = copy.copy(self.instance) if self.instance is not None else Rule()
        for name, value in attrs.items():
            setattr(rule, name, value)
        try:
            rule.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return {**attrs, **{name: getattr(rule, name) for name in ("query", "pin", "hide") if name in attrs}}
