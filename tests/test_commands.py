"""The command-line interface: import_catalog --wait, and what search-down looks like."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from catalog.models import Product
from search.lifecycle import ensure_index
from tests.support import demo_rows, indexed_products


@pytest.mark.django_db(transaction=True)
def test_import_catalog_waits_with_progress_and_prints_a_summary(search_settings, celery_worker,
                                                                  catalog_dir) -> None:
    rows = demo_rows(12)
    folder = catalog_dir(rows, ["77,Men,Apparel,Topwear"])
    ensure_index()
    out, err = StringIO(), StringIO()
    call_command("import_catalog", str(folder), "--wait", stdout=out, stderr=err)
    summary = out.getvalue()
    assert "created 12, updated 0, unchanged 0" in summary
    assert "searchable 12, pending 0, failed 0" in summary
    assert "line 14 (id 77): expected 10 fields, found 4" in summary
    assert "12/12" in err.getvalue()  # the progress bar reached the end
    ids = [row["id"] for row in rows]
    assert indexed_products().filter(id__in=ids).count() == 12


@pytest.mark.django_db
def test_import_catalog_with_redis_down_is_a_clear_error(settings, catalog_dir) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    rows = [{**row, "id": str(8_000_000 + i)} for i, row in enumerate(demo_rows(2))]
    with pytest.raises(CommandError, match="Redis cannot be reached"):
        call_command("import_catalog", str(catalog_dir(rows)))
    assert not Product.objects.filter(id__in=[row["id"] for row in rows]).exists()


@pytest.mark.django_db
def test_a_missing_catalog_is_a_clear_error(tmp_path, search_settings) -> None:
    with pytest.raises(CommandError, match=r"neither a folder, a \.zip file nor a product feed"):
        call_command("import_catalog", str(tmp_path / "nope.zip"))


@pytest.mark.django_db
def test_search_down_answers_503_in_the_api_and_a_message_in_pages(settings, django_user_model) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    user = django_user_model.objects.create_user("shopper", password="a-long-Passphrase-42")
    product = Product.objects.create(id=5, gender="Men", master_category="Apparel", sub_category="Topwear",
                                     article_type="Tshirts", name="Plain Tee")
    client = Client()
    client.force_login(user)
    api = client.get(f"/api/v1/products/{product.id}/similar")
    assert api.status_code == 503
    assert api.json() == {"detail": "Search is unavailable: Redis cannot be reached."}
    page = client.get(f"/products/{product.id}/similar/")
    assert page.status_code == 503
    assert "Search is unavailable" in page.content.decode()
