"""Celery tasks of the catalog: thin wrappers that call :mod:`catalog.services`."""

from __future__ import annotations

from celery import shared_task

from catalog import services
from core.workers import BoundedTask


@shared_task(base=BoundedTask, give_up=staticmethod(services.fail_import))
def import_upload(run_id: int) -> None:
    """Read an uploaded catalog into the database; its embedding is queued from there. Runs on
    the imports queue, under the imports' time limit (see settings)."""
    services.run_import(run_id)


@shared_task(base=BoundedTask)
def remove_stale_files() -> None:
    """Delete orphaned photos and expired uploads (Celery beat runs this hourly)."""
    services.remove_stale_files()


@shared_task(base=BoundedTask)
def fetch_images(product_ids: list[str]) -> None:
    """Fetch products' photos from their image links (on the imports queue: it waits on the network)."""
    services.fetch_images(product_ids)


@shared_task(ignore_result=True)
def fetch_overdue_images() -> None:
    """Queue image links whose fetch was lost (Celery beat runs this with the index's sweep)."""
    services.fetch_overdue_images()
