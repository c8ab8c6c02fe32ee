"""Celery tasks of the catalog: thin wrappers that call :mod:`catalog.services`."""

from __future__ import annotations

from celery import shared_task

from catalog import services
from catalog.models import ImportRun


@shared_task
def import_upload(run_id: int) -> None:
    """Read an uploaded catalog into the database; its embedding is queued from there."""
    services.run_import(ImportRun.objects.get(pk=run_id))
