"""Catalog pages: the product grid and the product page. Both need a login."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from catalog import selectors
from catalog.models import Product
from search.filters import Filters, filters_from_query
from search.sidebar import sidebar
from search.views import Problem

PAGE_SIZE = 24


@login_required
def product_list(request: HttpRequest) -> HttpResponse:
    problem, filters = Problem(), Filters()
    with problem.caught():
        filters = filters_from_query(request.GET)
    page = Paginator(selectors.products(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "catalog/product_list.html", {
        "page": page, "filters": filters, "sidebar": sidebar(filters),
        "status": selectors.status_counts(), "problem": problem.message,
    }, status=problem.status)


@login_required
def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    return render(request, "catalog/product_detail.html", {
        "product": product,
    })
