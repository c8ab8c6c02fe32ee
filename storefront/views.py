"""The shopper's pages: the catalog grid, a product with its similar rows, similar products,
the search box, search by photo, favourites, "not for me" and For you.

The grid, the search and similar products answer instant search (:mod:`storefront.context`):
with the header ``X-Fragment: 1`` they render their content alone, which the page's script swaps
in when a filter or the sort changes or the shopper types."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers
from django.views.static import serve

from analytics.services import record_click, record_visit
from catalog.attributes import BY_PARAMETER
from catalog.models import Product
from core.errors import FinderError
from core.throttling import limit
from search import selectors as search_selectors
from search.filters import Filters
from search.kinds import KINDS, By
from search.looks import suggestions
from search.query import catalog_grid
from search.query.ordering import Sort, parse_sort
from search.query.search_box import MAX_RESULTS
from search.query.similar import NotSearchable, similar_products, similar_to_image
from search.store import get_store
from shoppers.selectors import favourite_products, picks_for
from shoppers.services import dismiss, record_view, set_favourite
from storefront.access import shopper_page
from storefront.context import FRAGMENT_HEADER
from storefront.errors import Problem
from storefront.filtering import filters_from_query
from storefront.kept import kept_page
from storefront.photos import open_photo
from storefront.searching import shopper_search
from storefront.sidebar import sidebar

#: Products a page, on every page that lists them.
PAGE_SIZE = 24
#: Results a page of similar products and of searches.
SIMILAR_COUNT = 12
#: Products in each "similar" row of a product page.
ROW_SIZE = 6


def pager(number: int, has_next: bool, keep: str, of: int | None = None) -> dict[str, Any]:
    """What the one pager every list shares needs: the page, its neighbours, the parameters to keep."""
    return {"number": number, "has_previous": number > 1, "has_next": has_next, "of": of, "keep": keep}


@shopper_page
@vary_on_headers(FRAGMENT_HEADER)
@limit("pages", key="ip", method="GET")
def product_list(request: HttpRequest) -> HttpResponse:
    problem, filters, sort = Problem(), Filters(), parse_sort(request.GET.get("sort"))
    with problem.caught():
        filters = filters_from_query(request.GET)
    page = Paginator(catalog_grid.products(filters, sort), PAGE_SIZE).get_page(request.GET.get("page"))
    keep = urlencode([*filters.pairs(), *_sort_pair(sort)])
    return render(request, "storefront/product_list.html", {
        "page": page, "filters": filters, "sidebar": sidebar(filters), "sort": sort, "sorts": list(Sort),
        "pager": pager(page.number, page.has_next(), keep, of=page.paginator.num_pages),
        "status": search_selectors.recent_status_counts() if request.user.is_staff else None,
        "problem": problem.message,
    }, status=problem.status)


@shopper_page
@limit("pages", key="ip", method="GET")
def product_detail(request: HttpRequest, product_id: str) -> HttpResponse:
    """A product, and rows of products like it by each kind of vector (photos first). A kind
    the product has no vector of (no photo, not indexed yet) has no row; search being down
    says so in the row."""
    product = get_object_or_404(Product, pk=product_id)
    record_view(request, product)
    if "sid" in request.GET:  # opened from a search's results
        record_click(request.GET["sid"], product.id, request.GET.get("pos", ""))
    rows = []
    for kind in reversed(KINDS):
        row: dict[str, Any] = {"kind": kind, "results": [], "problem": ""}
        try:
            row["results"] = similar_products(product.id, By(kind.name), Filters(), k=ROW_SIZE)
        except NotSearchable:
            continue
        except FinderError as exc:
            row["problem"] = str(exc)
        rows.append(row)
    sid = request.GET.get("sid", "")
    return render(request, "storefront/product_detail.html", {
        "product": product, "rows": rows, "visit_query": f"?{urlencode({'sid': sid})}" if sid else "",
        "suggested": suggestions(product),
        "search_state": search_selectors.product_state(product.id) if request.user.is_staff else None})


@csrf_exempt  # a link's ping carries no token; it only counts, and only a product the catalog has
@shopper_page
@require_POST
@limit("pages", key="ip")
def visit(request: HttpRequest, product_id: str) -> HttpResponse:
    """A shopper followed "View in shop" (the link's ``ping``, or the page's beacon where a browser
    sends none): counted for the shop's analytics, from the search ``sid`` the page was opened from."""
    if Product.objects.filter(pk=product_id).exists():
        record_visit(request.GET.get("sid", ""), product_id)
    return HttpResponse(status=204)


