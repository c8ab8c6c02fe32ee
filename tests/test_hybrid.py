"""Hybrid queries: every filter, alone and combined, never lets a non-matching product
through, and no input, however hostile, changes a query's structure or gets a 500."""

from __future__ import annotations

import math
from typing import Any

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.attributes import TAGS
from catalog.models import Product
from search.filters import name_words
from tests.strategies import HOSTILE


def _catalog() -> dict[int, Product]:
    return {p.id: p for p in Product.objects.all()}


def _haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _passes_tags(product: Product, params: dict[str, Any]) -> bool:
    """Whether ``product`` passes the tag, negated tag and name filters."""
    for parameter, field in ((a.parameter, a.field) for a in TAGS):
        wanted = {v.strip().lower() for v in params.get(parameter, []) if v.strip()}
        unwanted = {v.strip().lower() for v in params.get(f"not_{parameter}", []) if v.strip()}
        value = getattr(product, field).lower()
        if (wanted and value not in wanted) or value in unwanted:
            return False
    return set(name_words(params.get("name", ""))) <= set(name_words(product.name))


def _passes(product: Product, params: dict[str, Any]) -> bool:
    """Whether ``product`` passes the filters, decided in Python from the database row."""
    if not _passes_tags(product, params):
        return False
    if "year_min" in params and (product.year is None or product.year < params["year_min"]):
        return False
    if "year_max" in params and (product.year is None or product.year > params["year_max"]):
        return False
    if "lat" in params:
        if product.latitude is None:
            return False
        distance = _haversine_km((params["lat"], params["lon"]), (product.latitude, product.longitude))
        if distance > params.get("radius_km", 10.0) * 1.005:
            return False
    return True


def _query(client: Client, product_id: int, params: dict[str, Any]) -> Any:
    return client.get(f"/api/v1/products/{product_id}/similar", params)


values = st.sampled_from(["Men", "Women", "Unisex", "Boys", "Girls", "Apparel", "Footwear", "Accessories",
                          "Personal Care", "Topwear", "Shoes", "Tshirts", "Watches", "Black", "White", "Blue",
                          "Summer", "Fall", "Winter", "Casual", "Sports", "Formal", "NA"])
valid_filters = st.fixed_dictionaries({}, optional={
    **{parameter: st.lists(values, max_size=3) for parameter in (a.parameter for a in TAGS)},
    **{f"not_{parameter}": st.lists(values, max_size=2) for parameter in ("gender", "category", "usage")},
    "name": st.sampled_from(["Men", "black", "shirt", "Nike", "watch women", "casual shoes"]),
    "year_min": st.integers(2008, 2018),
    "year_max": st.integers(2010, 2020),
    "near": st.sampled_from([(19.08, 72.88), (12.97, 77.59), (28.70, 77.10), (51.5, -0.12)]),
    "radius_km": st.sampled_from([1.0, 5.0, 50.0, 2000.0]),
    "min_score": st.floats(0.0, 0.9),
})


@given(filters=valid_filters, by=st.sampled_from(["text", "image"]), pick=st.integers(0, 10_000))
@settings(max_examples=150)
def test_valid_filters_keep_exactly_the_matching_products(shopper, filters, by, pick) -> None:
    catalog = _catalog()
    with_image = sorted(pid for pid, p in catalog.items() if p.image)
    product_id = with_image[pick % len(with_image)]
    params = dict(filters)
    if "near" in params:
        params["lat"], params["lon"] = params.pop("near")
    elif "radius_km" in params:
        params.pop("radius_km")
    response = _query(shopper, product_id, {**params, "by": by, "k": 100})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    ids = [r["id"] for r in results]
    assert product_id not in ids
    assert all(_passes(catalog[pid], params) for pid in ids)
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    if "min_score" in params:
        assert all(score >= params["min_score"] - 1e-5 for score in scores)
    else:
        searchable = [pid for pid, p in catalog.items()
                      if pid != product_id and _passes(p, params) and (by == "text" or p.image)]
        assert len(ids) == len(searchable), "a matching product went missing"


hostile_params = st.fixed_dictionaries({}, optional={
    **{parameter: st.lists(HOSTILE, max_size=3) for parameter in (a.parameter for a in TAGS)},
    **{f"not_{parameter}": st.lists(HOSTILE, max_size=2) for parameter in (a.parameter for a in TAGS)},
    **{name: HOSTILE for name in ("name", "year_min", "year_max", "lat", "lon", "radius_km", "min_score", "by",
                                  "k", "page", "weight", "page_size")},
})


@pytest.mark.slow
@given(params=hostile_params, pick=st.integers(0, 10_000))
@settings(max_examples=1000)
def test_hostile_input_never_breaks_a_query_or_bypasses_a_filter(shopper, params, pick) -> None:
    catalog = _catalog()
    product_id = sorted(catalog)[pick % len(catalog)]
    params = {k: v for k, v in params.items() if "\x00" not in str(v)}  # Django's test client refuses NUL
    response = _query(shopper, product_id, params)
    assert response.status_code in (200, 400, 409), response.content
    assert response["Content-Type"] == "application/json"
    if response.status_code == 200:
        for result in response.json()["results"]:
            product = catalog[result["id"]]
            assert product.id != product_id
            assert _passes_tags(product, params), "a filter was bypassed"
    for page in (f"/products/{product_id}/similar/", "/"):
        html = shopper.get(page, params)
        assert html.status_code in (200, 400, 409), html.status_code
        assert b"Traceback" not in html.content
    listing = shopper.get("/api/v1/products", params)
    assert listing.status_code in (200, 400, 404), listing.content
    if listing.status_code == 200:
        for item in listing.json()["results"]:
            assert _passes_tags(catalog[item["id"]], params)


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["\x08", "Men\x7f", "\u200b", "\x1b[31m"])
def test_control_characters_in_a_filter_are_refused(shopper, value) -> None:
    response = _query(shopper, Product.objects.order_by("id").first().id, {"gender": value})
    assert response.status_code == 400
    assert "control character" in str(response.json())


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["`", "Men`", "a`b|c", "☃", "Navy Blue", "x\\", "{Men}", "$gender"])
def test_punctuation_in_a_filter_is_matched_literally(shopper, value) -> None:
    product_id = Product.objects.order_by("id").first().id
    response = _query(shopper, product_id, {"gender": value})
    assert response.status_code == 200
    assert response.json()["results"] == []  # no product's gender is any of these
