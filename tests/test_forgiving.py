"""Forgiving search on the real index: misspellings read as the catalog's words, synonyms that
staff edit and that apply to the next search, relaxation one value at a time, short pages filled
from wider readings, and sorting."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from catalog.models import Product
from search.filters import Filters
from search.models import SynonymGroup
from search.query.colours import around
from search.query.ordering import Sort
from search.query.search_box import search_products


@pytest.mark.django_db
def test_a_misspelled_word_is_read_as_the_catalogs_word(indexed) -> None:
    found = search_products("sunglases", Filters())
    assert found.corrected == "sunglasses"
    assert found.results and all(r["article_type"] == "Sunglasses" for r in found.results)
    # Asked for exactly what was typed, nothing is corrected.
    assert search_products("sunglases", Filters(), exact=True).corrected == ""


@pytest.mark.django_db
def test_words_the_shopper_meant_are_not_corrected(indexed) -> None:
    # Everyday English the catalog never uses ("kicks"), and the catalog's own words, stay.
    for query in ("kicks", "tshirts", "sunglasses for men"):
        assert search_products(query, Filters()).corrected == "", query


@pytest.mark.django_db
def test_the_seeded_synonyms_let_a_shoppers_word_name_a_product_type(indexed) -> None:
    assert SynonymGroup.objects.filter(terms__contains="shades").exists()  # seeded by the migration
    found = search_products("shades", Filters())
    assert found.understood == {"article_type": "sunglasses"}
    assert "sunglasses" in found.synonyms
    assert found.results and all(r["article_type"] == "Sunglasses" for r in found.results)


@pytest.mark.django_db
def test_a_synonym_group_saved_in_the_admin_applies_to_the_next_search(indexed) -> None:
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("thesaurus", password="a long staff pw 7"))
    assert "article_type" not in search_products("moonwalkers", Filters()).understood
    refused = staff.post("/admin/search/synonymgroup/add/", {"terms": "moonwalkers"})
    assert refused.status_code == 200 and "at least two terms" in refused.content.decode()
    saved = staff.post("/admin/search/synonymgroup/add/", {"terms": "Moonwalkers,  WALLETS ,moonwalkers"})
    assert saved.status_code == 302
    group = SynonymGroup.objects.get(terms__startswith="moonwalkers")
    assert group.terms == "moonwalkers, wallets"
    found = search_products("moonwalkers", Filters())
    assert found.understood == {"article_type": "wallets"}
    assert found.results and all(r["article_type"] == "Wallets" for r in found.results)
    staff.post(f"/admin/search/synonymgroup/{group.pk}/delete/", {"post": "yes"})
    assert not SynonymGroup.objects.filter(pk=group.pk).exists()
    assert "article_type" not in search_products("moonwalkers", Filters()).understood


@pytest.mark.django_db
def test_nothing_matching_every_value_drops_the_narrowest_first(indexed) -> None:
    # A colour no watch has, nor any colour near it (those would fill the page instead).
    watch_colours = set(Product.objects.filter(article_type="Watches").values_list("base_colour", flat=True))
    colours = tuple(Product.objects.exclude(base_colour="").values_list("base_colour", flat=True).distinct())
    colour = next(colour for colour in colours
                  if colour not in watch_colours and not set(around(colour, colours)) & watch_colours)
    found = search_products(f"{colour} watches", Filters())
    assert found.relaxed
    assert found.understood == {"article_type": "watches"}  # the colour went, the product type stayed
    assert found.results and all(r["article_type"] == "Watches" for r in found.results)


@pytest.mark.django_db
def test_a_short_page_is_filled_from_the_broader_value_after_the_strict_matches(indexed) -> None:
    # A product type with fewer than a page of products, under a sub category with more.
    types = Product.objects.values_list("article_type", "sub_category").distinct()
    article_type, sub_category = next(
        (kind, under) for kind, under in types
        if 0 < Product.objects.filter(article_type=kind).count() < 12 <= Product.objects.filter(
            sub_category=under).count() and not Product.objects.filter(article_type=kind).exclude(
            sub_category=under).exists() and " " not in kind)
    strict = Product.objects.filter(article_type=article_type).count()
    found = search_products(article_type, Filters())
    assert found.understood == {"article_type": article_type.lower()} and not found.relaxed
    assert len(found.results) == 12 and found.count > strict and found.filled
    first, rest = found.results[:strict], found.results[strict:]
    assert all(r["article_type"] == article_type and "lacking" not in r["explanation"] for r in first)
    assert all(r["explanation"]["lacking"] == ["article_type"] for r in rest)
    # The broader value is read before anything at all: the rest of the page is of its sub category.
    assert all(r["sub_category"] == sub_category and r["article_type"] != article_type for r in rest)
    page = Client().get("/search/", {"q": article_type}).content.decode()
    assert "match part of it" in page and page.count("Matches part of your search") == 12 - strict


@pytest.mark.django_db
def test_a_short_page_is_filled_past_a_loosely_labelled_value(indexed) -> None:
    # A usage (labelled loosely) that fewer than a page of products have.
    usages = Product.objects.exclude(usage="").values_list("usage", flat=True).distinct()
    usage = next(usage for usage in usages
                 if " " not in usage and 0 < Product.objects.filter(usage=usage).count() < 12)
    strict = Product.objects.filter(usage=usage).count()
    found = search_products(usage, Filters())
    assert found.understood == {"usage": usage.lower()} and not found.relaxed
    assert len(found.results) == 12 and found.filled
    assert all(r["usage"] == usage for r in found.results[:strict])
    assert all(r["explanation"]["lacking"] == ["usage"] for r in found.results[strict:])


@pytest.mark.django_db
def test_sorting_reorders_the_relevant_matches(indexed) -> None:
    by_name = search_products("tshirt", Filters(), k=12, sort=Sort.NAME).results
    names = [r["name"].casefold() for r in by_name]
    assert names == sorted(names) and all(r["article_type"] == "Tshirts" for r in by_name)
    newest = search_products("tshirt", Filters(), k=12, sort=Sort.NEWEST).results
    years = [r.get("year") or 0 for r in newest]
    assert years == sorted(years, reverse=True)

    client = Client()
    grid = client.get("/", {"sort": "newest"}).context["page"].object_list
    grid_years = [p.year or 0 for p in grid]
    assert grid_years == sorted(grid_years, reverse=True) and grid_years[0] > min(grid_years)
    api = client.get("/api/v1/products", {"sort": "name"}).json()["results"]
    assert [p["name"].casefold() for p in api] == sorted(p["name"].casefold() for p in api)
    bad = client.get("/api/v1/search", {"q": "tshirt", "sort": "cheapest"})
    assert bad.status_code == 400 and "sort" in bad.json()
    searched = client.get("/api/v1/search", {"q": "tshirt", "sort": "name"}).json()["results"]
    assert [r["name"].casefold() for r in searched] == sorted(r["name"].casefold() for r in searched)


@pytest.mark.django_db
def test_a_value_the_query_was_read_as_can_be_unticked(indexed) -> None:
    watches = Product.objects.filter(article_type="Watches").exclude(base_colour="")
    colour = watches.values_list("base_colour", flat=True).first()
    assert watches.exclude(base_colour=colour).exists()
    client = Client()
    page = client.get("/search/", {"q": f"{colour} watches"})
    assert page.context["found"].understood == {"base_colour": colour.lower(), "article_type": "watches"}
    html = page.content.decode()
    assert '<input type="hidden" name="decided" value="article_type">' in html
    assert '<input type="hidden" name="decided" value="base_colour">' in html
    # The sidebar sent back with the colour unticked: the product type stays, the colour goes.
    untick = client.get("/search/", {"q": f"{colour} watches", "decided": ["article_type", "base_colour"],
                                     "article_type": "Watches"})
    found = untick.context["found"]
    assert found.understood == {} and found.applied.tags == {"article_type": ("Watches",)}
    assert {r["article_type"] for r in found.results} == {"Watches"}
    assert {r["base_colour"] for r in found.results} - {colour}
    assert "decided=base_colour" in untick.context["pager"]["keep"]  # the next page reads it the same way
