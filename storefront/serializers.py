"""The product as the API shows it from the database: the shape of the index's documents."""

from __future__ import annotations

from rest_framework import serializers

from catalog.models import Product
from search.store.documents import FIELDS


class ProductSerializer(serializers.ModelSerializer):
    image_url = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Product
        # The shape of the index's documents, so that every answer shows a product the same way.
        fields = list(FIELDS)


class ScoredProductSerializer(ProductSerializer):
    """A product in a ranking: how well it matches, and why (the index's document)."""

    score = serializers.FloatField(help_text="similarity (cosine), or for a search the fused rank score")
    explanation = serializers.DictField(help_text="what placed it: vector, metric, ranks, scores")

    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields, "score", "explanation"]


class SimilarAnswer(serializers.Serializer):
    results = ScoredProductSerializer(many=True)
    page = serializers.IntegerField()


class SearchAnswer(SimilarAnswer):
    candidates = serializers.IntegerField(help_text="matches ranked, over all pages")
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
    id = serializers.IntegerField(required=False, help_text="the product's, for kind=product")


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
    mrr = serializers.FloatField(help_text="mean reciprocal rank of the first result opened (0 for none)")


class TopQuery(QueryCounts):
    query = serializers.CharField()


class AnalyticsAnswer(QueryCounts):
    first_day = serializers.DateField(help_text="the period's first day")
    last_day = serializers.DateField(help_text="and its last, today")
    top_queries = TopQuery(many=True)
