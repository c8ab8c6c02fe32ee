"""Celery tasks: thin wrappers that call :mod:`search.services`."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from search import services
from search.connection import SearchUnavailable

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(SearchUnavailable,), retry_backoff=True, retry_backoff_max=60,
             retry_kwargs={"max_retries": 10})
def embed_texts(product_ids: list[int]) -> None:
    """Embed one batch of products' text into the index; Redis trouble is retried with backoff."""
    try:
        services.index_texts(product_ids)
    except SearchUnavailable:
        raise
    except Exception as exc:
        logger.exception("text embedding failed for %d products", len(product_ids))
        services.mark_failed(product_ids, f"embedding failed: {exc}")


@shared_task(autoretry_for=(SearchUnavailable,), retry_backoff=True, retry_backoff_max=60,
             retry_kwargs={"max_retries": 10})
def embed_images(product_ids: list[int]) -> None:
    """Embed one batch of products' images into the index (the products stay searchable by
    text whatever happens here); Redis trouble is retried with backoff."""
    try:
        services.index_images(product_ids)
    except SearchUnavailable:
        raise
    except Exception as exc:
        logger.exception("image embedding failed for %d products", len(product_ids))
        services.image_failed(product_ids, f"image embedding failed: {exc}")


@shared_task(bind=True, max_retries=None, acks_late=True)
def complete_rebuild(self: Task, index_name: str) -> None:
    """Move the alias to a newly built index version once it is complete; until then, check
    again every few seconds."""
    if not services.swap_alias_if_complete(index_name):
        raise self.retry(countdown=2)
