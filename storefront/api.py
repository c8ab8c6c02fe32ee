"""JSON API v1. The catalog's read endpoints are open to everyone, under the anonymous throttle
(:mod:`storefront.access`: ``FINDER_LOGIN_REQUIRED`` closes them); the rest take a session or
a token (``Authorization: Token <token>``), and answer 401 without one. Errors answer
``{"detail": ...}`` (:mod:`storefront.errors`); ``/api/v1/schema`` describes it all."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.http import QueryDict
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import selectors as analytics_selectors
from catalog import services
from catalog.attributes import BY_PARAMETER, Invalid, Kind, clean_product_id
from catalog.models import Product
from core.errors import TooLarge
from core.throttling import ScopedThrottle
from search import selectors as search_selectors
from search.filters import Filters
from search.kinds import By
from search.models import Rule
from search.query import catalog_grid
from search.query.facets import facet_counts
from search.query.ordering import Sort
from search.query.search_box import MAX_RESULTS
from search.query.similar import NotSearchable, similar_products, similar_to_image
from search.query.suggest import MAX_QUERY_LENGTH, Suggestion, suggestions
from shoppers.selectors import favourite_products, picks_for
from shoppers.services import dismiss, set_favourite
from storefront.access import CatalogReader, CatalogWriter, RuleEditor, SearchAnalyst
from storefront.filtering import FilterParams, printable
from storefront.photos import open_photo
from storefront.searching import SEARCHES, shopper_search
from storefront.serializers import (
    AnalyticsAnswer,
    BulkAnswer,
    FavouritesAnswer,
    ImageSearchAnswer,
    ProblemSerializer,
    ProductPageSerializer,
    ProductSerializer,
    ProductWriteSerializer,
    RecommendationsAnswer,
    RuleSerializer,
    SearchAnswer,
    SimilarAnswer,
    StatusAnswer,
    SuggestAnswer,
)


class AttributeFieldSchema(OpenApiSerializerFieldExtension):
    """The schema's account of an attribute the write API takes: its JSON type, from its kind."""

    target_class = "storefront.serializers.AttributeField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        attribute = self.target.attribute
        if attribute.kind is Kind.NUMBER:
            return {"type": "number" if attribute.decimals or attribute.minimum < 0 else "integer", "nullable": True,
                    "minimum": attribute.minimum, "maximum": attribute.maximum, "description": attribute.label}
        schema: dict[str, Any] = {"type": "string", "maxLength": attribute.max_length, "description": attribute.label}
        if attribute.kind is Kind.URL:
            schema["format"] = "uri"
        if attribute.choices:  # said in words: an enum here would collide with the read serializer's
            schema["description"] += f": one of {', '.join(attribute.choices)}"
        return schema


class TokenScheme(KnoxTokenScheme):
    """The schema's account of the API's tokens: knox's (checked by :mod:`storefront.authentication`)."""

    target_class = "storefront.authentication.TokenAuthentication"


PROBLEM = OpenApiResponse(ProblemSerializer, description="{\"detail\": message}")
PRODUCT_ID = OpenApiParameter("product_id", str, OpenApiParameter.PATH,
                              description="the shop's own id (a SKU): letters, digits, '-', '_', '.'")
ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="A bad parameter: {parameter: [messages]}"),
    401: OpenApiResponse(ProblemSerializer, description="No login or token (a private catalog), or a bad token"),
    429: OpenApiResponse(ProblemSerializer, description="Too many requests: wait, then try again"),
    503: OpenApiResponse(ProblemSerializer, description="Search is unavailable for a moment (Redis down, "
                                                        "the index warming up)"),
}


class StatusView(APIView):
    """How much of the catalog is searchable: for the shop's people, not its shoppers."""

    @extend_schema(responses={200: StatusAnswer, **ERRORS})
    def get(self, request: Request) -> Response:
        return Response(search_selectors.status_counts())


class ProductPagination(PageNumberPagination):
    page_size = 24
    page_size_query_param = "page_size"
    max_page_size = 100


def _sort_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=[s.value for s in Sort], default=Sort.RELEVANCE.value,
                                   help_text="relevance (for a list without a query: the catalog's order), newest "
                                             "(the latest season first), or name")


class SortParams(FilterParams):
    sort = _sort_field()


