"""Finder pages: similar products, the search box, search by photo."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from catalog.models import Product
from finder.throttling import limit
from search.connection import SearchUnavailable
from search.filters import Filters, filter_problem, filters_from_query
from search.photos import BadPhoto, open_photo
from search.selectors import By, NotSearchable, search_products, similar_products, similar_to_image
from search.sidebar import sidebar

SIMILAR_COUNT = 12


class Problem:
    """What went wrong for the shopper, as a message and a status for the page: a bad filter or
    photo (400), a product without that kind of vector (said, 200), search down (503)."""

    def __init__(self) -> None:
        self.message, self.status = "", 200

    @contextmanager
    def caught(self) -> Iterator[None]:
        try:
            yield
        except ValidationError as exc:
            self.message, self.status = filter_problem(exc), 400
        except BadPhoto as exc:
            self.message, self.status = str(exc), 400
        except NotSearchable as exc:
            self.message = str(exc)
        except SearchUnavailable as exc:
            self.message, self.status = str(exc), 503


@login_required
def similar(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    by = By(request.GET["by"]) if request.GET.get("by") in {b.value for b in By} else By.TEXT
    weight, page = _weight(request), _page_number(request)
    results, has_next, problem, filters = [], False, Problem(), Filters()
    with problem.caught():
        filters = filters_from_query(request.GET)
        # One more than the pages so far: whether there is a next page, honestly.
        ranked = similar_products(product.id, by, filters, k=SIMILAR_COUNT * page + 1, weight=weight)
        results = ranked[(page - 1) * SIMILAR_COUNT:page * SIMILAR_COUNT]
        has_next = len(ranked) > page * SIMILAR_COUNT
    return render(request, "search/similar.html", {
        "product": product, "by": by, "weight": weight, "page": page, "has_next": has_next,
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
    return render(request, "search/results.html", {
        "query": query, "found": found, "filters": filters, "problem": problem.message,
        "sidebar": sidebar(found.applied if found else filters),
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


@login_required
@require_POST
@limit("photo")
def search_by_photo(request: HttpRequest) -> HttpResponse:
    """Products that look like the shopper's photo, within the filters."""
    results, problem, filters = [], Problem(), Filters()
    with problem.caught():
        filters = filters_from_query(request.GET)
        results = similar_to_image(open_photo(request.FILES.get("image")), filters, k=SIMILAR_COUNT)
    return render(request, "search/results.html", {
        "photo": True, "photo_results": results, "filters": filters, "problem": problem.message,
        "sidebar": sidebar(filters),
    }, status=problem.status)
