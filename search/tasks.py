"""Celery tasks: thin wrappers that call :mod:`search.indexing` and :mod:`search.lifecycle`."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from core.workers import BoundedTask
from search import evaluation, indexing, lifecycle, looks, mapping
from search.kinds import BY_NAME
from search.store.connection import SearchUnavailable

logger = logging.getLogger(__name__)


def _give_up(kind: str, product_ids: list[str], reason: str) -> None:
    BY_NAME[kind].fail(product_ids, reason)


@shared_task(base=BoundedTask, autoretry_for=(SearchUnavailable,), retry_backoff=True, retry_backoff_max=60,
             retry_kwargs={"max_retries": 10}, give_up=staticmethod(_give_up))
def embed(kind: str, product_ids: list[str]) -> None:
    """Embed one batch of products' vectors of ``kind`` into the index. Redis trouble is
    transient: retried with exponential backoff, up to a minute apart; anything else marks the
    batch, with the reason (a product whose image fails stays searchable by text)."""
    vector_kind = BY_NAME[kind]
    try:
        vector_kind.write(product_ids)
    except SearchUnavailable:
        raise
    except Exception as exc:
        logger.exception("%s embedding failed for %d products", kind, len(product_ids))
        vector_kind.fail(product_ids, f"{kind} embedding failed: {exc}")


@shared_task(base=BoundedTask, autoretry_for=(SearchUnavailable,), retry_backoff=True, retry_backoff_max=60,
             retry_kwargs={"max_retries": 10})
def refresh_documents(product_ids: list[str]) -> None:
    """Rewrite products' documents whose vectors still hold (a price, stock or link changed)."""
    indexing.refresh_documents(product_ids)


@shared_task(ignore_result=True)
def sweep_index() -> None:
    """Queue whatever the index lacks (see :func:`search.lifecycle.sweep_index`); on Redis
    trouble, the next sweep tries again."""
    try:
        queued = lifecycle.sweep_index()
    except SearchUnavailable as exc:
        logger.warning("index sweep skipped: %s", exc)
        return
    if queued:
        logger.info("index sweep queued %d products", queued)


@shared_task(ignore_result=True)
def refresh_maps() -> None:
    """Redo the catalog maps that are out of date (:func:`search.mapping.refresh_maps`)."""
    try:
        mapping.refresh_maps()
    except SearchUnavailable as exc:
        logger.warning("catalog maps not refreshed: %s", exc)


@shared_task(ignore_result=True)
def refresh_looks() -> None:
    """Refit the photo classifiers if the catalog has changed (:func:`search.looks.refresh_looks`)."""
    try:
        looks.refresh_looks()
    except SearchUnavailable as exc:
        logger.warning("photo classifiers not refitted: %s", exc)


@shared_task(bind=True, max_retries=None, acks_late=True)
def complete_rebuild(self: Task, index_name: str) -> None:
    """Move the alias to a newly built index version once it is complete; until then, check
    again every few seconds."""
    if not lifecycle.swap_alias_if_complete(index_name):
        raise self.retry(countdown=2)


@shared_task(base=BoundedTask)
def check_recall(samples: int) -> None:
    """Measure the live index's recall against exact search (the admin's "Search index" page)."""
    evaluation.run_recall_check(samples)