@shopper_page
@vary_on_headers(FRAGMENT_HEADER)
@limit("pages", key="ip", method="GET")
@kept_page(FRAGMENT_HEADER)
def similar(request: HttpRequest, product_id: str) -> HttpResponse:
    """Products like this one, a page at a time (kept until the index changes: :mod:`storefront.kept`).

    The index's copy of the product (its name and photo) spares the database a query; the
    database is asked where the search failed or the index lacks the product, and a product it
    does not have either is not found."""
    by = By(request.GET["by"]) if request.GET.get("by") in set(By) else By.TEXT
    weight, page = _weight(request), _page_number(request)
    problem, filters, results, has_next, product = Problem(), Filters(), [], False, None
    with problem.caught():
        filters = filters_from_query(request.GET)
        # One more than the pages so far: whether there is a next page, honestly.
        found = similar_products(product_id, by, filters, k=SIMILAR_COUNT * page + 1, weight=weight)
        results, has_next = found[(page - 1) * SIMILAR_COUNT:page * SIMILAR_COUNT], len(found) > page * SIMILAR_COUNT
        product = get_store().documents([product_id])[0]
    product = product or get_object_or_404(Product, pk=product_id)
    side = sidebar(filters)
    keep = urlencode([("by", by), ("weight", weight), *filters.pairs()])
    response = render(request, "storefront/similar.html", {
        "product": product, "by": by, "weight": weight, "pager": pager(page, has_next, keep), "filters": filters,
        "results": results, "problem": problem.message, "sidebar": side,
    }, status=problem.status)
    if side["facets"] is None or side["notice"]:  # more than the index shows: not to be kept
        patch_cache_control(response, no_store=True)
    return response


