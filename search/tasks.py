"""Celery tasks: thin wrappers that call :mod:`search.services`."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from search import services
from search.connection import SearchUnavailable

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(SearchUnavailable,), retry_backoff=True, retry_backoff_max=60,
             retry_kwargs={"max_retries": 10})
def embed_products(product_ids: list[int]) -> None:
    """Embed and index one batch of products; Redis trouble is retried with backoff."""
    try:
        services.embed_and_index(product_ids)
    except SearchUnavailable:
        raise
    except Exception as exc:
        logger.exception("embedding failed for %d products", len(product_ids))
        services.mark_failed(product_ids, f"embedding failed: {exc}")


@shared_task(bind=True, max_retries=None, acks_late=True)
def complete_rebuild(self: Task, index_name: str) -> None:
    """Move the alias to a newly built index version once it is complete; until then, check
    again every few seconds."""
    if not services.swap_alias_if_complete(index_name):
        raise self.retry(countdown=2)
