"""The Celery application, configured from Django settings (the ``CELERY_`` namespace), and the
base class of the tasks whose messages must not come back forever."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finder.settings")

logger = logging.getLogger(__name__)

app = Celery("finder")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class BoundedTask(Task):
    """A task that gives up after ``max_deliveries`` deliveries of the same message.

    Tasks are acknowledged late and re-queued when their worker dies, so that a crash loses
    nothing; but a message that itself kills its worker (a poison message) would then come
    back forever. Each delivery is counted in the shared cache (a retry is a new message, with
    a count of its own); past the limit the task calls ``give_up(*args, reason)``, which
    records the failure where staff see it, and is acknowledged.
    """

    max_deliveries = 3

    @staticmethod
    def give_up(*args: Any) -> None:
        """Record that the task's work failed; the last argument is the reason."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from django.core.cache import cache

        if self.request.id and not self.request.is_eager:
            key = f"deliveries:{self.request.id}:{self.request.retries}"
            cache.add(key, 0, timeout=86_400)
            deliveries = cache.incr(key) or 0  # None: the cache is down, and the task runs
            if deliveries > self.max_deliveries:
                reason = (f"{self.name} was delivered {deliveries} times without finishing "
                          "(it stopped its worker each time); given up")
                logger.error("%s for %s", reason, args)
                self.give_up(*args, reason)
                return None
        return super().__call__(*args, **kwargs)