@shopper_page
@vary_on_headers(FRAGMENT_HEADER)
@limit("search", method="GET")
def search(request: HttpRequest) -> HttpResponse:
    """The search box: free text, within the filters, a page at a time, forgiving misspellings
    unless ``exact=1`` (the "search instead for what I typed" link)."""
    query = request.GET.get("q", "").strip()[:200]
    page_number, sort = _page_number(request, MAX_RESULTS), parse_sort(request.GET.get("sort"))
    exact = request.GET.get("exact") == "1"
    by = "image" if request.GET.get("by") == "image" else "text"
    # Attributes the shopper decided in the sidebar (the form names those the query was read
    # as): ticked or not, the query is not read for them again.
    decided = frozenset(p for p in request.GET.getlist("decided") if p in BY_PARAMETER)
    found, problem, filters = None, Problem(), Filters()
    # The search's id for analytics: page 1 records the search, its pages' links carry the id.
    search_id = request.GET.get("sid", "")
    with problem.caught():
        filters = filters_from_query(request.GET)
        if query:
            options = {"sort": sort, "exact": exact, "decided": decided} if by == "text" else {}
            found, recorded = shopper_search(request, query, filters, by, k=SIMILAR_COUNT, page=page_number,
                                             **options)
            if found.page == 1:
                search_id = recorded
    decided = sorted(decided | set(found.understood if found else ()))
    keep = urlencode([("q", query), *filters.pairs(), *_sort_pair(sort), *([("exact", "1")] if exact else []),
                      *([("by", by)] if by != "text" else []),
                      *(("decided", attribute) for attribute in decided), *([("sid", search_id)] if search_id else [])])
    return render(request, "storefront/results.html", {
        "query": query, "found": found, "filters": filters, "problem": problem.message, "sort": sort,
        "sorts": list(Sort), "exact": exact, "decided": decided, "search_id": search_id, "by": by,
        "offset": (found.page - 1) * found.k if found else 0,
        "pager": pager(found.page, found.has_next, keep, of=-(-found.count // found.k)) if found else None,
        "sidebar": sidebar(filters, found if by == "text" else None),
    }, status=problem.status)


@shopper_page
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


@shopper_page
@require_POST
def favourite(request: HttpRequest, product_id: str) -> HttpResponse:
    """The heart on a card: keep the product (``on=1``) or let it go, then back to the page."""
    problem = Problem()
    with problem.caught():
        set_favourite(request, get_object_or_404(Product, pk=product_id), request.POST.get("on") == "1")
    return _back(request, product_id, problem)


@login_required
@require_POST
def not_for_me(request: HttpRequest, product_id: str) -> HttpResponse:
    """"Not for me" on a card (``on=0`` takes it back): For you leans away from the product."""
    problem = Problem()
    with problem.caught():
        dismiss(request.user, get_object_or_404(Product, pk=product_id), request.POST.get("on", "1") == "1")
    return _back(request, product_id, problem)


def _back(request: HttpRequest, product_id: str, problem: Problem) -> HttpResponse:
    """After a card's button: nothing for the page's script (it updates the card itself), else
    back to the page the button was on (never off the site), or the product's page; what went
    wrong, as a page."""
    if problem.message:
        return render(request, "problem.html", {"problem": problem.message}, status=problem.status)
    if request.headers.get(FRAGMENT_HEADER) == "1":
        return HttpResponse(status=204)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("storefront:detail", args=[product_id])
    return redirect(back)


@login_required
@vary_on_headers(FRAGMENT_HEADER)
@limit("user", method="GET")
def for_you(request: HttpRequest) -> HttpResponse:
    """Picks from the shopper's favourites, views and "not for me"s, within the filters; the
    shop's favourites until there is something to go on (and the page says so)."""
    picks, problem, filters = None, Problem(), Filters()
    with problem.caught():
        filters = filters_from_query(request.GET)
        picks = picks_for(request.user, filters, k=PAGE_SIZE)
    return render(request, "storefront/for_you.html", {
        "picks": picks, "filters": filters, "sidebar": sidebar(filters), "problem": problem.message,
    }, status=problem.status)


@shopper_page
def favourites(request: HttpRequest) -> HttpResponse:
    """The shopper's favourites, the latest first; a guest's are kept until they sign up."""
    return render(request, "storefront/favourites.html", {"products": favourite_products(request)})


def _sort_pair(sort: Sort) -> list[tuple[str, str]]:
    """``sort`` as a parameter for links that keep it (none for the default)."""
    return [] if sort is Sort.RELEVANCE else [("sort", sort.value)]


def _weight(request: HttpRequest) -> float:
    """The image's share when blending text and image similarity (``by=both``)."""
    try:
        return max(0.0, min(float(request.GET.get("weight", "0.5")), 1.0))
    except ValueError:
        return 0.5


def _page_number(request: HttpRequest, deepest: int | None = None) -> int:
    """The page asked for, no deeper than ``deepest`` results (``FINDER_MAX_DEPTH`` unless said)."""
    try:
        return max(1, min(int(request.GET.get("page", "1")), (deepest or settings.FINDER_MAX_DEPTH) // SIMILAR_COUNT))
    except ValueError:
        return 1


@shopper_page
def photo(request: HttpRequest, path: str) -> HttpResponse:
    """A product photo from ``MEDIA_ROOT`` (``FINDER_SERVE_MEDIA``): in development, and for a private
    catalog, whose photos are behind its login as its pages are."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)
