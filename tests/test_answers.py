"""Answers and result cards kept until the index changes: every kind of index write moves the
epoch, a kept answer is never stale, and a kept card still shows each shopper their own hearts,
CSRF token and way back."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from catalog.models import Product
from catalog.services import import_catalog
from search.embedding.text import text_embedder
from search.indexing import remove_from_index
from search.kinds import By
from search.lifecycle import ensure_index
from search.query.filters import Filters
from search.query.similar import similar_products
from search.store import get_store
from search.store.schema import configured_layout
from storefront.cards import CSRF_SLOT, HERE_SLOT
from tests.support import demo_rows, wait_until_settled
from tests.test_favourites import hearts


@pytest.mark.django_db(transaction=True)
def test_every_index_write_moves_the_epoch_and_a_kept_answer_goes_with_it(search_settings, celery_worker,
                                                                           catalog_dir) -> None:
    ensure_index()
    report = import_catalog(catalog_dir(demo_rows(8)))
    wait_until_settled(report.product_ids)
    store, layout = get_store(), configured_layout()
    first, second = report.product_ids[:2]
    answer = similar_products(first, By.TEXT, Filters(), k=5)
    assert similar_products(first, By.TEXT, Filters(), k=5) is answer  # kept
    epochs = [store.epoch()]
    product = Product.objects.get(pk=second)
    store.write_documents(layout, [product], "text_vector", text_embedder().embed([product.search_text()]), cleared=[])
    epochs.append(store.epoch())
    store.write_vectors(layout, "image_vector", {second: None})
    epochs.append(store.epoch())
    store.make_live(store.live_name())
    epochs.append(store.epoch())
    assert len(set(epochs)) == 4 and all(epochs), epochs  # each write changed it
    # A product removed from the index is gone from the very next answer, not a kept one.
    answer = similar_products(first, By.TEXT, Filters(), k=5)
    neighbour = answer[0]["id"]
    remove_from_index([neighbour])
    again = similar_products(first, By.TEXT, Filters(), k=5)
    assert again is not answer and neighbour not in [result["id"] for result in again]
    search_settings.FINDER_ANSWER_CACHE = 0  # off: asked afresh each time
    assert similar_products(first, By.TEXT, Filters(), k=5) is not similar_products(first, By.TEXT, Filters(), k=5)


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
    assert CSRF_SLOT not in html and HERE_SLOT not in html
    # The way back is this page, query and all, escaped as the template escapes it.
    assert f'name="next" value="{path.replace("&", "&amp;")}"' in html
    # Alice's token, from a kept card, is good for her heart; Bob's page is his own.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert alice.post(f"/favourites/{shown[0]}/", {"on": "1", "csrfmiddlewaretoken": token}).status_code in (204, 302)
    assert hearts(alice, path)[shown[0]] is True
    assert hearts(bob, path)[shown[0]] is False
    assert bob.post(f"/favourites/{shown[1]}/", {"on": "1", "csrfmiddlewaretoken": token}).status_code == 403
