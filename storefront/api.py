"""JSON API v1: session or token auth (``Authorization: Token <token>``); none answers 401.
Errors answer ``{"detail": ...}`` (:mod:`storefront.errors`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import generics, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors as catalog_selectors
from catalog.models import Product
from search.kinds import By
from search.query.box import search_products
from search.query.filters import FilterParams, filters_from_query
from search.query.similar import similar_products, similar_to_image
from storefront import selectors
from storefront.photos import open_photo
from storefront.serializers import ProductSerializer


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
        return selectors.products(filters_from_query(self.request.query_params))


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
        data = params.validated_data
        results = similar_products(product.id, By(data["by"]), params.filters(), k=data["k"], page=data["page"],
                                   weight=data["weight"])
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
        image = open_photo(request.FILES.get("image"))
        return Response({"results": similar_to_image(image, params.filters(), k=params.validated_data["k"])})
