"""The index store is pluggable: indexing and the index's lifecycle go through the backend that
``FINDER_INDEX_STORE`` names, and through nothing else."""

from __future__ import annotations

from collections import Counter

import pytest

from catalog.models import Product
from catalog.services import import_catalog, reembed
from search.lifecycle import ensure_index
from search.store import _store, get_store
from search.store.base import IndexStore
from search.store.redisearch import RedisIndexStore
from tests.support import demo_rows, wait_until_settled

CALLS: Counter[str] = Counter()


class CountingStore(RedisIndexStore):
    """The Redis store, counting what search asks of it: another backend, named by the setting."""

    def __getattribute__(self, name: str) -> object:
        if name in IndexStore.__abstractmethods__:
            CALLS[name] += 1
        return super().__getattribute__(name)


def test_every_abstract_method_is_implemented_by_the_redis_store() -> None:
    assert not RedisIndexStore.__abstractmethods__
    assert isinstance(get_store(), RedisIndexStore)


@pytest.mark.django_db(transaction=True)
def test_indexing_goes_through_the_store_the_setting_names(search_settings, celery_worker, catalog_dir) -> None:
    search_settings.FINDER_INDEX_STORE = "tests.test_store.CountingStore"
    _store.cache_clear()
    CALLS.clear()
    try:
        ensure_index()
        report = import_catalog(catalog_dir(demo_rows(6)))
        # A product another test indexed under its own prefix (unchanged here) is indexed here too.
        reembed(Product.objects.filter(id__in=report.product_ids))
        wait_until_settled(report.product_ids)
    finally:
        _store.cache_clear()
    assert CALLS["create"] >= 1 and CALLS["make_live"] == 1
    assert CALLS["write_documents"] >= 1 and CALLS["write_vectors"] >= 1
    assert get_store().info()["num_docs"] == 6
