"""The index: the interface a backend implements (:mod:`.base`, :func:`get_store`) and the Redis
backend (:mod:`.redisearch`): its connection (:mod:`.connection`), the schema of one version
(:mod:`.schema`), the live version (:mod:`.versions`), the product documents (:mod:`.documents`)."""

from __future__ import annotations

import functools

from django.conf import settings
from django.utils.module_loading import import_string

from search.store.base import IndexStore


@functools.cache
def _store(path: str) -> IndexStore:
    return import_string(path)()


def get_store() -> IndexStore:
    """The index store ``FINDER_INDEX_STORE`` names (one per process)."""
    return _store(settings.FINDER_INDEX_STORE)
