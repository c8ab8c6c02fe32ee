"""The index store is pluggable: indexing and the index's lifecycle go through the backend that
``FINDER_INDEX_STORE`` names, and through nothing else."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from catalog.models import Product
from catalog.services import import_catalog, reembed
from search.lifecycle import ensure_index
from search.store import _store, get_store
from search.store.base import IndexStore
from search.store.redisearch import RedisIndexStore
from tests.support import demo_rows, wait_until_settled

CALLS: Counter[str] = Counter()


def _counted(name: str) -> Callable[..., object]:
    """The interface's method ``name``: count the call, and hand it to the Redis store held."""
    def method(self: IndexStore, *args: object, **kwargs: object) -> object:
        CALLS[name] += 1
        return getattr(self.inner, name)(*args, **kwargs)
    return method


def _hold_a_redis_store(self: IndexStore) -> None:
    self.inner = RedisIndexStore()


#: Another backend, named by the setting: no kin of the Redis store, it implements the interface
#: alone, each method counting the call and handing it to a Redis store it holds. Search calling
#: anything of the Redis store's own would fail here.
CountingStore = type("CountingStore", (IndexStore,), {
    "__init__": _hold_a_redis_store, **{name: _counted(name) for name in IndexStore.__abstractmethods__}})


def test_every_abstract_method_is_implemented_by_the_redis_store() -> None:
    assert not RedisIndexStore.__abstractmethods__
    assert isinstance(get_store(), RedisIndexStore)


@pytest.mark.django_db(transaction=True)
def test_indexing_goes_through_the_store_the_setting_names(search_settings, celery_worker, catalog_dir) -> None:
    search_settings.FINDER_INDEX_STORE = "tests.test_store.CountingStore"
    _store.cache_clear()
    CALLS.clear()
    try:
        assert not isinstance(get_store(), RedisIndexStore)
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
