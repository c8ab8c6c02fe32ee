"""Search listens to the catalog (:mod:`catalog.signals`) and to a web process starting
(:data:`core.serving.serving_started`): connected in ``SearchConfig.ready()``."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from search import indexing, selectors
from search.embedding.runtime import ModelUnavailable
from search.embedding.text import text_embedder
from search.lifecycle import ensure_index

logger = logging.getLogger(__name__)


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


def warm_up(**kwargs: Any) -> None:
    """A web process starts: load the text model now rather than in a shopper's first search (a
    few seconds). A model that cannot load leaves the search box to say so."""
    try:
        text_embedder()
    except ModelUnavailable as exc:
        logger.warning("the text model did not load: %s", exc)
