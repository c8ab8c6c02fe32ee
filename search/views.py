"""The similar-products page."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from rest_framework.exceptions import ValidationError

from catalog import selectors as catalog_selectors
from catalog.models import Product
from search.connection import SearchUnavailable
from search.filters import Filters, filter_problem, filters_from_query
from search.selectors import By, NotSearchable, similar_products

SIMILAR_COUNT = 12


@login_required
def similar(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    by = By.IMAGE if request.GET.get("by") == By.IMAGE else By.TEXT
    results, problem, status, filters = [], "", 200, Filters()
    try:
        filters = filters_from_query(request.GET)
        results = similar_products(product.id, by, filters, k=SIMILAR_COUNT)
    except ValidationError as exc:
        problem, status = filter_problem(exc), 400
    except NotSearchable as exc:
        problem = str(exc)
    except SearchUnavailable as exc:
        problem, status = str(exc), 503
    return render(request, "search/similar.html", {
        "product": product, "by": by, "filters": filters, "results": results, "problem": problem,
        "options": catalog_selectors.filter_options(),
    }, status=status)
