"""The Celery application, configured from Django settings (the ``CELERY_`` namespace), its
tasks found in the installed apps' ``tasks`` modules. What every task carries, counts and is
built on is shared plumbing: :mod:`core.workers`."""

from __future__ import annotations

import logging.config
import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finder.settings.production")

app = Celery("finder")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _log_as_the_web_does(**kwargs: Any) -> None:
    """Workers write the web processes' log lines (``settings.LOGGING``: text or JSON, with the
    request id), not Celery's own format."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
