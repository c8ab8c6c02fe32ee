"""The search box: query understanding, hybrid (vector + BM25) ranking within filters, paging,
and hostile queries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.models import Product
from search.filters import Filters
from search.query.search_box import search_products
from search.query.understanding import understand
from tests.strategies import HOSTILE
from tests.support import card_ids

VOCABULARY = {
    "gender": ["Men", "Women", "Boys", "Girls", "Unisex"],
    "base_colour": ["Black", "Blue", "Navy Blue", "White"],
    "article_type": ["Belts", "Tshirts", "Casual Shoes", "Watches", "Handbags"],
    "sub_category": ["Belts", "Shoes", "Topwear", "Watches", "Bags"],
}


@pytest.mark.parametrize(("query", "expected"), [
    ("black leather belt for men", {"gender": "Men", "base_colour": "Black", "article_type": "Belts"}),
    ("navy blue t-shirt for ladies", {"gender": "Women", "base_colour": "Navy Blue", "article_type": "Tshirts"}),
    ("women's casual shoes", {"gender": "Women", "article_type": "Casual Shoes"}),
    ("white shoes", {"base_colour": "White", "sub_category": "Shoes"}),
    ("a watch for him", {"gender": "Men", "article_type": "Watches"}),
    ("something nice", {}),
])
def test_understanding_reads_gender_colour_and_type_in_the_catalogs_words(query, expected) -> None:
    assert understand(query, VOCABULARY).values == expected


@pytest.mark.django_db
def test_a_query_naming_colour_gender_and_type_finds_exactly_those(indexed) -> None:
    product = (Product.objects.filter(gender__in=["Men", "Women"], article_type="Tshirts").exclude(base_colour="")
               .order_by("id").first())
    query = f"{product.base_colour} {product.article_type} for {product.gender}".lower()
    found = search_products(query, Filters(), k=12)
    # The index keeps tag values in lower case (RediSearch tags match case-insensitively).
    assert found.understood == {"gender": product.gender.lower(), "base_colour": product.base_colour.lower(),
                                "article_type": product.article_type.lower()}
    assert found.results and product.id in [r["id"] for r in found.results]
    for result in found.results:
        assert (result["gender"], result["base_colour"], result["article_type"]) == (
            product.gender, product.base_colour, product.article_type)
        assert "vector_rank" in result["explanation"] or "keyword_rank" in result["explanation"]


@pytest.mark.django_db
def test_search_respects_the_shoppers_filters_and_pages_honestly(indexed) -> None:
    filters = Filters(tags={"category": ("Apparel",)})
    first = search_products("casual wear", filters, k=5, page=1)
    second = search_products("casual wear", filters, k=5, page=2)
    assert len(first.results) == 5 and second.results
    assert not {r["id"] for r in first.results} & {r["id"] for r in second.results}
    everything = search_products("casual wear", filters, k=100, page=1)
    assert [r["id"] for r in everything.results][:10] == [r["id"] for r in first.results + second.results]
    assert all(r["master_category"] == "Apparel" for r in everything.results)
    scores = [r["score"] for r in everything.results]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.django_db
def test_search_page_and_api(shopper) -> None:
    page = shopper.get("/search/", {"q": "black watch"})
    assert page.status_code == 200 and 'id="results"' in page.content.decode()
    answer = shopper.get("/api/v1/search", {"q": "black watch", "k": 3})
    assert answer.status_code == 200
    body = answer.json()
    assert len(body["results"]) <= 3 and body["page"] == 1
    assert {"id", "name", "score", "image_url"} <= set(body["results"][0])
    assert shopper.get("/api/v1/search").status_code == 400
    assert Client().get("/api/v1/search", {"q": "watch"}).status_code == 200


@pytest.mark.slow
@pytest.mark.django_db
@given(query=st.text(max_size=60) | st.text(alphabet="{}|@*-()[]\"':;$~\\%", max_size=20),
       params=st.fixed_dictionaries({}, optional={
           "gender": st.lists(HOSTILE, max_size=2), "not_usage": st.lists(HOSTILE, max_size=2), "name": HOSTILE,
           "page": HOSTILE, "year_min": HOSTILE, "min_score": HOSTILE}))
@settings(max_examples=1000, deadline=None)
def test_hostile_queries_never_break_search(shopper, query, params) -> None:
    if "\x00" in query or "\x00" in str(params):
        return  # Django's test client refuses NUL
    for response in (shopper.get("/search/", {"q": query, **params}),
                     shopper.get("/api/v1/search", {"q": query, **params})):
        assert response.status_code in (200, 400), response.content[:300]
        assert b"Traceback" not in response.content
    if response.status_code == 200:
        wanted = {v.strip().lower() for v in params.get("gender", []) if v.strip()}
        for result in response.json()["results"]:
            assert not wanted or result["gender"].lower() in wanted, "a filter was bypassed"


@pytest.mark.django_db
def test_search_by_photo_finds_the_product_in_the_photo(shopper) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    product = Product.objects.exclude(image="").filter(gender="Women").order_by("id").first()
    photo = SimpleUploadedFile("me.jpg", Path(product.image.path).read_bytes(), content_type="image/jpeg")
    answer = shopper.post("/api/v1/search/image?gender=Women&k=5", {"image": photo})
    assert answer.status_code == 200, answer.content
    results = answer.json()["results"]
    assert results[0]["id"] == product.id and results[0]["score"] > 0.99
    assert all(r["gender"] == "Women" for r in results)

    photo.seek(0)
    page = shopper.post("/search/photo/", {"image": photo})
    assert page.status_code == 200
    assert f'data-product-id="{product.id}"' in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(("payload", "message"), [
    (b"not an image at all", "not an image"),
    (None, "Choose a photo"),
])
def test_a_file_that_is_not_a_usable_photo_gets_a_clear_message(shopper, payload, message) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {} if payload is None else {"image": SimpleUploadedFile("x.jpg", payload, content_type="image/jpeg")}
    answer = shopper.post("/api/v1/search/image", data)
    assert answer.status_code == 400 and message in answer.json()["detail"]
    if payload is not None:
        data["image"].seek(0)
    page = shopper.post("/search/photo/", data)
    assert page.status_code == 400 and message in page.content.decode()


@pytest.mark.django_db
def test_similar_pages_are_the_next_results_and_both_blends(shopper) -> None:
    product = Product.objects.exclude(image="").order_by("id").first()
    base = f"/api/v1/products/{product.id}/similar"
    everything = shopper.get(base, {"by": "image", "k": 24}).json()["results"]
    first = shopper.get(base, {"by": "image", "k": 12, "page": 1}).json()["results"]
    second = shopper.get(base, {"by": "image", "k": 12, "page": 2}).json()["results"]
    assert [r["id"] for r in first + second] == [r["id"] for r in everything]

    text = {r["id"]: r["score"] for r in shopper.get(base, {"by": "text", "k": 100}).json()["results"]}
    image = {r["id"]: r["score"] for r in shopper.get(base, {"by": "image", "k": 100}).json()["results"]}
    for weight in (0.0, 0.3, 1.0):
        blended = shopper.get(base, {"by": "both", "weight": weight, "k": 10}).json()["results"]
        assert len(blended) == 10 and product.id not in [r["id"] for r in blended]
        for r in blended:
            assert r["score"] == pytest.approx((1 - weight) * text[r["id"]] + weight * image[r["id"]], abs=1e-4)
        assert [r["score"] for r in blended] == sorted((r["score"] for r in blended), reverse=True)
    image_only = shopper.get(base, {"by": "both", "weight": 1, "k": 5}).json()["results"]
    assert [r["id"] for r in image_only] == [r["id"] for r in everything[:5]]

    page = shopper.get(f"/products/{product.id}/similar/", {"by": "image", "page": 2})
    assert card_ids(page) == [r["id"] for r in second]
    assert 'rel="next"' in page.content.decode()
    assert "Why this?" in page.content.decode()


@pytest.mark.django_db
def test_the_blend_form_keeps_every_filter(shopper) -> None:
    """The "Blend" form on the similar page submits the page's filters with ``by=both``: all of
    them, not only gender and category."""
    product = Product.objects.exclude(image="").order_by("id").first()
    params = {"by": "text", "gender": product.gender, "base_colour": product.base_colour or "Black",
              "not_usage": "Ethnic", "year_min": "2000", "name": "a"}
    page = shopper.get(f"/products/{product.id}/similar/", params).content.decode()
    form = re.search(r'<form class="switch".*?</form>', page, re.S).group(0)
    hidden = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form)
    submitted = {name: value for name, value in hidden}
    assert submitted.pop("by") == "both"
    assert submitted == {key: value for key, value in params.items() if key != "by"}
    blended = shopper.get(f"/products/{product.id}/similar/", {**submitted, "by": "both", "weight": "0.5"})
    assert page_filters(blended) == page_filters(shopper.get(f"/products/{product.id}/similar/", params))
    shown = Product.objects.filter(id__in=card_ids(blended))
    assert all(p.gender == product.gender and p.usage != "Ethnic" for p in shown)


def page_filters(page: HttpResponse) -> str:
    """The filters a similar page says it applies."""
    return re.search(r'<p class="status">Filters: (.*?)\.</p>', page.content.decode()).group(1)


@pytest.mark.django_db
def test_evaluate_reports_precision_for_each_part(indexed, tmp_path) -> None:
    import json
    from io import StringIO

    from django.core.management import call_command

    product = Product.objects.filter(article_type="Tshirts").first()
    queries = tmp_path / "queries.json"
    queries.write_text(json.dumps([
        {"q": f"{product.base_colour} tshirt", "expect": {"article_type": ["Tshirts"]}},
        {"q": "a spaceship", "expect": {"article_type": ["Spaceships"]}},
    ]))
    hard = tmp_path / "hard.json"
    hard.write_text(json.dumps([
        {"q": "tshrts", "form": "misspelled", "expect": {"article_type": ["Tshirts"]}},
        {"q": "a spaceship", "form": "out of vocabulary", "expect": {"article_type": ["Spaceships"]}},
    ]))
    out = StringIO()
    needs = tmp_path / "needs.json"
    needs.write_text(json.dumps([{"q": "scarlet tshirt", "form": "shade", "expect": {"article_type": ["Tshirts"]}}]))
    call_command("evaluate", "--queries", str(queries), "--hard-queries", str(hard), "--need-queries", str(needs),
                 "--samples", "20", stdout=out)
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in out.getvalue().splitlines()[2:]}
    without = "fused, without query understanding or forgiveness"
    assert set(rows) == {"similar by image", "similar by text", "similar by image, within gender and category",
                         "similar by text, within gender and category", "search box (plain), fused",
                         "search box (plain), vector", "search box (plain), keyword", f"search box (plain), {without}",
                         "search box (hard), fused", "search box (hard: misspelled), fused",
                         "search box (hard: out of vocabulary), fused", f"search box (hard), {without}",
                         "photo search, within gender and category",
                         "search box (needs), fused", "search box (needs: shade), fused",
                         f"search box (needs), {without}", "words to photos, held-out photos: type and colour right",
                         "For you: liked 3 of a type and colour, that type in the picks",
                         "For you: share of the picks' most common other type, before dismissing 3 of it",
                         "For you: the same share after dismissing them"}
    for name, (precision, _cases, _skipped) in rows.items():
        assert 0.0 <= float(precision) <= 1.0, name
    assert rows["search box (plain), fused"][1:] == ["1", "1 |"]
    assert rows["search box (hard: out of vocabulary), fused"][1:] == ["0", "1 |"]
    # The misspelling is read as the catalog's word: every result is a T-shirt.
    assert float(rows["search box (hard: misspelled), fused"][0]) == 1.0
    assert float(rows["similar by text"][0]) > 0.3
