"""Search listens to the catalog (:mod:`catalog.signals`): connected in ``SearchConfig.ready()``."""

from __future__ import annotations

from typing import Any

from search.indexing import queue_embedding, remove_from_index
from search.lifecycle import ensure_index


def index_exists(**kwargs: Any) -> None:
    """Before an import: the index version it is written into exists (Redis down raises, and
    nothing is imported)."""
    ensure_index()


def embed_changed(product_ids: list[int], **kwargs: Any) -> None:
    """Products were created or changed: queue their embedding."""
    queue_embedding(product_ids)


def forget_deleted(product_ids: list[int], **kwargs: Any) -> None:
    """Products are about to be deleted: their documents go first (Redis down raises, and they stay)."""
    remove_from_index(product_ids)
