"""Data safety: Redis persists by default, and the documented backup and restore (the database
and the photos; the index is rebuilt from them) brings a lost shop back whole."""

from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from catalog.models import Product
from catalog.services import import_catalog
from search.filters import Filters
from search.kinds import By
from search.lifecycle import drop_index, ensure_index
from search.query.similar import similar_products
from search.store.connection import get_client
from tests.support import demo_rows, indexed_products, wait_until_settled

#: The backup command the README documents: everything but what Django rebuilds itself.
BACKUP = ["dumpdata", "--natural-foreign", "--natural-primary", "--exclude", "contenttypes",
          "--exclude", "auth.permission", "--exclude", "sessions", "--exclude", "admin.logentry", "--exclude", "axes"]


def test_redis_keeps_an_append_only_file_by_default(redis_server) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}


@pytest.mark.django_db(transaction=True)
def test_backup_and_restore_bring_back_the_catalog_and_its_search(search_settings, celery_worker, catalog_dir,
                                                                  tmp_path: Path) -> None:
    Product.objects.all().delete()  # rebuild embeds every product: this test's must be all there are
    get_user_model().objects.create_user("loyal-shopper", password="a long loyal password 9")
    ensure_index()
    report = import_catalog(catalog_dir(demo_rows(12)))
    wait_until_settled(report.product_ids)
    probe = report.product_ids[0]
    before = [(r["id"], r["score"]) for r in similar_products(probe, By.IMAGE, Filters(), k=5)]

    # Backup: the database, and the photos.
    backup = tmp_path / "backup.json"
    call_command(*BACKUP, output=str(backup))
    shutil.copytree(settings.MEDIA_ROOT, tmp_path / "media-backup")

    # Disaster: the database emptied, the photos gone, Redis's data lost.
    Product.objects.all().delete()
    get_user_model().objects.all().delete()
    shutil.rmtree(settings.MEDIA_ROOT)
    drop_index(documents=True)
    assert not list(get_client().scan_iter(match=f"{settings.FINDER_INDEX_PREFIX}:*"))

    # Restore: the database and photos back, then the index rebuilt from them.
    call_command("loaddata", str(backup), stdout=StringIO())
    shutil.copytree(tmp_path / "media-backup", settings.MEDIA_ROOT)
    assert Product.objects.count() == 12
    assert get_user_model().objects.get(username="loyal-shopper").check_password("a long loyal password 9")
    call_command("search_index", "rebuild", stdout=StringIO())
    wait_until_settled(report.product_ids)
    assert indexed_products().count() == 12
    after = [(r["id"], r["score"]) for r in similar_products(probe, By.IMAGE, Filters(), k=5)]
    assert [pid for pid, _ in after] == [pid for pid, _ in before]
    assert [score for _, score in after] == pytest.approx([score for _, score in before], abs=1e-4)
