"""Celery tasks: thin wrappers that call :mod:`search.services`."""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import Task, shared_task

from finder.celery import BoundedTask
from search import evaluation, services
from search.connection import SearchUnavailable

logger = logging.getLogger(__name__)


#: Redis trouble is transient: retried with exponential backoff, up to a minute apart.
EMBED_RETRY = {"base": BoundedTask, "autoretry_for": (SearchUnavailable,), "retry_backoff": True,
               "retry_backoff_max": 60, "retry_kwargs": {"max_retries": 10}}


def _embed(work: Callable[[list[int]], None], failed: Callable[[list[int], str], None], what: str,
           product_ids: list[int]) -> None:
    """Run one batch; anything but Redis trouble marks the batch, with the reason."""
    try:
        work(product_ids)
    except SearchUnavailable:
        raise
    except Exception as exc:
        logger.exception("%s embedding failed for %d products", what, len(product_ids))
        failed(product_ids, f"{what} embedding failed: {exc}")


@shared_task(**EMBED_RETRY, give_up=staticmethod(services.mark_failed))
def embed_texts(product_ids: list[int]) -> None:
    """Embed one batch of products' text into the index."""
    _embed(services.index_texts, services.mark_failed, "text", product_ids)


@shared_task(**EMBED_RETRY, give_up=staticmethod(services.image_failed))
def embed_images(product_ids: list[int]) -> None:
    """Embed one batch of products' images into the index (the products stay searchable by
    text whatever happens here)."""
    _embed(services.index_images, services.image_failed, "image", product_ids)


@shared_task(ignore_result=True)
def sweep_index() -> None:
    """Queue whatever the index lacks (see :func:`search.services.sweep_index`); on Redis
    trouble, the next sweep tries again."""
    try:
        queued = services.sweep_index()
    except SearchUnavailable as exc:
        logger.warning("index sweep skipped: %s", exc)
        return
    if queued:
        logger.info("index sweep queued %d products", queued)


@shared_task(bind=True, max_retries=None, acks_late=True)
def complete_rebuild(self: Task, index_name: str) -> None:
    """Move the alias to a newly built index version once it is complete; until then, check
    again every few seconds."""
    if not services.swap_alias_if_complete(index_name):
        raise self.retry(countdown=2)


@shared_task(base=BoundedTask)
def check_recall(samples: int) -> None:
    """Measure the live index's recall against exact search (the admin's "Search index" page)."""
    evaluation.run_recall_check(samples)
