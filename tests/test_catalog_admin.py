"""Keeping the index in step with the catalog: edits re-embed, deletes leave the index, failed
products can be retried, and the whole catalog can be cleared."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from catalog.models import Product
from catalog.services import import_catalog
from search.filters import Filters
from search.kinds import By
from search.lifecycle import ensure_index
from search.models import IndexEntry
from search.query.similar import similar_products
from search.store.connection import get_client
from search.store.versions import live_index
from tests.support import demo_rows, indexed_products, wait_until_settled


@pytest.fixture
def catalog(search_settings, celery_worker, catalog_dir) -> list[int]:
    Product.objects.all().delete()
    ensure_index()
    report = import_catalog(catalog_dir(demo_rows(10)))
    wait_until_settled(report.product_ids)
    return report.product_ids


def _change_form(product: Product, **changes: object) -> dict[str, object]:
    fields = ["gender", "master_category", "sub_category", "article_type", "base_colour", "season", "year",
              "usage", "name", "latitude", "longitude"]
    data = {name: getattr(product, name) if getattr(product, name) is not None else "" for name in fields}
    return {**data, **changes, "id": product.id}


@pytest.mark.django_db(transaction=True)
def test_editing_a_product_in_the_admin_re_embeds_it(catalog, staff) -> None:
    product = Product.objects.get(id=catalog[0])
    response = staff.post(f"/admin/catalog/product/{product.id}/change/",
                          _change_form(product, name="Zebra Striped Raincoat"))
    assert response.status_code == 302, response.content[:500]
    wait_until_settled([product.id])
    other = catalog[1]
    found = similar_products(other, By.TEXT, Filters(name=("zebra",)), k=5)
    assert [r["id"] for r in found] == [product.id] and found[0]["name"] == "Zebra Striped Raincoat"


@pytest.mark.django_db(transaction=True)
def test_the_product_list_shows_each_products_photo(catalog, staff) -> None:
    html = staff.get("/admin/catalog/product/").content.decode()
    photos = [p.image_url for p in Product.objects.filter(id__in=catalog).exclude(image="")]
    assert photos and all(f'<img src="{url}" alt="" class="thumb"' in html for url in photos)


@pytest.mark.django_db(transaction=True)
def test_deleting_in_the_admin_removes_from_the_index(catalog, staff) -> None:
    gone = catalog[0]
    response = staff.post("/admin/catalog/product/", {"action": "delete_selected", "_selected_action": [gone],
                                                      "post": "yes"})
    assert response.status_code == 302
    assert not Product.objects.filter(id=gone).exists()
    assert not get_client().exists(live_index().doc_key(gone))
    assert gone not in [r["id"] for r in similar_products(catalog[1], By.TEXT, Filters(), k=20)]


@pytest.mark.django_db(transaction=True)
def test_retry_queues_the_failed_ones_again(catalog, staff) -> None:
    failed = IndexEntry.objects.filter(product_id__in=catalog[:3], kind="text")
    failed.update(state=IndexEntry.State.FAILED, reason="boom")
    assert "boom" in staff.get("/admin/search/indexentry/?state__exact=failed").content.decode()
    response = staff.post("/admin/search/indexentry/", {"action": "retry",
                                                        "_selected_action": list(failed.values_list("pk", flat=True))})
    assert response.status_code == 302
    wait_until_settled(catalog)
    assert indexed_products().filter(id__in=catalog).count() == 10


@pytest.mark.django_db(transaction=True)
def test_clear_catalog_empties_database_and_index(catalog) -> None:
    out = StringIO()
    call_command("clear_catalog", "--yes", stdout=out)
    assert "deleted 10 products" in out.getvalue()
    assert not Product.objects.exists()
    client = get_client()
    assert not list(client.scan_iter(match=f"{live_index().doc_prefix}*"))
