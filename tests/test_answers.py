"""Answers and pages kept until the index changes: every kind of index write moves the epoch, a
kept answer is never stale, another process finds it in the shared cache, and a kept page still
shows each shopper their own hearts, name, CSRF token and way back."""

from __future__ import annotations

import re
import time
from collections import Counter
from unittest import mock

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.site import commands
from catalog.models import Product
from catalog.services import import_catalog, reembed
from core import redis_client
from core.cache import CACHE_DATABASE
from search.embedding.text import text_embedder
from search.filters import Filters
from search.indexing import remove_from_index
from search.kinds import By
from search.lifecycle import ensure_index
from search.models import IndexEntry
from search.query import answers
from search.query.facets import facet_counts
from search.query.similar import similar_products
from search.store import get_store
from search.store.connection import get_reader
from search.store.schema import configured_layout
from tests.support import demo_rows, hearts, wait_for_epoch, wait_until_settled


@pytest.mark.django_db(transaction=True)
def test_every_index_write_moves_the_epoch_and_a_kept_answer_goes_with_it(search_settings, celery_worker,
                                                                           catalog_dir) -> None:
    search_settings.FINDER_EPOCH_SECONDS = 0.5
    ensure_index()
    report = import_catalog(catalog_dir(demo_rows(8)))
    # A product another test indexed under its own prefix (unchanged here) is indexed here too.
    reembed(Product.objects.filter(id__in=report.product_ids))
    wait_until_settled(report.product_ids)
    store, layout = get_store(), configured_layout()
    first, second = report.product_ids[:2]
    answer = similar_products(first, By.TEXT, Filters(), k=5)
    assert similar_products(first, By.TEXT, Filters(), k=5) is answer  # kept
    wait_for_epoch()  # a quiet spell
    epochs = [store.epoch()]
    product = Product.objects.get(pk=second)
    store.write_documents(layout, [product], "text_vector", text_embedder().embed([product.search_text]), cleared=[])
    epochs.append(store.epoch())  # the first write after a quiet spell: at once
    store.write_vectors(layout, "image_vector", {second: None})
    assert store.epoch() == epochs[-1]  # one right after: held...
    time.sleep(0.6)
    epochs.append(store.epoch())  # ...until the hold is over
    store.make_live(store.live_name())
    epochs.append(store.epoch())  # a new live version: at once
    assert len(set(epochs)) == 4 and all(epochs), epochs
    # A product removed from the index is gone from the very next answer, not a kept one.
    answer = similar_products(first, By.TEXT, Filters(), k=5)
    neighbour = answer[0]["id"]
    remove_from_index([neighbour])
    again = similar_products(first, By.TEXT, Filters(), k=5)
    assert again is not answer and neighbour not in [result["id"] for result in again]
    search_settings.FINDER_ANSWER_CACHE = 0  # off: asked afresh each time
    assert similar_products(first, By.TEXT, Filters(), k=5) is not similar_products(first, By.TEXT, Filters(), k=5)


@pytest.mark.django_db
def test_another_process_finds_a_kept_answer_in_the_shared_cache(indexed, settings) -> None:
    source = indexed["report"].product_ids[0]
    server = get_reader()
    answer = similar_products(source, By.IMAGE, Filters(), k=7)
    searches = commands(server)["FT.SEARCH"]
    answers._answers.clear()  # as another process would start: nothing of its own kept
    again = similar_products(source, By.IMAGE, Filters(), k=7)
    assert again == answer and again is not answer
    assert commands(server)["FT.SEARCH"] == searches  # from the shared cache: the index was not asked
    answers._answers.clear()
    settings.FINDER_SHARED_ANSWER_SECONDS = 0  # not shared: each process asks the index itself
    assert similar_products(source, By.IMAGE, Filters(), k=7) == answer
    assert commands(server)["FT.SEARCH"] > searches


@pytest.mark.django_db
def test_a_request_shares_what_it_worked_out_in_one_round_trip_after_its_response(indexed, redis_server,
                                                                                   django_user_model) -> None:
    server, shared_cache = redis.Redis.from_url(redis_server.url), redis_client.connect(db=CACHE_DATABASE)
    client = Client()
    client.force_login(django_user_model.objects.create_user("erin"))
    path = f"/products/{indexed['report'].product_ids[2]}/similar/?by=text&gender=Women"
    shared = set(shared_cache.scan_iter(match="*:answer-*"))
    before = commands(server)
    client.get(path)  # first asked: the answer, the page (and the facets, unless kept) shared in one transaction
    first = commands(server) - before
    assert len(set(shared_cache.scan_iter(match="*:answer-*")) - shared) >= 2, first
    assert first["mset"] == 1 and first["exec"] == 1, first
    before = commands(server)
    assert client.get(path).status_code == 200  # kept: the session, the favourites and the epoch, read
    again = commands(server) - before
    assert set(again) == {"get", "mget", "info"} and again["get"] == 2 and again["mget"] == 1, again


