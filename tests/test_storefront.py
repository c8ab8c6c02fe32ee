"""The storefront a shopper sees, on the real index: autocomplete, instant-search fragments that
degrade to plain forms, a product page with rows of similar products, results explained in
words, the account's place, and the API's self-description."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import get_resolver

from catalog.models import Product
from search.lifecycle import fill_suggestions
from search.query.suggest import suggestions
from search.store.connection import get_client
from search.store.schema import suggestion_key
from search.store.versions import live_index
from tests.support import NO_IMAGE_ID, indexed_products


@pytest.mark.django_db
def test_suggestions_offer_values_then_products_and_forgive_a_typo(indexed) -> None:
    answer = Client().get("/api/v1/suggest", {"q": "sungl"})
    assert answer.status_code == 200
    found = answer.json()["suggestions"]
    assert found[0] == {"text": "Sunglasses", "kind": "article_type", "label": "Product type",
                        "url": "/?article_type=Sunglasses"}
    product = Product.objects.exclude(image="").first()
    prefix = product.name[:6].lower()
    names = [s for s in Client().get("/api/v1/suggest", {"q": prefix}).json()["suggestions"] if s["kind"] == "product"]
    assert names and all(s["text"].lower().startswith(prefix) for s in names)
    assert all(s["url"] == f"/products/{s['id']}/" and Product.objects.filter(pk=s["id"]).exists() for s in names)
    # One letter wrong, nothing starts with it as typed: the dictionaries' fuzzy match finds it.
    assert [s.text for s in suggestions("sunglsses")][:1] == ["Sunglasses"]
    assert Client().get("/api/v1/suggest").status_code == 400
    assert Client().get("/api/v1/suggest", {"q": "x" * 61}).status_code == 400


@pytest.mark.django_db
def test_a_search_becomes_a_suggestion_once_enough_shoppers_made_it(indexed, settings) -> None:
    settings.FINDER_SUGGEST_MIN_SEARCHES = 3
    for _ in range(5):  # one visitor, again and again, is one
        assert Client(REMOTE_ADDR="10.0.0.1").get("/search/", {"q": "Blue   Tshirts zz"}).status_code == 200
    assert Client(REMOTE_ADDR="10.0.0.2").get("/api/v1/search", {"q": "blue tshirts zz"}).status_code == 200
    assert "blue tshirts zz" not in [s.text for s in suggestions("blue tsh")]
    Client(REMOTE_ADDR="10.0.0.3").get("/search/", {"q": "blue tshirts zz"})
    offered = [s for s in suggestions("blue tsh") if s.kind == "query"]
    assert [s.text for s in offered] == ["blue tshirts zz"]
    # Nearest neighbours always come back; a search whose words the catalog does not have is
    # never counted all the same.
    for address in ("10.0.1.1", "10.0.1.2", "10.0.1.3"):
        Client(REMOTE_ADDR=address).get("/search/", {"q": "qqqqzzzz"})
    assert not suggestions("qqqqzzzz")


@pytest.mark.django_db
def test_suggestions_of_an_index_built_before_them_are_filled_from_the_database(indexed) -> None:
    key = suggestion_key(live_index().doc_prefix, "products")
    get_client().delete(key)
    assert not [s for s in suggestions("a") if s.kind == "product"]
    assert fill_suggestions() == indexed_products().count()
    assert fill_suggestions() == 0  # once
    assert int(get_client().execute_command("FT.SUGLEN", key)) > 0


@pytest.mark.django_db
def test_instant_search_gets_the_page_content_alone_and_the_page_works_without_script(indexed) -> None:
    client = Client()
    fragment = client.get("/search/", {"q": "watch"}, HTTP_X_FRAGMENT="1")
    body = fragment.content.decode()
    assert fragment.status_code == 200 and "X-Fragment" in fragment["Vary"]
    assert body.lstrip().startswith("<div data-title=") and "<html" not in body and 'id="results"' in body
    page = client.get("/search/", {"q": "watch"}).content.decode()
    assert "<html" in page and 'id="results"' in page
    # Without script: the search box is a plain GET form, filters and sort have their buttons.
    assert re.search(r'<form class="searchbox" role="search" method="get" action="/search/"', page)
    assert '<input id="q" name="q" type="search"' in page
    assert 'class="no-js-only">Apply filters</button>' in page and 'class="small no-js-only">Sort</button>' in page


@pytest.mark.django_db
def test_the_product_page_shows_rows_of_similar_products(indexed) -> None:
    product = indexed_products().exclude(image="").first()
    page = Client().get(f"/products/{product.id}/")
    assert page.status_code == 200
    rows = {row["kind"].name: row for row in page.context["rows"]}
    assert set(rows) == {"image", "text"}
    for name, row in rows.items():
        assert len(row["results"]) == 6 and product.id not in {r["id"] for r in row["results"]}, name
    html = page.content.decode()
    assert "Looks like this" in html and "Similar description" in html
    assert f'href="/products/{product.id}/similar/?by=image">See all' in html
    # Scores in words, not a raw number; the search status is for staff.
    assert "% alike" in html and "Search status" not in html
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("row-boss", password="a long staff pw 8"))
    assert "Search status" in staff.get(f"/products/{product.id}/").content.decode()
    # A product without a photo has no "looks like this" row, and no error.
    bare = Client().get(f"/products/{NO_IMAGE_ID}/")
    assert bare.status_code == 200 and [row["kind"].name for row in bare.context["rows"]] == ["text"]


@pytest.mark.django_db
def test_search_results_explain_themselves_in_words(indexed) -> None:
    html = Client().get("/search/", {"q": "sunglases"}).content.decode()
    assert "Did you mean" in html and "sunglasses" in html and "exact=1" in html
    cards = html.split('class="card"')[1:]
    assert cards and all(re.search(r"Matches your words|Close in meaning", card) for card in cards)
    assert not re.search(r"\b0\.0\d\d\b", html)  # no raw fused score
    exact = Client().get("/search/", {"q": "sunglases", "exact": "1"}).content.decode()
    assert "Did you mean" not in exact


@pytest.mark.django_db
def test_the_account_has_its_place(indexed) -> None:
    assert Client().get("/accounts/").status_code == 302
    signup = Client().get("/accounts/signup/").content.decode()
    assert "favourites" in signup and "need no account" in signup
    client = Client()
    client.force_login(get_user_model().objects.create_user("member"))
    page = client.get("/accounts/")
    assert page.status_code == 200 and "member" in page.content.decode()


@pytest.mark.django_db
def test_the_api_describes_every_endpoint_parameter_and_error(indexed) -> None:
    schema = yaml.safe_load(Client().get("/api/v1/schema").content)
    storefront = next(p for p in get_resolver().url_patterns if getattr(p, "app_name", "") == "storefront")
    api_routes = {"/" + str(p.pattern) for p in storefront.url_patterns
                  if str(p.pattern).startswith("api/v1/") and p.name not in ("api-schema", "api-docs")}
    documented = {path.replace("{product_id}", "<product:product_id>").replace("{id}", "<int:pk>")
                  for path in schema["paths"]}
    assert api_routes == documented
    search = schema["paths"]["/api/v1/search"]["get"]
    parameters = {p["name"] for p in search["parameters"]}
    assert {"q", "k", "page", "sort", "exact", "gender", "not_gender", "brand", "year_min", "lat", "lon"} <= parameters
    assert {"200", "400", "401", "429", "503"} <= set(search["responses"])
    assert "409" in schema["paths"]["/api/v1/products/{product_id}/similar"]["get"]["responses"]
    docs = Client().get("/api/v1/docs").content.decode()
    assert "swagger-ui" in docs and "/static/drf_spectacular_sidecar/" in docs
    assert not re.search(r'(src|href)="https?://', docs)  # nothing from a CDN
