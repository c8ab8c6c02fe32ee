"""JSON API v1: session or token auth (``Authorization: Token <token>``); none answers 401."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import generics, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from catalog import selectors as catalog_selectors
from catalog.models import Product
from search.connection import SearchUnavailable
from search.filters import FilterParams, filters_from_query
from search.photos import BadPhoto, open_photo
from search.selectors import By, NotSearchable, search_products, similar_products, similar_to_image
from search.serializers import ProductSerializer


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus: search down answers 503 with a JSON error, never a stack trace."""
    if isinstance(exc, SearchUnavailable):
        return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    return drf_exception_handler(exc, context)


class StatusView(APIView):
    def get(self, request: Request) -> Response:
        return Response(catalog_selectors.status_counts())


class ProductPagination(PageNumberPagination):
    page_size = 24
    page_size_query_param = "page_size"
    max_page_size = 100


class ProductListView(generics.ListAPIView):
    serializer_class = ProductSerializer
    pagination_class = ProductPagination

    def get_queryset(self) -> QuerySet[Product]:
        return catalog_selectors.products(filters_from_query(self.request.query_params))


class ProductDetailView(generics.RetrieveAPIView):
    serializer_class = ProductSerializer
    queryset = Product.objects.all()
    lookup_url_kwarg = "product_id"


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
    def get(self, request: Request, product_id: int) -> Response:
        params = SimilarParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        product = get_object_or_404(Product, pk=product_id)
        try:
            data = params.validated_data
            results = similar_products(product.id, By(data["by"]), params.filters(), k=data["k"], page=data["page"],
                                       weight=data["weight"])
        except NotSearchable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response({"results": results, "page": params.validated_data["page"]})


class SearchParams(DepthParams):
    q = serializers.CharField(max_length=200, trim_whitespace=True)


class SearchView(APIView):
    throttle_scope = "search"

    def get(self, request: Request) -> Response:
        params = SearchParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        found = search_products(params.validated_data["q"], params.filters(), k=params.validated_data["k"],
                                page=params.validated_data["page"])
        return Response({"results": found.results, "page": found.page, "candidates": found.candidates,
                         "understood": found.understood, "relaxed": found.relaxed})


class ImageSearchParams(FilterParams):
    k = serializers.IntegerField(min_value=1, max_value=100, default=12)


class ImageSearchView(APIView):
    """``POST /api/v1/search/image``: multipart field ``image``; filters as query parameters."""

    throttle_scope = "photo"

    def post(self, request: Request) -> Response:
        params = ImageSearchParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        try:
            image = open_photo(request.FILES.get("image"))
        except BadPhoto as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"results": similar_to_image(image, params.filters(), k=params.validated_data["k"])})
