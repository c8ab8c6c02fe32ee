"""Shoppers' own words: shades the catalog never names, needs and occasions, category words,
words that find photos, and rows that never show one photo twice."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client

from catalog.models import Product
from catalog.services import import_catalog, reembed
from search import looks
from search.filters import Filters
from search.kinds import By
from search.lifecycle import ensure_index
from search.mapping import fingerprint
from search.models import Gloss
from search.query.intent import intended
from search.query.search_box import query_vector, search_products
from search.query.similar import similar_products
from search.query.understanding import understand
from tests.support import demo_rows, wait_until_settled

COLOURS = {"base_colour": ["black", "white", "red", "maroon", "blue", "navy blue", "brown", "tan", "green",
                           "off white", "cream", "multi"]}


def test_a_shade_is_read_as_the_catalogs_nearest_colours() -> None:
    def read(query: str) -> tuple[str, ...]:
        found = understand(query, COLOURS)
        value = found.values.get("base_colour")
        return (value, *found.also.get("base_colour", ())) if value else ()

    assert read("scarlet top")[0] == "red"
    assert read("wine kurta")[0] == "maroon"
    assert read("camel handbag")[0] == "tan"
    assert set(read("ivory shirt")) >= {"cream", "off white"}  # as near as each other: both pass
    assert read("off-white shirt") == ("off white",)  # the catalog's own colour, as it is written
    assert read("charcoal trousers")[0] in {"black", "navy blue"}  # the catalog has no grey: the nearest
    assert read("leather belt") == ()  # a fabric, not a colour
    assert read("rainbow dress") == ()  # no value: nothing is read
    crimson = understand("crimson heels", COLOURS)
    assert read("crimson heels") == ("maroon",) and "red" in crimson.farther["base_colour"]
    # A colour the catalog names, said outright, is read as it is; a short page is filled from the
    # colours nearest it, nearest first, as a shade's is ("navy formal shirt": Black, Blue...).
    white = understand("white shirt", COLOURS)
    assert white.values["base_colour"] == "white" and white.farther["base_colour"][:2] == ("off white", "cream")
    assert "base_colour" not in understand("red heels", COLOURS).farther  # none within reach in this catalog


def test_what_the_shopper_has_is_not_what_they_look_for() -> None:
    vocabulary = {**COLOURS, "gender": ["men", "women"],
                  "article_type": ["Belts", "Dresses", "Socks", "Sports Shoes", "Trousers", "Watches"]}
    assert "article_type" not in understand("something to hold up my trousers", vocabulary).values
    assert understand("socks for my running shoes", {**vocabulary, "article_type": ["Socks", "Running Shoes"]}).values[
        "article_type"] == "Socks"
    matched = understand("shoes to match my red dress", vocabulary).values
    assert "base_colour" not in matched and matched.get("article_type") != "Dresses"
    # The phrase had ends at a relative word: what follows is what they look for.
    assert understand("a gift for my girlfriend who loves watches", vocabulary).values == {"article_type": "Watches"}
    assert understand("red trousers for men", vocabulary).values == {
        "gender": "men", "article_type": "Trousers", "base_colour": "red"}


def test_values_joined_by_and_or_or_are_read_as_either() -> None:
    vocabulary = {**COLOURS, "article_type": ["Dresses", "Eyeliner", "Kajal and Eyeliner", "Mascara", "Shirts"]}

    def read(query: str, attribute: str) -> set[str]:
        found = understand(query, vocabulary)
        return {found.values[attribute], *found.also.get(attribute, ())} if attribute in found.values else set()

    assert read("mascara and eyeliner", "article_type") == {"Mascara", "Eyeliner"}
    assert read("black or white shirt", "base_colour") == {"black", "white"}
    assert read("red and black and white dresses", "base_colour") == {"red", "black", "white"}
    assert read("kajal and eyeliner", "article_type") == {"Kajal and Eyeliner"}  # one value's own words
    assert read("shirt dress", "article_type") == {"Dresses"}  # not joined: one kind of dress
    assert read("black shirt with white collar", "base_colour") == {"black"}


@pytest.mark.django_db
def test_a_need_an_occasion_or_a_category_word_reaches_what_serves_it(indexed) -> None:
    needs = {
        "keep the sun out of my eyes": ("article_type", "Sunglasses"),
        "something to tell the time": ("article_type", "Watches"),
        "bottoms": ("sub_category", "Bottomwear"),
        "footwear": ("master_category", "Footwear"),
    }
    for query, (field, value) in needs.items():
        found = search_products(query, Filters())
        # Where fewer than a page have the value, more of the kind above it follow ("lacking").
        leading = [r for r in found.results if "lacking" not in r["explanation"]]
        assert leading and all(r[field] == value for r in leading), (query, found.understood)
    # A need whose gloss is not near, but far nearer than any other's, is read: a job interview is
    # formal (the demo catalog's usages; under 0.52, and 0.15 ahead of the next).
    interview, usages = query_vector("for a job interview"), ["casual", "ethnic", "formal", "party", "sports"]
    assert intended(("usage",), interview, {"usage": usages}, {}, {}) == ("usage", ("formal",))
    assert intended(("usage",), query_vector("for a morning"), {"usage": usages}, {}, {}) is None
    # A need that narrows what the words named reads the narrower value: a bag for college is a backpack.
    assert search_products("a bag for college", Filters()).understood == {"article_type": "backpacks"}
    # What worked keeps working: a gender word, a misspelled type, a shade and a type together.
    gents = search_products("gents watches", Filters())
    assert gents.understood == {"gender": "men", "article_type": "watches"}
    assert search_products("sunglases", Filters()).understood == {"article_type": "sunglasses"}
    # Two types joined by "and" find both; a shade whose nearest colours leave the page short
    # finds the colours farther from it too (no Maroon kurta here, a Red one), not every kurta.
    both = search_products("sunglasses and watches", Filters(), k=30)
    assert {r["article_type"] for r in both.results} == {"Sunglasses", "Watches"}
    # Those of the nearest colours come first: the one red tshirt, then the farther shades'.
    scarlet = search_products("scarlet tshirt", Filters())
    assert scarlet.results[0]["base_colour"] == "Red" and "lacking" not in scarlet.results[0]["explanation"]
    assert len(scarlet.results) > 1 and all(r["explanation"]["lacking"] for r in scarlet.results[1:])
    crimson = search_products("crimson kurta", Filters())
    assert not crimson.relaxed and "Red" in {r["base_colour"] for r in crimson.results}
    assert all(r["article_type"] == "Kurtas" and r["base_colour"] not in {"Black", "White", "Navy Blue"}
               and r["explanation"]["lacking"] for r in crimson.results)
    # Where nothing is meant, the words are searched as they are.
    assert search_products("qwzx vbnm", Filters()).understood == {}


@pytest.mark.django_db
def test_staff_edit_a_gloss_and_the_next_search_reads_it(indexed, staff) -> None:
    query = "somewhere to keep a dragon's coins"
    assert search_products(query, Filters()).understood.get("article_type") != "wallets"
    gloss = Gloss.objects.get(attribute="article_type", value="Wallets")
    assert staff.get("/admin/search/gloss/").status_code == 200
    saved = staff.post(f"/admin/search/gloss/{gloss.pk}/change/", {
        "attribute": "article_type", "value": "Wallets", "text": "a dragon's purse, somewhere to keep its coins"})
    assert saved.status_code == 302
    found = search_products(query, Filters())
    assert found.understood.get("article_type") == "wallets"
    leading = [r for r in found.results if "lacking" not in r["explanation"]]
    assert leading and all(r["article_type"] == "Wallets" for r in leading)


@pytest.mark.django_db
def test_words_find_products_by_their_photos(indexed, monkeypatch, settings) -> None:
    monkeypatch.setattr(looks, "KEPT_SECONDS", 0)
    monkeypatch.setattr(looks, "_kept", {})  # this test's classifiers stay in this test
    client = Client()
    before = client.get("/api/v1/search", {"q": "sunglasses", "by": "image"})
    assert before.status_code == 503 and "try again" in before.json()["detail"]
    looks.refit(fingerprint())
    sunglasses = Product.objects.filter(article_type="Sunglasses").count()
    answer = client.get("/api/v1/search", {"q": "sunglasses", "by": "image", "k": sunglasses})
    assert answer.status_code == 200
    results = answer.json()["results"]
    # Ranked by the photos alone: a product's name plays no part (one renamed keeps its place).
    assert [r["article_type"] for r in results] == ["Sunglasses"] * sunglasses
    assert results[0]["explanation"]["looks"] == {"article_type": ["sunglasses"]}
    assert 0 < results[-1]["score"] <= results[0]["score"] <= 1
    black = client.get("/api/v1/search", {"q": "black watch", "by": "image"}).json()["results"]
    assert (black[0]["article_type"], black[0]["base_colour"]) == ("Watches", "Black")  # the one black watch
    # The words are no filter: the shopper's own filters are.
    women = client.get("/api/v1/search", {"q": "watch", "by": "image", "gender": "Women"}).json()["results"]
    assert women and all(r["gender"] == "Women" for r in women)
    refused = client.get("/api/v1/search", {"q": "watch", "by": "image", "sort": "price_asc"})
    assert refused.status_code == 400 and "by=image" in refused.json()["by"][0]
    nothing = client.get("/api/v1/search", {"q": "hello there", "by": "image"})
    assert nothing.status_code == 400 and "photo" in nothing.json()["detail"]
    # Similar by image: the nearest photos, ranked again by how likely both show one kind of product.
    settings.FINDER_ANSWER_CACHE = 0
    first, *others = Product.objects.filter(article_type="Sunglasses").values_list("id", flat=True)
    row = similar_products(first, By.IMAGE, Filters(), k=len(others))
    assert {r["id"] for r in row} == set(others)
    assert all(r["score"] == pytest.approx(r["explanation"]["image_score"] + 0.5 * r["explanation"]["same_kind"],
                                           abs=1e-5) for r in row)
    page = client.get("/search/", {"q": "sunglasses", "by": "image"})
    assert page.status_code == 200 and b"Photos that show" in page.content
    assert b'<option value="image" selected>' in page.content
    # A colour the catalog leaves empty is suggested from the photo, never written to the product.
    # (Sixty photos teach colours less surely than a shop's catalog: a lower bar for this slice.)
    monkeypatch.setattr(looks, "SUGGEST_FROM", 0.6)
    products = list(Product.objects.exclude(image="").exclude(base_colour=""))
    suggested = {}
    for product in products:
        colour, product.base_colour = product.base_colour, ""
        if found := looks.suggestions(product):
            suggested[product.id] = (found["base_colour"], colour.lower())
    assert len(suggested) >= 10  # colours with photos enough to learn from, and a sure enough guess
    assert sum(guess == truth for (guess, _), truth in suggested.values()) >= 0.9 * len(suggested)
    shown = next(pid for pid, ((guess, _), truth) in suggested.items() if guess == truth)
    Product.objects.filter(id=shown).update(base_colour="")
    detail = client.get(f"/products/{shown}/").content.decode()
    assert f"{suggested[shown][1].title()} <small" in detail and "suggested" in detail
    answer = client.get(f"/api/v1/products/{shown}").json()  # the API's product says the same
    assert answer["base_colour"] == "" and answer["suggested"]["base_colour"]["value"].lower() == suggested[shown][1]
    assert answer["suggested"]["base_colour"]["probability"] >= 0.6
    assert Product.objects.get(id=shown).base_colour == ""
    assert looks.suggestions(Product.objects.exclude(base_colour="").first()) == {}  # nothing is empty


@pytest.mark.django_db(transaction=True)
def test_a_row_never_shows_one_photo_twice(search_settings, celery_worker, catalog_dir) -> None:
    rows = demo_rows(12)
    twin = {**rows[0], "id": "99000001", "productDisplayName": f"{rows[0]['productDisplayName']} Again"}
    folder = catalog_dir([*rows, twin])
    shutil.copy(folder / "images" / f"{rows[0]['id']}.jpg", folder / "images" / "99000001.jpg")
    ensure_index()
    report = import_catalog(folder)
    reembed(Product.objects.filter(id__in=report.product_ids))
    wait_until_settled(report.product_ids)
    first, copy = rows[0]["id"], twin["id"]
    for by in By:
        assert copy not in [r["id"] for r in similar_products(first, by, Filters(), k=12)], by
        assert first not in [r["id"] for r in similar_products(copy, by, Filters(), k=12)], by
        other = rows[1]["id"]
        shown = [r["id"] for r in similar_products(other, by, Filters(), k=12)]
        assert not {first, copy} <= set(shown), by  # one of the two at most
    # Both are still indexed and counted.
    assert search_products(twin["productDisplayName"], Filters(), exact=True).count >= 2


@pytest.mark.django_db
def test_evaluate_reports_each_form_and_words_to_photos(indexed, tmp_path) -> None:
    needs = tmp_path / "needs.json"
    needs.write_text('[{"q": "keep the sun out of my eyes", "form": "need", "expect": {"article_type": '
                     '["Sunglasses"]}}, {"q": "scarlet t-shirt", "form": "shade", "expect": {"article_type": '
                     '["Tshirts"], "base_colour": ["Red", "Maroon"]}}]')
    out = tmp_path / "out.txt"
    with out.open("w") as handle:
        call_command("evaluate", "--need-queries", str(needs), "--samples", "10", stdout=handle)
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in out.read_text().splitlines()[2:]}
    assert float(rows["search box (needs: need), fused"][0]) == 1.0
    assert rows["search box (needs: shade), fused"][1] == "1"
    assert 0.0 <= float(rows["words to photos, held-out photos: type and colour right"][0]) <= 1.0


def test_a_classifier_of_two_values_reads_both() -> None:
    rng = np.random.default_rng(0)
    vectors = np.vstack([rng.normal(1.0, 0.3, (20, 8)), rng.normal(-1.0, 0.3, (20, 8))]).astype(np.float32)
    classifiers = looks.fit(vectors, {"gender": ["men"] * 20 + ["women"] * 20, "category": [""] * 40})
    assert set(classifiers.by_attribute) == {"gender"}  # no values, no classifier
    assert classifiers.reads(8) and not classifiers.reads(1280)  # not another image model's vectors
    chances = np.exp(classifiers.log_probability(vectors, {"gender": ("women",)}))
    assert chances[:20].max() < 0.1 and chances[20:].min() > 0.9
    again = looks.Classifiers.load(classifiers.dump())
    assert np.allclose(np.exp(again.log_probability(vectors, {"gender": ("men",)})), 1 - chances, atol=1e-5)
