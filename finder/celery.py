"""The Celery application, configured from Django settings (the ``CELERY_`` namespace); what
every task carries (the request id that started it), counts (/metrics) and logs through; and the
base class of the tasks whose messages must not come back forever."""

from __future__ import annotations

import contextlib
import functools
import logging
import logging.config
import os
from collections.abc import Iterable
from contextvars import Token
from typing import Any

from celery import Celery, Task, signals
from kombu.exceptions import ChannelError

from finder import metrics
from finder.logs import REQUEST_ID

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finder.settings")

logger = logging.getLogger(__name__)

app = Celery("finder")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

#: The message header that carries the id of the request that published a task.
REQUEST_HEADER = "finder_request_id"
_running: dict[str, Token[str]] = {}


@signals.setup_logging.connect
def _log_as_the_web_does(**kwargs: Any) -> None:
    """Workers write the web processes' log lines (``settings.LOGGING``: text or JSON, with the
    request id), not Celery's own format."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@signals.before_task_publish.connect
def _carry_request_id(headers: dict[str, Any], **kwargs: Any) -> None:
    if request_id := REQUEST_ID.get():
        headers[REQUEST_HEADER] = request_id


@signals.task_prerun.connect
def _started(task_id: str, task: Task, **kwargs: Any) -> None:
    metrics.TASKS.labels(task.name, "started").inc()
    # Run eagerly, a task is already inside its request.
    _running[task_id] = REQUEST_ID.set(getattr(task.request, REQUEST_HEADER, None) or REQUEST_ID.get())


@signals.task_postrun.connect
def _finished(task_id: str, **kwargs: Any) -> None:
    if (token := _running.pop(task_id, None)) is not None:
        REQUEST_ID.reset(token)


@signals.task_success.connect
def _succeeded(sender: Task, **kwargs: Any) -> None:
    metrics.TASKS.labels(sender.name, "succeeded").inc()


@signals.task_failure.connect
def _failed(sender: Task, **kwargs: Any) -> None:
    metrics.TASKS.labels(sender.name, "failed").inc()


@signals.task_retry.connect
def _retried(sender: Task, **kwargs: Any) -> None:
    metrics.TASKS.labels(sender.name, "retried").inc()


@functools.cache
def declare_task_metrics() -> None:
    """Declare every task's counts at zero, once per process, so that a scrape shows them before
    any ran."""
    app.loader.import_default_modules()
    metrics.declare(metrics.TASKS, [name for name in app.tasks if not name.startswith("celery.")],
                    metrics.TASK_STATES)


def waiting(queues: Iterable[str]) -> dict[str, int]:
    """Tasks waiting in each of ``queues`` (a queue the broker does not know, as after it lost
    its data, holds none)."""
    found = {}
    with app.connection_for_read() as connection:
        for queue in queues:
            found[queue] = 0
            with contextlib.suppress(ChannelError):
                found[queue] = connection.default_channel.queue_declare(queue, passive=True).message_count
    return found


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
