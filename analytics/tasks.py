"""The analytics roll-up, on the beat worker's schedule."""

from __future__ import annotations

import logging

from celery import shared_task

from analytics import services
from search.store.connection import SearchUnavailable

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def roll_up_searches() -> int:
    """Redis down: the events wait in the stream for the next run (it keeps them)."""
    try:
        return services.roll_up()
    except SearchUnavailable as exc:
        logger.warning("search analytics not rolled up: %s", exc)
        return 0
