"""The shopper's pages: the catalog grid, a product, similar products, the search box, search by photo."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from catalog import selectors as catalog_selectors
from catalog.models import Product
from finder.throttling import limit
from search.kinds import By
from search.query.box import search_products
from search.query.filters import Filters, filters_from_query
from search.query.similar import similar_products, similar_to_image
from storefront import selectors
from storefront.errors import Problem
from storefront.photos import open_photo
from storefront.sidebar import sidebar

#: Products a page, on every page that lists them.
PAGE_SIZE = 24
#: Results a page of similar products and of searches.
SIMILAR_COUNT = 12


def pager(number: int, has_next: bool, keep: str, of: int | None = None) -> dict[str, Any]:
    """What the one pager every list shares needs: the page, its neighbours, the parameters to keep."""
    return {"number": number, "has_previous": number > 1, "has_next": has_next, "of": of, "keep": keep}


@login_required
def product_list(request: HttpRequest) -> HttpResponse:
    problem, filters = Problem(), Filters()
    with problem.caught():
        filters = filters_from_query(request.GET)
    page = Paginator(selectors.products(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "storefront/product_list.html", {
        "page": page, "filters": filters, "sidebar": sidebar(filters),
        "pager": pager(page.number, page.has_next(), filters.as_query(), of=page.paginator.num_pages),
        "status": catalog_selectors.status_counts(), "problem": problem.message,
    }, status=problem.status)


@login_required
def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    return render(request, "storefront/product_detail.html", {"product": get_object_or_404(Product, pk=product_id)})


@login_required
def similar(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    by = By(request.GET["by"]) if request.GET.get("by") in set(By) else By.TEXT
    weight, page = _weight(request), _page_number(request)
    results, has_next, problem, filters = [], False, Problem(), Filters()
    with problem.caught():
        filters = filters_from_query(request.GET)
        # One more than the pages so far: whether there is a next page, honestly.
        ranked = similar_products(product.id, by, filters, k=SIMILAR_COUNT * page + 1, weight=weight)
        results = ranked[(page - 1) * SIMILAR_COUNT:page * SIMILAR_COUNT]
        has_next = len(ranked) > page * SIMILAR_COUNT
    keep = urlencode([("by", by), ("weight", weight), *filters.pairs()])
    return render(request, "storefront/similar.html", {
        "product": product, "by": by, "weight": weight, "pager": pager(page, has_next, keep),
        "filters": filters, "results": results, "problem": problem.message, "sidebar": sidebar(filters),
    }, status=problem.status)


@login_required
@limit("search", method="GET")
def search(request: HttpRequest) -> HttpResponse:
    """The search box: free text, within the filters, a page at a time."""
    query = request.GET.get("q", "").strip()[:200]
    page_number = _page_number(request)
    found, problem, filters = None, Problem(), Filters()
    with problem.caught():
        filters = filters_from_query(request.GET)
        if query:
            found = search_products(query, filters, k=SIMILAR_COUNT, page=page_number)
    keep = urlencode([("q", query), *filters.pairs()])
    return render(request, "storefront/results.html", {
        "query": query, "found": found, "filters": filters, "problem": problem.message,
        "pager": pager(found.page, found.has_next, keep) if found else None,
        "sidebar": sidebar(found.applied if found else filters),
    }, status=problem.status)


@login_required
@require_POST
@limit("photo")
def search_by_photo(request: HttpRequest) -> HttpResponse:
    """Products that look like the shopper's photo, within the filters."""
    results, problem, filters = [], Problem(), Filters()
    with problem.caught():
        filters = filters_from_query(request.GET)
        results = similar_to_image(open_photo(request.FILES.get("image")), filters, k=SIMILAR_COUNT)
    return render(request, "storefront/results.html", {
        "photo": True, "photo_results": results, "filters": filters, "problem": problem.message,
        "sidebar": sidebar(filters),
    }, status=problem.status)


def _weight(request: HttpRequest) -> float:
    """The image's share when blending text and image similarity (``by=both``)."""
    try:
        return max(0.0, min(float(request.GET.get("weight", "0.5")), 1.0))
    except ValueError:
        return 0.5


def _page_number(request: HttpRequest) -> int:
    """The page asked for, no deeper than ``FINDER_MAX_DEPTH`` results."""
    try:
        return max(1, min(int(request.GET.get("page", "1")), settings.FINDER_MAX_DEPTH // SIMILAR_COUNT))
    except ValueError:
        return 1
