"""End to end on real parts: import a slice of the demo catalog, let the real worker embed it
with the real models into the real Redis, then search it through selectors, pages and API."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from catalog.models import Product
from catalog.services import import_catalog
from search.filters import Filters
from search.kinds import BY_NAME, By, compared
from search.query.similar import NotSearchable, similar_products
from search.store.connection import get_client
from search.store.versions import live_index
from tests.support import BROKEN_ROW_ID, CORRUPT_IMAGE_ID, NO_IMAGE_ID, SLICE, card_ids, indexed_products, write_catalog


def _vectors(field: str) -> dict[int, np.ndarray]:
    client = get_client()
    found = {}
    for product_id in Product.objects.values_list("id", flat=True):
        raw = client.hget(live_index().doc_key(product_id), field)
        if raw is not None:
            found[product_id] = live_index().vector(raw)
    return found


def _brute_force(product_id: int, field: str, allowed: set[int], k: int) -> list[int]:
    vectors = _vectors(field)
    query = vectors[product_id]
    candidates = [pid for pid in vectors if pid in allowed and pid != product_id]
    scores = {pid: float(query @ vectors[pid]) for pid in candidates}
    return sorted(candidates, key=scores.__getitem__, reverse=True)[:k]


@pytest.mark.django_db
def test_import_reports_bad_rows_and_images_by_line_and_imports_the_rest(indexed) -> None:
    report = indexed["report"]
    assert report.created == SLICE + 2
    assert [(r.line, r.product_id) for r in report.rejected] == [(SLICE + 4, str(BROKEN_ROW_ID))]
    assert "expected 12 fields, found 13" in report.rejected[0].reason
    problems = {p.product_id: (p.line, p.reason) for p in report.image_problems}
    assert problems == {NO_IMAGE_ID: (SLICE + 2, "no image file"),
                        CORRUPT_IMAGE_ID: (SLICE + 3, problems[CORRUPT_IMAGE_ID][1])}
    assert "corrupt" in problems[CORRUPT_IMAGE_ID][1] or "not an image" in problems[CORRUPT_IMAGE_ID][1]
    assert not Product.objects.filter(id=BROKEN_ROW_ID).exists()
    assert indexed_products().count() == SLICE + 2
    text_only = Product.objects.get(id=NO_IMAGE_ID)
    assert text_only.image_problem == "no image file" and not text_only.image


@pytest.mark.django_db
def test_importing_the_same_catalog_again_changes_nothing(indexed, tmp_path) -> None:
    folder = write_catalog(tmp_path / "again", indexed["rows"])
    report = import_catalog(folder)
    assert (report.created, report.updated) == (0, 0)
    assert report.unchanged == SLICE


@pytest.mark.django_db
@pytest.mark.parametrize("by", [By.IMAGE, By.TEXT])
def test_similar_obeys_filters_excludes_the_product_and_ranks_like_brute_force(indexed, by) -> None:
    genders, categories = ("Men", "Unisex"), ("Apparel", "Footwear")
    filters = Filters(tags={"gender": genders, "category": categories})
    allowed = set(Product.objects.filter(gender__in=genders, master_category__in=categories)
                  .values_list("id", flat=True))
    assert len(allowed) > 13, "the slice should hold enough matching products to fill a page"
    for product in Product.objects.exclude(image="")[:5]:
        results = similar_products(product.id, by, filters, k=12)
        ids = [r["id"] for r in results]
        assert len(results) == 12
        assert product.id not in ids
        assert all(r["gender"] in genders and r["master_category"] in categories for r in results)
        scores = [r["score"] for r in results]
        assert scores == sorted(scores, reverse=True)
        assert ids == _brute_force(product.id, compared(by)[0].field, allowed, 12)


@pytest.mark.django_db
def test_by_image_for_a_product_without_image_says_so(indexed) -> None:
    with pytest.raises(NotSearchable, match="no usable image"):
        similar_products(NO_IMAGE_ID, By.IMAGE, Filters())
    assert similar_products(NO_IMAGE_ID, By.TEXT, Filters(), k=5)


@pytest.mark.django_db
def test_vectors_are_stored_as_raw_float16_by_default(indexed) -> None:
    product = Product.objects.exclude(image="").first()
    client = get_client()
    assert live_index().vector_type == "FLOAT16"
    assert len(client.hget(live_index().doc_key(product.id), BY_NAME["text"].field)) == 384 * 2
    assert len(client.hget(live_index().doc_key(product.id), BY_NAME["image"].field)) == 1280 * 2


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("shopper", password="a-long-Passphrase-42")


@pytest.fixture
def token(user) -> str:
    from io import StringIO

    out = StringIO()
    call_command("api_token", user.username, stdout=out)
    return out.getvalue().split()[-1]


@pytest.mark.django_db
def test_the_api_reads_the_catalog_without_a_token_unless_it_is_private(indexed, settings) -> None:
    product_id = Product.objects.first().id
    reads = ("/api/v1/products", f"/api/v1/products/{product_id}", f"/api/v1/products/{product_id}/similar")
    for path in reads:
        assert Client().get(path).status_code == 200, path
    # The index's state is for the shop's people; a bad token is refused, never read as none.
    assert Client().get("/api/v1/status").status_code == 401
    assert Client().get(reads[0], HTTP_AUTHORIZATION="Token not-a-token").status_code == 401
    settings.FINDER_LOGIN_REQUIRED = True
    for path in reads:
        response = Client().get(path)
        assert response.status_code == 401, path
        assert response.json()["detail"]


@pytest.mark.django_db
def test_api_with_a_token(indexed, token) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    status = client.get("/api/v1/status").json()
    assert status == {"products": SLICE + 2, "indexed": SLICE + 2, "pending": 0, "failed": 0}

    listing = client.get("/api/v1/products", {"gender": ["Men", "Unisex"], "page_size": 5}).json()
    assert listing["count"] == Product.objects.filter(gender__in=["Men", "Unisex"]).count()
    assert len(listing["results"]) == 5
    assert {p["gender"] for p in listing["results"]} <= {"Men", "Unisex"}

    product = Product.objects.exclude(image="").exclude(base_colour="").first()
    detail = client.get(f"/api/v1/products/{product.id}").json()
    assert set(detail) == {"id", "name", "gender", "master_category", "sub_category", "article_type",
                           "base_colour", "brand", "season", "usage", "availability", "google_product_category",
                           "group", "year", "price", "sale_price", "description", "link", "image_link", "image_url",
                           "currency", "suggested"}
    assert detail["suggested"] == {}  # its colour is the shop's: nothing is suggested (test_shoppers_words)
    assert detail["id"] == product.id and isinstance(detail["id"], str) and detail["price"] is None
    assert re.fullmatch(rf"/media/products/{product.id}-[0-9a-f]{{16}}\.jpg", detail["image_url"])

    similar = client.get(f"/api/v1/products/{product.id}/similar",
                         {"by": "image", "category": "Apparel", "k": 7}).json()["results"]
    assert len(similar) == 7
    assert all(r["master_category"] == "Apparel" and r["id"] != product.id for r in similar)
    assert set(similar[0]) == set(detail) - {"suggested"} | {"score", "distance", "explanation"}  # as a list shows it
    assert [r["score"] for r in similar] == sorted((r["score"] for r in similar), reverse=True)

    assert client.get(f"/api/v1/products/{product.id}/similar", {"by": "smell"}).status_code == 400
    assert client.get(f"/api/v1/products/{product.id}/similar", {"k": "0"}).status_code == 400
    assert client.get("/api/v1/products/1/similar").status_code == 404
    assert client.get(f"/api/v1/products/{NO_IMAGE_ID}/similar", {"by": "image"}).status_code == 409


@pytest.mark.django_db
def test_pages_are_open_to_shoppers_and_show_similar_products(indexed, user, settings) -> None:
    product = Product.objects.exclude(image="").first()
    anonymous = Client()
    assert anonymous.get("/").status_code == 200
    assert anonymous.get(f"/products/{product.id}/similar/").status_code == 200
    settings.FINDER_LOGIN_REQUIRED = True
    assert anonymous.get("/").status_code == 302
    assert anonymous.get(f"/products/{product.id}/similar/").status_code == 302

    client = Client()
    client.force_login(user)
    grid = client.get("/", {"gender": "Women"})
    assert grid.status_code == 200
    cards = grid.context["page"].object_list
    assert cards and all(p.gender == "Women" for p in cards)

    page = client.get(f"/products/{product.id}/similar/", {"by": "image", "gender": "Men"})
    assert page.status_code == 200
    results = Product.objects.filter(id__in=card_ids(page))
    assert len(results) == 12 and all(p.gender == "Men" and p.id != product.id for p in results)
    html = page.content.decode()
    assert html.count('class="card"') == 12
    assert f'data-product-id="{product.id}"' not in html
    assert client.get(f"/products/{product.id}/").status_code == 200


@pytest.mark.django_db
def test_a_catalog_without_images_keeps_the_photos_products_have(indexed, tmp_path) -> None:
    folder = write_catalog(tmp_path / "names-only", indexed["rows"])
    for image in (folder / "images").iterdir():
        image.unlink()
    report = import_catalog(folder)
    assert (report.created, report.updated, report.image_problems) == (0, 0, [])
    assert Product.objects.exclude(image="").count() == SLICE


@pytest.mark.django_db
def test_the_product_list_matches_name_words_as_the_index_does(indexed) -> None:
    """The database's list and the index agree: a name filter is whole words ("2" is not in "ES2944")."""
    named = Product.objects.exclude(name="").first()
    word = re.findall(r"\w+", named.name)[-1]
    listed = Client().get("/api/v1/products", {"name": word, "page_size": 100}).json()["results"]
    assert named.id in {item["id"] for item in listed}
    assert all(word.lower() in re.findall(r"\w+", item["name"].lower()) for item in listed)
    fragment = word[1:]  # a part of a word is not the word
    if fragment and not Product.objects.filter(name__iregex=rf"(^|\W){re.escape(fragment)}(\W|$)").exists():
        assert Client().get("/api/v1/products", {"name": fragment}).json()["count"] == 0
