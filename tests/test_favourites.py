"""What an account keeps: favourites (the heart on every card and product page, for an account or
a guest's session joined to the account at sign-up or log-in; the favourites page; the API's
``/api/v1/me/favourites``), recently viewed products, and deleting it all."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from catalog.models import Product
from shoppers.models import Favourite, View
from shoppers.services import VIEWS_KEPT
from tests.support import hearts

PASSWORD = "a-long-Passphrase-42"


@pytest.mark.django_db
def test_a_guests_favourites_join_the_account_they_sign_up_for_and_survive_log_out(indexed) -> None:
    first, second = Product.objects.order_by("id")[:2]
    guest = Client()
    assert guest.post(f"/favourites/{first.id}/", {"on": "1", "next": "/"}).status_code == 302
    away = guest.post(f"/favourites/{second.id}/", {"on": "1", "next": "https://evil.example/"})
    assert away["Location"] == f"/products/{second.id}/"  # never sent off the site
    assert hearts(guest, "/favourites/") == {second.id: True, first.id: True}
    assert hearts(guest, "/")[first.id] is True
    guest.post("/accounts/signup/", {"username": "keeper", "password1": PASSWORD, "password2": PASSWORD})
    user = get_user_model().objects.get(username="keeper")
    assert set(Favourite.objects.filter(user=user).values_list("product_id", flat=True)) == {first.id, second.id}
    guest.post("/accounts/logout/")
    assert hearts(guest, "/favourites/") == {}
    guest.post("/accounts/login/", {"username": "keeper", "password": PASSWORD})
    assert list(hearts(guest, "/favourites/")) == [second.id, first.id]  # the latest first
    guest.post(f"/favourites/{first.id}/", {"on": "0", "next": "/favourites/"})
    assert list(hearts(guest, "/favourites/")) == [second.id]
    # A guest's favourites join an existing account at log-in too.
    other = Client()
    other.post(f"/favourites/{first.id}/", {"on": "1"})
    other.post("/accounts/login/", {"username": "keeper", "password": PASSWORD})
    assert set(hearts(other, "/favourites/")) == {first.id, second.id}


@pytest.mark.django_db
def test_the_favourites_api_needs_an_account(indexed) -> None:
    product = Product.objects.order_by("id").first()
    anonymous = Client()
    assert anonymous.get("/api/v1/me/favourites").status_code == 401
    assert anonymous.put(f"/api/v1/me/favourites/{product.id}").status_code == 401
    client = Client()
    client.force_login(get_user_model().objects.create_user("api-keeper"))
    assert client.put(f"/api/v1/me/favourites/{product.id}").status_code == 204
    assert client.put(f"/api/v1/me/favourites/{product.id}").status_code == 204  # again: still one
    assert [p["id"] for p in client.get("/api/v1/me/favourites").json()["results"]] == [product.id]
    assert client.put("/api/v1/me/favourites/999999999").status_code == 404
    assert client.delete(f"/api/v1/me/favourites/{product.id}").status_code == 204
    assert client.get("/api/v1/me/favourites").json()["results"] == []


@pytest.mark.django_db
def test_hearts_show_on_search_results_and_the_product_page(indexed) -> None:
    client = Client()
    found = client.get("/search/", {"q": "watch"}).context["found"].results
    liked = found[0]["id"]
    client.post(f"/favourites/{liked}/", {"on": "1"})
    assert hearts(client, "/search/?q=watch")[liked] is True
    page = client.get(f"/products/{liked}/").content.decode()
    assert 'aria-pressed="true" title="Remove from favourites"' in page


@pytest.mark.django_db
def test_recently_viewed_keeps_the_latest_fifty_and_can_be_cleared(indexed) -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_user("browser"))
    products = list(Product.objects.order_by("id")[:3])
    for product in (*products, products[0]):
        client.get(f"/products/{product.id}/")
    assert list(hearts(client, "/accounts/")) == [products[0].id, products[2].id, products[1].id]
    assert Client().get(f"/products/{products[1].id}/").status_code == 200  # a guest's views are not kept
    user = get_user_model().objects.get(username="browser")
    many = list(Product.objects.order_by("id")[:VIEWS_KEPT + 3])
    for product in many:
        client.get(f"/products/{product.id}/")
    assert View.objects.filter(user=user).count() == VIEWS_KEPT
    assert View.objects.filter(user=user).first().product_id == many[-1].id
    client.post("/accounts/viewed/clear/")
    assert hearts(client, "/accounts/") == {} and not View.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_deleting_an_account_removes_everything_it_kept(indexed) -> None:
    user = get_user_model().objects.create_user("leaver", password=PASSWORD)
    client = Client()
    client.post("/accounts/login/", {"username": "leaver", "password": PASSWORD})
    product = Product.objects.order_by("id").first()
    client.post(f"/favourites/{product.id}/", {"on": "1"})
    client.get(f"/products/{product.id}/")
    refused = client.post("/accounts/delete/", {"password": "not it"})
    assert refused.status_code == 400 and get_user_model().objects.filter(pk=user.pk).exists()
    assert client.post("/accounts/delete/", {"password": PASSWORD}).status_code == 302
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not Favourite.objects.filter(user_id=user.pk).exists() and not View.objects.filter(user_id=user.pk).exists()
    assert client.get("/accounts/").status_code == 302  # signed out
