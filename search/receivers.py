"""Search listens to the catalog (:mod:`catalog.signals`): connected in ``SearchConfig.ready()``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from search import indexing, selectors
from search.lifecycle import ensure_index


def index_exists(**kwargs: Any) -> None:
    """Before an import: the index version it is written into exists (Redis down raises, and
    nothing is imported)."""
    ensure_index()


def changed(product_ids: list[str], fields: Collection[str] | None = None, **kwargs: Any) -> None:
    """Products were created or changed: embed what their changes make stale, rewrite the rest."""
    indexing.products_changed(product_ids, fields)


def forget_deleted(product_ids: list[str], **kwargs: Any) -> None:
    """Products are about to be deleted: their documents go first (Redis down raises, and they stay);
    and once they are, again (a worker may have written one meanwhile)."""
    indexing.remove_from_index(product_ids)


def progress(product_ids: Collection[str] | None, **kwargs: Any) -> dict[str, int]:
    """How far the products are searchable, for the catalog's import reports."""
    return selectors.status_counts(product_ids)
