"""Brand: read from the product name (or a ``brand`` column), a facet with counts, a filter in the
pages and the API (OR on repeats, ``not_brand=``), and a word the search box understands."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from django.test import Client

from catalog.brands import brand_from_name
from catalog.models import Product
from catalog.services import import_catalog
from search.query.understanding import understand
from tests.support import demo_rows, wait_until_settled


@pytest.mark.parametrize(("name", "brand"), [
    ("Puma Men Black Running Shoes", "Puma"),
    ("ADIDAS Women's Blue Track Pants", "Adidas"),
    ("United Colors of Benetton Boys Check Navy Blue Shirt", "United Colors of Benetton"),
    ("Gini And Jony Kids Girls Pink Top", "Gini and Jony"),
    ("Red Tape Men Brown Formal Shoes", "Red Tape"),  # a colour word cannot end a brand it starts
    ("Lucera Silver Ring", "Lucera"),  # no gender: the colour ends it
    ("Lakme Absolute Lip Last Day Kiss Lip Colour", "Lakme"),  # neither: the first word
    ("Q&Q Men Analog Watch", "Q&Q"),
    ("Black Men's Leather Belt", ""),  # a colour, then whom it is for: no brand
    ("Men Blue Shirt", ""),
    ("24 Carat Gold Ring", ""),
    ("", ""),
])
def test_brand_is_read_from_the_names_leading_words(name, brand) -> None:
    assert brand_from_name(name) == brand


def test_understanding_reads_a_brand_of_several_words() -> None:
    vocabulary = {"gender": ["Men", "Women"], "brand": ["Puma", "United Colors of Benetton"],
                  "article_type": ["Shirts"]}
    assert understand("united colors of benetton shirts for men", vocabulary).values == {
        "gender": "Men", "brand": "United Colors of Benetton", "article_type": "Shirts"}
    assert understand("puma", vocabulary).values == {"brand": "Puma"}


def test_a_word_is_read_by_one_attribute_the_longest_reading_first() -> None:
    vocabulary = {"base_colour": ["Black", "Red"], "brand": ["Black", "Red Tape", "And", "W"],
                  "article_type": ["Belts", "Casual Shoes", "Socks"], "sub_category": ["Shoes"]}
    assert understand("black leather belt", vocabulary).values == {"article_type": "Belts", "base_colour": "Black"}
    assert understand("red tape casual shoes", vocabulary).values == {"article_type": "Casual Shoes",
                                                                      "brand": "Red Tape"}
    assert understand("shoes and socks w", vocabulary).values == {"article_type": "Socks"}


@pytest.fixture
def branded(search_settings, celery_worker, catalog_dir, django_user_model):
    """Demo rows from a few brands, imported through the real worker; one row names its own brand
    in a ``brand`` column, which wins over its name."""
    rows = [row for row in demo_rows(400) if brand_from_name(row["productDisplayName"]) in
            {"Nike", "Puma", "Adidas", "United Colors of Benetton"}][:40]
    for row in rows:
        row["brand"] = ""
    rows[0]["brand"] = "House Label"
    report = import_catalog(catalog_dir(rows))
    wait_until_settled(report.product_ids)
    client = Client()
    client.force_login(django_user_model.objects.create_user("brand-shopper"))
    return {"rows": rows, "ids": report.product_ids, "client": client}


@pytest.mark.django_db(transaction=True)
def test_brand_end_to_end_import_facet_filter_api_and_search_box(branded) -> None:
    client, first = branded["client"], branded["rows"][0]
    assert Product.objects.get(pk=first["id"]).brand == "House Label"
    expected = Counter(Product.objects.filter(id__in=branded["ids"]).values_list("brand", flat=True))
    assert len(expected) >= 3

    # The facet counts what the index holds, in the sidebar.
    page = client.get("/")
    brands = next(group for group in page.context["sidebar"]["facets"] if group["parameter"] == "brand")
    assert brands["label"] == "Brand"
    assert {item["value"]: item["count"] for item in brands["values"]} == dict(expected)

    # A filter in the API: OR on repeats, not_brand excludes.
    top = [brand for brand, _ in expected.most_common(2)]
    found = client.get("/api/v1/products", {"brand": top, "page_size": 100}).json()
    assert found["count"] == Product.objects.filter(brand__in=top).count() >= expected[top[0]] + expected[top[1]]
    assert {product["brand"] for product in found["results"]} == set(top)
    product = Product.objects.filter(id__in=branded["ids"], brand=top[0]).exclude(image="").first()
    similar = client.get(f"/api/v1/products/{product.id}/similar", {"by": "text", "brand": top[0], "k": 50}).json()
    assert similar["results"] and {r["brand"] for r in similar["results"]} == {top[0]}
    others = client.get(f"/api/v1/products/{product.id}/similar", {"by": "text", "not_brand": top[0], "k": 50})
    assert others.json()["results"] and top[0] not in {r["brand"] for r in others.json()["results"]}

    # The search box understands a brand it names, and keeps to it.
    answer = client.get("/api/v1/search", {"q": f"{top[0].lower()} for men"}).json()
    assert answer["understood"].get("brand", "").lower() == top[0].lower()  # tag values are read lower case
    assert answer["results"] and {r["brand"] for r in answer["results"]} == {top[0]}


def test_the_public_metadata_file_yields_brands_that_lead_many_names() -> None:
    """On the full public file: the commonest brands are real ones, each spelled one way."""
    from django.conf import settings

    with (settings.BASE_DIR / "data" / "styles-full.csv").open(newline="") as handle:
        counts = Counter(brand_from_name(row["productDisplayName"] or "") for row in csv.DictReader(handle))
    top = [brand for brand, _ in counts.most_common(12)]
    assert {"Nike", "Puma", "Adidas", "United Colors of Benetton", "Fastrack", "Wrangler"} <= set(top)
    assert not {"Men", "Women", "Black", "White", "Red"} & set(top)
    spellings = Counter(brand.lower() for brand in counts)
    assert spellings["adidas"] == 1 and spellings["puma"] == 1
