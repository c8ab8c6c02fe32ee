"""The shop steers its search (rules: pin, hide, boost) and the search page a shopper expects:
facets over the query's matches, highlights, prefixes as the shopper types, and paging or
sorting through every match."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from analytics.models import Search
from analytics.selectors import Period, rule_hits
from analytics.services import roll_up
from catalog.models import Product
from search.filters import Filters
from search.query.highlights import Marks
from search.query.search_box import search_products
from search.query.understanding import understand
from search.store import get_store
from tests.support import card_ids

RULE_PERMISSIONS = ("view_rule", "add_rule", "change_rule", "delete_rule")


def api_client(*permissions: str, staff: bool = True) -> Client:
    """A client with a token of an account that has ``permissions`` (of the search app)."""
    user = get_user_model().objects.create_user(f"rules-{len(permissions)}-{staff}-{time.monotonic_ns()}",
                                                is_staff=staff)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="search", codename__in=permissions))
    _, token = AuthToken.objects.create(user)
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


def search(query: str, **params: Any) -> dict[str, Any]:
    answer = Client().get("/api/v1/search", {"q": query, **params})
    assert answer.status_code == 200, answer.content
    return answer.json()


def ids(answer: dict[str, Any]) -> list[str]:
    return [result["id"] for result in answer["results"]]


def within_seconds(check: Any, seconds: float = 5.0) -> None:
    """Wait until ``check()`` holds, at most ``seconds`` (the issue's promise for rules)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time promised"
        time.sleep(0.2)


@pytest.mark.django_db
def test_rules_api_takes_staff_with_the_rule_permissions_only(indexed) -> None:
    product = Product.objects.order_by("id").first()
    rule = {"query": "Casual Wear", "match": "exact", "pin": [product.id]}
    assert Client().get("/api/v1/rules").status_code == 401
    assert Client().post("/api/v1/rules", rule, content_type="application/json").status_code == 401
    assert api_client().post("/api/v1/rules", rule, content_type="application/json").status_code == 403
    assert api_client("view_rule").post("/api/v1/rules", rule, content_type="application/json").status_code == 403
    editor = api_client(*RULE_PERMISSIONS)
    created = editor.post("/api/v1/rules", rule, content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["id"] and body["pin"] == [product.id] and body["enabled"] is True and body["hide"] == []
    assert editor.get("/api/v1/rules").json()[0]["id"] == body["id"]
    assert api_client("view_rule").get(f"/api/v1/rules/{body['id']}").json()["query"] == "Casual Wear"

    unknown = editor.post("/api/v1/rules", {**rule, "pin": [product.id, "no-such-sku"]},
                          content_type="application/json")
    assert unknown.status_code == 400 and "no-such-sku" in unknown.json()["pin"][0]
    for bad in ({"boost": [{"attribute": "shoe_size", "value": "9", "weight": 2}]},
                {"boost": [{"attribute": "brand", "value": "Nike", "weight": 0}]},
                {"pin": "not a list"}, {"query": "  "}, {"match": "sometimes"},
                {"starts": "2026-12-08T00:00:00Z", "ends": "2026-12-07T00:00:00Z"}):
        answer = editor.post("/api/v1/rules", {**rule, **bad}, content_type="application/json")
        assert answer.status_code == 400, bad
        assert set(answer.json()) & set(bad), answer.json()

    replaced = editor.put(f"/api/v1/rules/{body['id']}", {"query": "casual", "match": "contains", "enabled": False},
                          content_type="application/json")
    assert replaced.status_code == 200 and replaced.json()["pin"] == [] and replaced.json()["match"] == "contains"
    assert api_client("view_rule").delete(f"/api/v1/rules/{body['id']}").status_code == 403
    assert editor.delete(f"/api/v1/rules/{body['id']}").status_code == 204
    assert editor.get(f"/api/v1/rules/{body['id']}").status_code == 404


@pytest.mark.django_db
def test_rules_pin_hide_and_boost_the_search_box_and_stop_when_gone(indexed) -> None:
    query = "tshirt for men"
    plain = search(query, k=50)
    assert plain["understood"].get("article_type") == "tshirts" and len(plain["results"]) >= 5
    # A pin the query's words would have filtered out (a woman's, not a T-shirt) shows all the same.
    elsewhere = Product.objects.exclude(article_type="Tshirts").filter(gender="Women").order_by("id").first()
    hidden = ids(plain)[0]
    epoch = get_store().epoch()
    editor = api_client(*RULE_PERMISSIONS)

    def write(rule: dict[str, Any]) -> int:
        answer = editor.post("/api/v1/rules", rule, content_type="application/json")
        assert answer.status_code == 201, answer.content
        return answer.json()["id"]

    exact = write({"query": "T-shirts  for MEN", "pin": [elsewhere.id], "hide": [hidden]})
    within_seconds(lambda: ids(search(query))[0] == elsewhere.id)
    steered = search(query, k=50)
    assert steered["results"][0]["explanation"]["rules"] == ["pinned by a rule"]
    assert hidden not in ids(steered) and steered["count"] == plain["count"]  # one in, one out
    # A filter the shopper chose still applies to pins.
    assert elsewhere.id not in ids(search(query, gender="Men"))
    # Writing a rule leaves the index, and every answer kept at its epoch, as it was.
    assert get_store().epoch() == epoch

    # A contains rule: its words anywhere in the query. Pins of the exact rule come first.
    last = ids(plain)[-1]
    contains = write({"query": "tshirts", "match": "contains", "pin": [last]})
    within_seconds(lambda: ids(search(query))[:2] == [elsewhere.id, last])
    assert ids(search("tshirt"))[0] == last and ids(search("blue tshirts"))[0] == last

    # A boost lifts the products of a value from low in the ranking; under 1 buries them.
    brand = Product.objects.get(pk=last).brand
    editor.delete(f"/api/v1/rules/{contains}")
    below = [r for r in search(query, k=50)["results"] if r["brand"] == brand and not r["explanation"].get("pinned")]
    write({"query": query, "boost": [{"attribute": "brand", "value": brand, "weight": 50}]})
    within_seconds(lambda: search(query)["results"][1]["brand"] == brand)
    lifted = search(query)["results"][1]
    assert lifted["explanation"]["rules"] == [f"boosted: brand {brand}"] and below

    # Switched off, ended or not yet started: no rule applies.
    for rule_id in (exact,):
        editor.patch(f"/api/v1/rules/{rule_id}", {"enabled": False}, content_type="application/json")
    past, future = timezone.now() - datetime.timedelta(days=1), timezone.now() + datetime.timedelta(days=1)
    write({"query": query, "pin": [hidden], "ends": past.isoformat()})
    write({"query": query, "pin": [hidden], "starts": future.isoformat()})
    within_seconds(lambda: elsewhere.id not in ids(search(query, k=50)))
    assert ids(search(query))[0] != hidden
    for rule in editor.get("/api/v1/rules").json():
        assert editor.delete(f"/api/v1/rules/{rule['id']}").status_code == 204
    within_seconds(lambda: ids(search(query, k=50)) == ids(plain))


@pytest.mark.django_db
def test_the_analytics_count_each_rules_hits(indexed, settings) -> None:
    settings.FINDER_ANALYTICS = True
    roll_up()  # what other tests searched is counted, and set aside, first
    Search.objects.all().delete()
    product = Product.objects.order_by("-id").first()
    rule = api_client(*RULE_PERMISSIONS).post("/api/v1/rules", {"query": "casual", "match": "contains",
                                                                 "pin": [product.id]},
                                              content_type="application/json").json()
    for query in ("casual shoes", "casual wear", "formal shirt"):
        assert search(query)["search_id"]
    roll_up()
    assert [(row["rule_id"], row["hits"]) for row in rule_hits(Period.last_days(1))] == [(rule["id"], 2)]


@pytest.mark.django_db
def test_facets_count_the_querys_matches_and_add_up_to_its_count(indexed) -> None:
    answer = search("casual", facets=1, k=5)
    count, facets = answer["count"], answer["facets"]
    assert count > 5 and set(facets) >= {"gender", "category", "article_type", "base_colour", "brand"}
    for parameter, values in facets.items():
        assert sum(values.values()) <= count, parameter
    assert sum(facets["gender"].values()) == sum(facets["category"].values()) == count
    # Under a filter the counts are of what passes it; the total is the filtered search's.
    gender, most = max(facets["gender"].items(), key=lambda item: item[1])
    narrowed = search("casual", facets=1, gender=gender)
    assert narrowed["count"] == most and narrowed["facets"]["gender"] == {gender: most}
    # The whole catalog's product types are not the query's: the sidebar counts the matches.
    watches = search("watch", facets=1)
    assert set(watches["facets"]["article_type"]) == {"Watches"}
    page = Client().get("/search/", {"q": "watch"}).content.decode()
    assert 'value="Watches"' in page and 'value="Tshirts"' not in page


@pytest.mark.django_db
def test_every_match_pages_and_sorts_to_its_last_product(indexed) -> None:
    # "men" is read as the gender: every men's product matches, far more than a page.
    total = Product.objects.filter(gender="Men").count()
    for sort in ("relevance", "price_asc", "price_desc", "newest", "name"):
        seen, page = [], 1
        while True:
            answer = search("men", k=7, page=page, sort=sort)
            assert answer["count"] == total, sort
            seen += answer["results"]
            if page * 7 >= answer["count"]:
                break
            page += 1
        assert len(seen) == total == len({r["id"] for r in seen}), sort
        if sort == "name":
            names = [r["name"].casefold() for r in seen]
            assert names == sorted(names)
        elif sort.startswith("price"):
            prices = [r["price"] if r["sale_price"] is None else r["sale_price"] for r in seen]
            known = [p for p in prices if p is not None]
            assert known == sorted(known, reverse=sort == "price_desc")
            assert prices[len(known):] == [None] * (len(prices) - len(known))  # no price: last
        elif sort == "newest":
            years = [r["year"] for r in seen if r["year"] is not None]
            assert years == sorted(years, reverse=True)
    assert not search("men", k=7, page=page + 1)["results"]


def test_highlights_mark_the_matched_words_and_escape_the_rest() -> None:
    marks = Marks.of("sunglases <script>", "sunglasses <script>", ["shades"], partial="avia")
    document = {"name": "Fastrack <b>Men</b> Sunglasses & Aviator Shades",
                "description": "x " * 200 + "Classic <i>sunglasses</i> for the beach. " + "y " * 200}
    found = marks.highlight(document)
    assert found["name"] == ("Fastrack &lt;b&gt;Men&lt;/b&gt; <mark>Sunglasses</mark> &amp; <mark>Aviator</mark> "
                             "<mark>Shades</mark>")
    assert "&lt;i&gt;<mark>sunglasses</mark>&lt;/i&gt;" in found["description"]
    assert found["description"].startswith("… ") and len(found["description"]) < 400
    assert "<script>" not in found["name"] + found["description"]
    assert "description" not in marks.highlight({"name": "Belt", "description": "A plain leather belt."})


@pytest.mark.django_db
def test_every_result_carries_its_highlight_misspelled_or_not(indexed) -> None:
    product = Product.objects.filter(article_type="Watches").order_by("id").first()
    word = next(w for w in product.name.split() if len(w) >= 6 and w.isalpha())
    typo = word[:2] + word[3:]  # one letter dropped
    answer = search(typo.lower())
    assert answer["corrected"] and answer["results"]
    for result in answer["results"]:
        assert set(result["highlight"]) <= {"name", "description"} and "name" in result["highlight"]
    assert any(f"<mark>{word}</mark>" in r["highlight"]["name"] for r in answer["results"])
    page = Client().get("/search/", {"q": typo.lower()}).content.decode()
    assert f"<mark>{word}</mark>" in page


def test_the_word_being_typed_reads_as_the_start_of_a_value() -> None:
    vocabulary = {"gender": ["Men", "Women"], "article_type": ["Formal Shoes", "Sunglasses", "Shorts", "Handbags",
                                                               "Nightdress", "Shoe Accessories"]}
    assert understand("sungl", vocabulary, partial="sungl").values == {"article_type": "Sunglasses"}
    assert understand("sungl", vocabulary, partial="sungl").completed == {"sungl": "sunglasses"}
    assert understand("handba", vocabulary, partial="handba").values == {"article_type": "Handbags"}
    assert understand("men formal sho", vocabulary, partial="sho", whole=True).values == {
        "gender": "Men", "article_type": "Formal Shoes"}
    # A whole word is no start of another on its own; nor is a start that two values share.
    assert understand("night", vocabulary, partial="night", whole=True).values == {}
    assert understand("sh", vocabulary, partial="sh").values == {}


@pytest.mark.django_db
def test_as_a_shopper_types_the_results_and_the_suggestions_agree(indexed) -> None:
    article_type = "Watches"
    assert Product.objects.filter(article_type=article_type).exists()
    for typed in ("watc", "men watc"):
        answer = search(typed)
        assert answer["results"] and {r["article_type"] for r in answer["results"]} == {article_type}, typed
        assert not answer["corrected"]
    suggested = Client().get("/api/v1/suggest", {"q": "watc"}).json()["suggestions"]
    assert suggested[0]["text"] == article_type


@pytest.mark.django_db
def test_a_rule_made_in_the_admin_shows_its_preview(indexed, staff) -> None:
    query = "casual shoes"
    plain = search_products(query, Filters(), k=12)
    pinned = Product.objects.exclude(pk__in=[r["id"] for r in plain.results]).order_by("id").first()
    answer = staff.post("/admin/search/rule/add/", {"query": query, "match": "exact", "pin": pinned.id, "hide": "",
                                                     "boost": "[]", "enabled": "on", "_continue": "1"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    page = staff.get(answer["Location"]).content.decode()
    before, after = page.split('id="preview-before"')[1].split('id="preview-after"')
    assert pinned.id not in before and after.index(pinned.id) < after.index("</li>")
    assert "pinned by a rule" in after
    shown = Client().get("/search/", {"q": query})
    assert card_ids(shown)[0] == pinned.id and shown.content.decode().count("Placed here by the shop") == 1
    bad = staff.post("/admin/search/rule/add/", {"query": query, "match": "exact", "pin": "no-such-sku",
                                                  "hide": "", "boost": "[]"})
    assert bad.status_code == 200 and "No such product: no-such-sku" in bad.content.decode()

