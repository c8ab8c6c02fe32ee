"""The admin page "Search index" and the index commands, against the real index."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from search.store.connection import get_client
from search.store.redisearch import live_index_name
from tests.support import text_pending


@pytest.mark.django_db
def test_the_search_index_page_shows_the_live_index_and_measures_recall(indexed, staff) -> None:
    live = live_index_name(get_client())
    page = staff.get("/admin/search-index/")
    assert page.status_code == 200
    html = page.content.decode()
    assert live in html and "live" in html
    documents = get_client().ft(live).info()["num_docs"]
    assert f"all {int(documents):,} documents indexed" in html  # facts in words, not "1 of 1"
    assert "HNSW:COSINE:EF_CONSTRUCTION=200,EF_RUNTIME=100,EPSILON=0.01,M=16" in html
    # The check runs in a worker, not in the web process: the page says so until it is done.
    started = staff.post("/admin/search-index/")
    assert started.status_code == 303
    deadline = time.monotonic() + 120
    while (checked := staff.get("/admin/search-index/")).context["recall"]["state"] == "running":
        assert 'id="recall-running"' in checked.content.decode()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert checked.context["recall"]["state"] == "done", checked.context["recall"]
    reports = {r.field: r for r in checked.context["recall"]["reports"]}
    assert set(reports) == {"text_vector", "image_vector"}
    assert all(r.recall >= 0.98 and r.samples > 0 and r.index_ms_p50 > 0 for r in reports.values())
    assert 'id="recall"' in checked.content.decode()


@pytest.mark.django_db
def test_staff_need_the_permissions_of_the_search_index_page(indexed) -> None:
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("clerk", password="a-long-Passphrase-42", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get("/admin/search-index/").status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_search_index"))
    page = client.get("/admin/search-index/")
    assert page.status_code == 200 and "Run recall check" not in page.content.decode()
    assert client.post("/admin/search-index/").status_code == 403


@pytest.mark.django_db
def test_the_search_index_page_is_for_staff_only(indexed) -> None:
    shopper = get_user_model().objects.create_user("shopper", password="a-long-Passphrase-42")
    client = Client()
    client.force_login(shopper)
    assert client.get("/admin/search-index/").status_code == 302
    assert Client().get("/admin/search-index/").status_code == 302


@pytest.mark.django_db
def test_search_index_info_and_similarity_commands(indexed) -> None:
    out = StringIO()
    call_command("search_index", "info", stdout=out)
    text = out.getvalue()
    assert f"{live_index_name(get_client())}: live" in text
    assert "text_vector: 384-d HNSW:COSINE" in text and "image_vector: 1280-d HNSW:COSINE" in text

    out = StringIO()
    call_command("similarity", "That is a happy person", "That is a very happy person", "That is a happy dog",
                 "Today is a sunny day", stdout=out)
    # The reference similarities (0.9429, 0.6946, 0.2569) in float32; the finder's int8 text model
    # is within 0.03 of each, in the same order (tests/test_embedders.py checks float32 exactly).
    printed = [float(line.split()[0]) for line in out.getvalue().splitlines()]
    assert all(abs(got - want) < 0.03 for got, want in zip(printed, [0.9429, 0.6946, 0.2569], strict=True))
    assert printed == sorted(printed, reverse=True)


@pytest.mark.django_db(transaction=True)
def test_drop_then_create_restores_the_index_from_the_documents(search_settings, celery_worker, catalog_dir) -> None:
    from catalog.models import Product
    from catalog.services import import_catalog
    from search.filters import Filters
    from search.kinds import By
    from search.lifecycle import ensure_index
    from search.query.similar import similar_products
    from tests.support import demo_rows, wait_until_settled

    Product.objects.all().delete()  # rebuild embeds every product: this test's must be all there are
    ensure_index()
    report = import_catalog(catalog_dir(demo_rows(10)))
    wait_until_settled(report.product_ids)
    product = report.product_ids[0]
    before = similar_products(product, By.TEXT, Filters(), k=5)

    out = StringIO()
    call_command("search_index", "drop", stdout=out)
    assert "dropped" in out.getvalue()
    assert live_index_name(get_client()) is None
    call_command("search_index", "create", stdout=StringIO())
    after = similar_products(product, By.TEXT, Filters(), k=5)
    assert [(r["id"], r["score"]) for r in after] == [(r["id"], r["score"]) for r in before]

    call_command("search_index", "drop", "--documents", stdout=StringIO())
    assert text_pending().filter(id__in=report.product_ids).count() == 10
    call_command("search_index", "rebuild", stdout=StringIO())
    wait_until_settled(report.product_ids)
    after = similar_products(product, By.TEXT, Filters(), k=5)
    assert [(r["id"], r["score"]) for r in after] == [(r["id"], r["score"]) for r in before]
