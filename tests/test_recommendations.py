"""For you: picks from a shopper's favourites and views, leaning away from what they marked
"Not for me"; the shop's favourites while they have no history; and all of it theirs to clear
or delete. On the indexed slice of the demo catalog, with the real models."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from catalog.models import Product
from shoppers.models import Dismissal

PASSWORD = "a-long-Passphrase-42"


def signed_in(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get_or_create(username=username)[0])
    return client


def picks(client: Client, **params: object) -> dict:
    answer = client.get("/api/v1/me/recommendations", params)
    assert answer.status_code == 200, answer.content
    return answer.json()


def of_type(article_type: str) -> list[str]:
    """The demo's products of a type, in the order of their (numeric) ids."""
    return sorted(Product.objects.filter(article_type=article_type, image__gt="").values_list("id", flat=True),
                  key=int)


@pytest.mark.django_db
def test_for_you_needs_an_account(indexed) -> None:
    anonymous = Client()
    assert anonymous.get("/api/v1/me/recommendations").status_code == 401
    assert anonymous.get("/for-you/")["Location"].startswith("/accounts/login/")
    product = Product.objects.order_by("id").first()
    assert anonymous.put(f"/api/v1/me/dismissed/{product.id}").status_code == 401
    assert anonymous.post(f"/not-for-me/{product.id}/").status_code == 302


@pytest.mark.django_db
def test_a_shopper_without_history_gets_the_shops_favourites_and_is_told_so(indexed) -> None:
    liked = Product.objects.order_by("-id")[3]
    for n in range(2):
        signed_in(f"fan-{n}").put(f"/api/v1/me/favourites/{liked.id}")
    newcomer = signed_in("newcomer")
    answer = picks(newcomer, k=5)
    assert answer["basis"] == "popular"
    assert answer["results"][0]["id"] == liked.id and len(answer["results"]) == 5
    page = newcomer.get("/for-you/").content.decode()
    assert "Popular in the shop for now" in page and f'data-product-id="{liked.id}"' in page
    # The fallback keeps to the filters too.
    women = picks(newcomer, gender="Women", k=5)["results"]
    assert women and all(product["gender"] == "Women" for product in women)


@pytest.mark.django_db
def test_liking_watches_brings_watches_never_what_was_seen(indexed) -> None:
    watches = of_type("Watches")
    assert len(watches) >= 4
    shopper = signed_in("watch-fan")
    for watch in watches[:3]:
        assert shopper.put(f"/api/v1/me/favourites/{watch}").status_code == 204
    opened = Product.objects.exclude(id__in=watches).order_by("id").first()
    shopper.get(f"/products/{opened.id}/")
    answer = picks(shopper, k=12)
    assert answer["basis"] == "history"
    ids = [product["id"] for product in answer["results"]]
    # The one watch not liked yet is the first pick; nothing liked or opened comes back.
    assert ids[0] == watches[3]
    assert not set(ids) & {*watches[:3], opened.id}
    # Filters apply: within women's products only.
    women = picks(shopper, gender="Women")["results"]
    assert women and all(product["gender"] == "Women" for product in women)
    # Nothing passes a filter: still their picks (none), not the shop's favourites.
    assert picks(shopper, year_min=9000) == {"results": [], "basis": "history"}
    page = shopper.get("/for-you/").content.decode()
    assert "Picked from your favourites" in page and f'data-product-id="{watches[3]}"' in page


@pytest.mark.django_db
def test_not_for_me_leans_away_and_is_never_shown_again(indexed) -> None:
    shirts = of_type("Tshirts")
    shopper = signed_in("picky")
    for shirt in shirts[:3]:
        shopper.put(f"/api/v1/me/favourites/{shirt}")
    before = [product["id"] for product in picks(shopper, k=24)["results"]]
    # Dismiss the two nearest picks that are not T-shirts: what is like them falls back.
    others = [pid for pid in before if pid not in shirts]
    unwanted = others[:2]
    for pid in unwanted:
        assert shopper.post(f"/not-for-me/{pid}/", {"next": "/for-you/"}).status_code == 302
    after = [product["id"] for product in picks(shopper, k=24)["results"]]
    assert not set(after) & set(unwanted)
    unwanted_types = set(Product.objects.filter(id__in=unwanted).values_list("article_type", flat=True))

    def rank_of_unwanted_kind(ranking: list[str]) -> float:
        """The mean rank of the products of the dismissed types, not dismissed themselves."""
        kinds = dict(Product.objects.filter(id__in=ranking).values_list("id", "article_type"))
        ranks = [rank for rank, pid in enumerate(ranking) if kinds[pid] in unwanted_types and pid not in unwanted]
        return sum(ranks) / len(ranks) if ranks else len(ranking)

    assert rank_of_unwanted_kind(after) > rank_of_unwanted_kind(before)
    # Taken back through the API, and cleared on the account page.
    assert shopper.delete(f"/api/v1/me/dismissed/{unwanted[0]}").status_code == 204
    assert shopper.put(f"/api/v1/me/dismissed/{unwanted[0]}").status_code == 204
    user = get_user_model().objects.get(username="picky")
    assert set(Dismissal.objects.filter(user=user).values_list("product_id", flat=True)) == set(unwanted)
    assert f'data-product-id="{unwanted[0]}"' in shopper.get("/accounts/").content.decode()
    shopper.post("/accounts/not-for-me/clear/")
    assert not Dismissal.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_dismissing_a_favourite_lets_it_go_and_deleting_the_account_takes_the_dismissals(indexed) -> None:
    user = get_user_model().objects.create_user("doubter", password=PASSWORD)
    client = Client()
    client.post("/accounts/login/", {"username": "doubter", "password": PASSWORD})
    product = Product.objects.order_by("id")[5]
    client.put(f"/api/v1/me/favourites/{product.id}")
    client.put(f"/api/v1/me/dismissed/{product.id}")
    assert client.get("/api/v1/me/favourites").json()["results"] == []
    client.post("/accounts/delete/", {"password": PASSWORD})
    assert not Dismissal.objects.filter(user_id=user.pk).exists()