@extend_schema(parameters=[SortParams], responses={200: ProductSerializer(many=True), **ERRORS})
class ProductListView(generics.ListAPIView):
    """The catalog, filtered and sorted, a page at a time (``page``, ``page_size``)."""

    permission_classes = [CatalogReader]
    serializer_class = ProductSerializer
    pagination_class = ProductPagination

    def get_queryset(self) -> QuerySet[Product]:
        params = SortParams(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return catalog_grid.products(params.filters(), Sort(params.validated_data["sort"]))


class ProductView(APIView):
    """``GET /api/v1/products/<id>`` shows a product. For staff whose token's account may change
    products (``catalog.change_product``): ``PUT`` creates it (201) or replaces it (200) from the
    registry's fields, ``name`` required; ``PATCH`` changes the fields given (200); ``DELETE``
    (``catalog.delete_product``) removes it (204). Bad input answers 400 naming the field and
    writes nothing. A write is searchable within seconds; a change that leaves the name, the
    description and the photo alone re-embeds nothing."""

    permission_classes = [CatalogWriter]

    @extend_schema(parameters=[PRODUCT_ID], responses={200: ProductPageSerializer, 404: PROBLEM, **ERRORS})
    def get(self, request: Request, product_id: str) -> Response:
        return Response(ProductPageSerializer(get_object_or_404(Product, pk=product_id)).data)

    @extend_schema(parameters=[PRODUCT_ID], request=ProductWriteSerializer, responses={
        200: ProductSerializer, 201: ProductSerializer, 403: PROBLEM, **ERRORS})
    def put(self, request: Request, product_id: str) -> Response:
        values = _product_values(request.data, product_id, partial=False)
        written = services.write_products({product_id: values}, replace=True)
        return Response(ProductSerializer(Product.objects.get(pk=product_id)).data,
                        status=status.HTTP_201_CREATED if written.created else status.HTTP_200_OK)

    @extend_schema(parameters=[PRODUCT_ID], request=ProductWriteSerializer, responses={
        200: ProductSerializer, 403: PROBLEM, 404: PROBLEM, **ERRORS})
    def patch(self, request: Request, product_id: str) -> Response:
        product = get_object_or_404(Product, pk=product_id)
        services.write_products({product_id: _product_values(request.data, product_id, partial=True)},
                                existing={product_id: product})
        return Response(ProductSerializer(Product.objects.get(pk=product_id)).data)

    @extend_schema(parameters=[PRODUCT_ID], responses={204: None, 403: PROBLEM, 404: PROBLEM, **ERRORS})
    def delete(self, request: Request, product_id: str) -> Response:
        get_object_or_404(Product, pk=product_id)
        services.delete_products(Product.objects.filter(pk=product_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _product_values(data: Any, product_id: str, partial: bool) -> dict[str, Any]:
    """A product's fields from a request's JSON, checked; raises 400 naming the bad ones."""
    if not isinstance(data, dict):
        raise serializers.ValidationError({"detail": "Send a product as a JSON object."})
    if "id" in data and str(data["id"]) != product_id:
        raise serializers.ValidationError({"id": ["differs from the id in the URL"]})
    checked = ProductWriteSerializer(data=data, partial=partial)
    checked.is_valid(raise_exception=True)
    return dict(checked.validated_data)


#: Lines one bulk request may hold.
MAX_BULK_LINES = 10_000
#: Products written to the database at a time.
BULK_BATCH = 1000


class BulkView(APIView):
    """``POST /api/v1/products/bulk``, ``Content-Type: application/x-ndjson``: a product a line (a
    whole product, as ``PUT`` takes it, with its ``id``) or ``{"delete": "<id>"}``. Every good line
    is written; each bad one is answered in ``errors`` with its line (counted from 1; blank lines
    are skipped) and why. At most 10,000 lines and ``FINDER_MAX_BULK_BYTES``."""

    permission_classes = [CatalogWriter]
    parser_classes: list[type] = []  # the body is read here, a line at a time

    @extend_schema(request={"application/x-ndjson": {"type": "string"}},
                   responses={200: BulkAnswer, 403: PROBLEM, 413: PROBLEM, 415: PROBLEM, **ERRORS})
    def post(self, request: Request) -> Response:
        if request.content_type.split(";")[0].strip() not in ("application/x-ndjson", "application/jsonl"):
            raise exceptions.UnsupportedMediaType(request.content_type)
        products: dict[str, dict[str, Any]] = {}
        deletes: list[str] = []
        errors: list[dict[str, Any]] = []
        for number, line in enumerate(request._request, start=1):
            if number > MAX_BULK_LINES:
                raise TooLarge(f"Send at most {MAX_BULK_LINES:,} lines a request.")
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                errors.append({"line": number, "id": "", "detail": f"not JSON: {exc}"})
                continue
            problem, product_id = self._line(item, products, deletes)
            if problem:
                errors.append({"line": number, "id": product_id, "detail": problem})
        if not request.user.has_perm("catalog.delete_product") and deletes:
            raise exceptions.PermissionDenied("Deleting products takes the permission catalog.delete_product.")
        created = updated = 0
        ids = list(products)
        for start in range(0, len(ids), BULK_BATCH):
            written = services.write_products({pid: products[pid] for pid in ids[start:start + BULK_BATCH]},
                                              replace=True)
            created, updated = created + len(written.created), updated + len(written.updated)
        deleted = 0
        for start in range(0, len(deletes), BULK_BATCH):
            deleted += services.delete_products(Product.objects.filter(pk__in=deletes[start:start + BULK_BATCH]))
        return Response({"created": created, "updated": updated, "deleted": deleted, "errors": errors})

    @staticmethod
    def _line(item: Any, products: dict[str, dict[str, Any]], deletes: list[str]) -> tuple[str, str]:
        """Take one line's product or deletion; what is wrong with it (and its id), or ("", id)."""
        if not isinstance(item, dict):
            return "a line is a JSON object", ""
        if "delete" in item:
            try:
                product_id = clean_product_id(item["delete"])
            except Invalid as exc:
                return f"delete: the id {exc}", str(item["delete"])[:64]
            products.pop(product_id, None)
            deletes.append(product_id)
            return "", product_id
        try:
            product_id = clean_product_id(item.get("id"))
        except Invalid as exc:
            return f"id {exc}", str(item.get("id", ""))[:64]
        checked = ProductWriteSerializer(data=item)
        if not checked.is_valid():
            return "; ".join(f"{field}: {' '.join(str(m) for m in messages)}"
                             for field, messages in checked.errors.items()), product_id
        products[product_id] = dict(checked.validated_data)
        return "", product_id


class DepthParams(FilterParams):
    """``k`` results a page, page ``page``: together at most ``FINDER_MAX_DEPTH`` deep."""

    k = serializers.IntegerField(min_value=1, max_value=100, default=12)
    page = serializers.IntegerField(min_value=1, default=1)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(data)
        if data["k"] * data["page"] > settings.FINDER_MAX_DEPTH:
            raise serializers.ValidationError({"page": f"k x page may be at most {settings.FINDER_MAX_DEPTH}: "
                                                       "ask for fewer results a page, or an earlier page"})
        return data


class SimilarParams(DepthParams):
    by = serializers.ChoiceField(choices=[b.value for b in By], default=By.TEXT.value)
    weight = serializers.FloatField(min_value=0, max_value=1, default=0.5, help_text="with by=both: the image's share")


class SimilarView(APIView):
    """Products like this one, by ``text``, ``image`` or ``both`` (blended), within the filters."""

    permission_classes = [CatalogReader]

    @extend_schema(parameters=[SimilarParams, PRODUCT_ID], responses={
        200: SimilarAnswer, 404: PROBLEM,
        409: OpenApiResponse(ProblemSerializer, description="The product has no vector of that kind (no photo)"),
        **ERRORS})
    def get(self, request: Request, product_id: str) -> Response:
        data, filters = similar_params(request.META.get("QUERY_STRING", ""))
        try:
            results = similar_products(product_id, By(data["by"]), filters, k=data["k"], page=data["page"],
                                       weight=data["weight"])
        except NotSearchable:
            # The database is asked only now: a product it does not have is not found, not unsearchable.
            get_object_or_404(Product, pk=product_id)
            raise
        return Response({"results": results, "page": data["page"]})


@functools.lru_cache(maxsize=4096)
def similar_params(query: str) -> tuple[Mapping[str, Any], Filters]:
    """:class:`SimilarParams` of a query string, validated once per process: the same questions
    come again and again, and DRF's validation costs more than answering from a kept answer. A
    bad one raises (and is not kept). The settings it reads (FINDER_MAX_DEPTH) hold for the life
    of a process."""
    params = SimilarParams(data=QueryDict(query))
    params.is_valid(raise_exception=True)
    return MappingProxyType(params.validated_data), params.filters()


class SearchParams(FilterParams):
    """A search pages through all its matches, as deep as the index ranks (``MAX_RESULTS``), not
    ``FINDER_MAX_DEPTH``."""

    q = serializers.CharField(max_length=200, trim_whitespace=True, validators=[printable])
    k = serializers.IntegerField(min_value=1, max_value=100, default=12)
    page = serializers.IntegerField(min_value=1, default=1)
    sort = _sort_field()
    exact = serializers.BooleanField(default=False, help_text="search the words as typed: no spelling correction")
    facets = serializers.BooleanField(default=False, help_text="count the matches' values of each filter too")
    by = serializers.ChoiceField(choices=list(SEARCHES), default="text",
                                 help_text="text: the products' words and meaning; image: what their photos show, "
                                           "whatever their names say (sort, exact and facets do not apply)")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(data)
        if data["by"] == "image" and (data["sort"] != Sort.RELEVANCE.value or data["exact"] or data["facets"]):
            raise serializers.ValidationError({"by": "by=image ranks by the photos alone: sort, exact and facets "
                                                     "apply to by=text only"})
        if data["k"] * data["page"] > MAX_RESULTS:
            raise serializers.ValidationError({"page": f"k x page may be at most {MAX_RESULTS:,}, the most results "
                                                       "the index ranks"})
        return data


class SearchView(APIView):
    """The search box: the shopper's words, by meaning and by keyword, forgiving misspellings and
    reading synonyms, within the filters."""

    permission_classes = [CatalogReader]
    throttle_scope = "search"

    @extend_schema(parameters=[SearchParams], responses={200: SearchAnswer, **ERRORS})
    def get(self, request: Request) -> Response:
        params = SearchParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        filters = params.filters()
        options = {"sort": Sort(data["sort"]), "exact": data["exact"]} if data["by"] == "text" else {}
        found, search_id = shopper_search(request._request, data["q"], filters, data["by"], k=data["k"],
                                          page=data["page"], **options)
        answer = {"results": found.results, "page": found.page, "count": found.count,
                  "understood": found.understood, "relaxed": found.relaxed, "corrected": found.corrected,
                  "synonyms": list(found.synonyms), "search_id": search_id}
        if data["facets"]:
            counted = facet_counts(filters, found.matches, multi_select=False, most=None, ranges=False)
            answer["facets"] = {parameter: dict(values) for parameter, values in counted.counts.items()}
        return Response(answer)


class RulesView(generics.ListCreateAPIView):
    """``GET /api/v1/rules`` lists the shop's rules, the newest first; ``POST`` adds one (201, with
    its ``id``). Staff with the rule permissions only. A rule applies to searches within seconds."""

    permission_classes = [RuleEditor]
    serializer_class = RuleSerializer
    queryset = Rule.objects.all()
    pagination_class = None


class RuleView(generics.RetrieveUpdateDestroyAPIView):
    """``GET``, ``PUT`` (the whole rule) and ``DELETE`` one rule (``PATCH`` changes the fields given)."""

    permission_classes = [RuleEditor]
    serializer_class = RuleSerializer
    queryset = Rule.objects.all()


class SuggestParams(serializers.Serializer):
    q = serializers.CharField(max_length=MAX_QUERY_LENGTH, trim_whitespace=True, validators=[printable],
                              help_text="what the shopper typed so far")


class SuggestView(APIView):
    """``GET /api/v1/suggest?q=<prefix>``: what the shopper may mean, as they type."""

    permission_classes = [CatalogReader]
    throttle_scope = "suggest"
    #: Its own rate only: a shopper typing asks once a keystroke or two, far more often than
    #: the anonymous rate for the rest of the API allows.
    throttle_classes = [ScopedThrottle]

    @extend_schema(parameters=[SuggestParams], responses={200: SuggestAnswer, **ERRORS})
    def get(self, request: Request) -> Response:
        params = SuggestParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response({"suggestions": [suggestion_json(s) for s in suggestions(params.validated_data["q"])]})


def suggestion_json(suggestion: Suggestion) -> dict[str, Any]:
    """A suggestion with what the shopper reads beside it (``label``) and where it leads (``url``)."""
    if suggestion.kind == "product":
        return {"text": suggestion.text, "kind": "product", "label": "Product", "id": suggestion.product_id,
                "url": reverse("storefront:detail", args=[suggestion.product_id])}
    if suggestion.kind == "query":
        return {"text": suggestion.text, "kind": "query", "label": "Popular search",
                "url": f"{reverse('storefront:search')}?{urlencode({'q': suggestion.text})}"}
    return {"text": suggestion.text, "kind": suggestion.kind, "label": BY_PARAMETER[suggestion.kind].label,
            "url": f"{reverse('storefront:list')}?{urlencode({suggestion.kind: suggestion.text})}"}


class FavouritesView(APIView):
    """``GET /api/v1/me/favourites``: the signed-in shopper's favourites, the latest first."""

    @extend_schema(responses={200: FavouritesAnswer, **ERRORS})
    def get(self, request: Request) -> Response:
        return Response({"results": ProductSerializer(favourite_products(request._request), many=True).data})


class _ProductMarkView(APIView):
    """``PUT`` puts the shopper's mark on a product, ``DELETE`` takes it off; both 204."""

    def mark(self, request: Request, product: Product, on: bool) -> None:
        raise NotImplementedError

    @extend_schema(parameters=[PRODUCT_ID], request=None, responses={204: None, 404: PROBLEM, **ERRORS})
    def put(self, request: Request, product_id: str) -> Response:
        self.mark(request, get_object_or_404(Product, pk=product_id), on=True)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[PRODUCT_ID], responses={204: None, 404: PROBLEM, **ERRORS})
    def delete(self, request: Request, product_id: str) -> Response:
        self.mark(request, get_object_or_404(Product, pk=product_id), on=False)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FavouriteView(_ProductMarkView):
    """``PUT`` keeps a product among the shopper's favourites, ``DELETE`` lets it go; both 204."""

    def mark(self, request: Request, product: Product, on: bool) -> None:
        set_favourite(request._request, product, on)


class DismissedView(_ProductMarkView):
    """``PUT``: the product is not for the shopper (For you leans away from it and never shows it;
    it stops being a favourite); ``DELETE`` takes that back; both 204."""

    def mark(self, request: Request, product: Product, on: bool) -> None:
        dismiss(request.user, product, on)


class RecommendationParams(FilterParams):
    k = serializers.IntegerField(min_value=1, max_value=100, default=12)


class RecommendationsView(APIView):
    """``GET /api/v1/me/recommendations``: products for the signed-in shopper, from their
    favourites and views and away from what they dismissed, within the filters, none of those;
    ``basis`` says ``history``, or ``popular`` (the shop's most liked) while there is nothing
    of theirs to go on."""

    @extend_schema(parameters=[RecommendationParams], responses={200: RecommendationsAnswer, **ERRORS})
    def get(self, request: Request) -> Response:
        params = RecommendationParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        picks = picks_for(request.user, params.filters(), k=params.validated_data["k"])
        return Response({"results": picks.results, "basis": picks.basis.value})


class AnalyticsParams(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=366, default=7, help_text="the last days, today included")


class AnalyticsView(APIView):
    """``GET /api/v1/analytics?days=7``: what shoppers searched for, for the shop's staff (the
    admin's Search analytics, as data). Searches reach it within a minute (the roll-up)."""

    permission_classes = [SearchAnalyst]

    @extend_schema(parameters=[AnalyticsParams], responses={200: AnalyticsAnswer, 403: PROBLEM, **ERRORS})
    def get(self, request: Request) -> Response:
        params = AnalyticsParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        period = analytics_selectors.Period.last_days(params.validated_data["days"])
        totals = analytics_selectors.totals(period)
        keys = ("searches", "zero_result", "relaxed", "clicked", "ctr", "visited", "visit_rate", "mrr")
        return Response({
            "first_day": period.first, "last_day": period.last, **{key: totals[key] for key in keys},
            "top_queries": [{"query": row["query"], **{key: row[key] for key in keys}}
                            for row in analytics_selectors.top_queries(period)],
        })


class ImageSearchParams(FilterParams):
    k = serializers.IntegerField(min_value=1, max_value=100, default=12)


class ImageSearchView(APIView):
    """``POST /api/v1/search/image``: multipart field ``image``; filters as query parameters."""

    permission_classes = [CatalogReader]
    throttle_scope = "photo"

    @extend_schema(parameters=[ImageSearchParams], request={"multipart/form-data": {
        "type": "object", "properties": {"image": {"type": "string", "format": "binary"}}, "required": ["image"]}},
        responses={200: ImageSearchAnswer, 413: PROBLEM, **ERRORS})
    def post(self, request: Request) -> Response:
        params = ImageSearchParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        image = open_photo(request.FILES.get("image"))
        return Response({"results": similar_to_image(image, params.filters(), k=params.validated_data["k"])})