@pytest.mark.django_db
def test_a_page_kept_elsewhere_is_one_shared_read_favourites_or_not(indexed, redis_server,
                                                                   django_user_model) -> None:
    server = redis.Redis.from_url(redis_server.url)
    client = Client()
    client.force_login(django_user_model.objects.create_user("fay"))
    path = f"/products/{indexed['report'].product_ids[4]}/similar/?by=image&gender=Men"

    def asked_elsewhere() -> tuple[HttpResponse, Counter]:
        answers._answers.clear()  # as another process would ask: nothing of its own kept
        before = commands(server)
        response = client.get(path)
        return response, commands(server) - before

    first = client.get(path)
    again, read = asked_elsewhere()
    assert again.content == first.content.replace(*_tokens(first, again))
    # The session, the favourites, the epoch and the page (its facets in it): not the results it shows.
    assert set(read) == {"get", "mget", "info"} and read["get"] == 3 and read["mget"] == 1, read
    shown = list(hearts(client, path))
    client.post(f"/favourites/{shown[0]}/", {"on": "1"})
    client.get(path)  # the shopper's favourites read again, after the change forgot them
    # With a favourite among the cards, the same kept page: each heart is filled in per request.
    again, read = asked_elsewhere()
    assert set(read) == {"get", "mget", "info"} and read["get"] == 3 and read["mget"] == 1, read
    assert 'aria-pressed="true"' in again.content.decode().split(f'data-product-id="{shown[0]}"')[1].split("</form>")[0]


@pytest.mark.django_db
def test_kept_cards_show_each_shopper_their_own_hearts_token_and_way_back(indexed) -> None:
    source = indexed["report"].product_ids[0]
    path = f"/products/{source}/similar/?by=text&gender=Men"
    alice, bob = (Client(enforce_csrf_checks=True) for _ in range(2))
    for name, client in (("alice", alice), ("bob", bob)):
        client.force_login(get_user_model().objects.create_user(name))
    shown = list(hearts(alice, path))
    assert shown and not any(hearts(alice, path).values())
    html = alice.get(path).content.decode()
    assert "\x00" not in html  # every slot filled
    assert ">alice</a>" in html and ">bob</a>" in bob.get(path).content.decode()  # the same kept page, each name
    # The way back is this page, query and all, escaped as the template escapes it.
    assert f'name="next" value="{path.replace("&", "&amp;")}"' in html
    # Alice's token, from a kept card, is good for her heart; Bob's page is his own.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert alice.post(f"/favourites/{shown[0]}/", {"on": "1", "csrfmiddlewaretoken": token}).status_code in (204, 302)
    assert hearts(alice, path)[shown[0]] is True
    assert hearts(bob, path)[shown[0]] is False
    assert bob.post(f"/favourites/{shown[1]}/", {"on": "1", "csrfmiddlewaretoken": token}).status_code == 403


@pytest.mark.django_db
def test_a_kept_page_asks_the_database_only_for_the_shopper(indexed, django_user_model) -> None:
    source = indexed["report"].product_ids[1]
    path = f"/products/{source}/similar/?by=image"
    client = Client()
    client.force_login(django_user_model.objects.create_user("carol", is_staff=True))
    with CaptureQueriesContext(connection) as asked:
        first = client.get(path)
    assert first.status_code == 200 and 'href="/admin/"' in first.content.decode()
    # Asked the first time, the page is about a product the index knows: not looked up by id.
    assert not [query for query in asked if '"catalog_product"."id" =' in query["sql"]], asked.captured_queries
    assert f'<img src="{Product.objects.get(pk=source).image_url}"' in first.content.decode()
    with CaptureQueriesContext(connection) as queries:
        again = client.get(path)
    assert again.content == first.content.replace(*_tokens(first, again))
    assert 'data-facet="gender"' in again.content.decode()
    assert not [query for query in queries if "catalog_product" in query["sql"]], queries.captured_queries
    shopper = Client()
    shopper.force_login(django_user_model.objects.create_user("dan"))
    assert 'href="/admin/"' not in shopper.get(path).content.decode()  # staff's page is their own


@pytest.mark.django_db
def test_a_page_that_says_the_index_is_catching_up_is_not_kept(indexed) -> None:
    source = indexed["report"].product_ids[2]
    path = f"/products/{source}/similar/?by=text&year_min=1901"  # a page no other test asks for
    pending = Product.objects.exclude(pk=source).first()
    entry = IndexEntry.objects.filter(product=pending, kind="text")
    entry.update(state=IndexEntry.State.PENDING)
    assert "being built" in Client().get(path).content.decode()
    entry.update(state=IndexEntry.State.INDEXED)
    cache.delete_many(["search-embedding-backlog", "search-status-counts"])
    assert "being built" not in Client().get(path).content.decode()


@pytest.mark.django_db
def test_with_nothing_kept_a_page_draws_its_facets_once(indexed, settings) -> None:
    settings.FINDER_ANSWER_CACHE = 0
    for path in (f"/products/{indexed['report'].product_ids[3]}/similar/?by=image&gender=Men", "/search/?q=shirt"):
        with mock.patch("storefront.sidebar.facet_counts", wraps=facet_counts) as counted:
            response = Client().get(path)
        assert response.content.decode().count('data-facet="gender"') == 1, path
        assert counted.call_count == 1, path


def _tokens(first: HttpResponse, again: HttpResponse) -> tuple[bytes, bytes]:
    """The CSRF token each response carries (masked afresh for each request)."""
    pattern = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
    return pattern.search(first.content).group(1), pattern.search(again.content).group(1)
