"""What every Celery task carries, counts and is built on: the id of the request that queued it
(into its log lines), its counts for /metrics, the base class of the tasks whose messages must
not come back forever, and how many tasks wait in a queue.

The signal receivers are connected in :meth:`core.apps.CoreConfig.ready`, so a process that
sets Django up (a web process, a worker) has them; the apps reach the Celery app through
``celery.current_app``, which is the project's (``finder/celery.py``) once Django's settings load.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterable
from contextvars import Token
from typing import Any

from celery import Task, current_app, signals
from kombu.exceptions import ChannelError

from core import metrics
from core.logs import REQUEST_ID

logger = logging.getLogger(__name__)

#: The message header that carries the id of the request that published a task.
REQUEST_HEADER = "finder_request_id"
_running: dict[str, Token[str]] = {}


def connect_signals() -> None:
    """Carry the request id into the tasks a request publishes, and count every task's runs."""
    signals.before_task_publish.connect(_carry_request_id, dispatch_uid="core-carry-request-id")
    signals.task_prerun.connect(_started, dispatch_uid="core-task-started")
    signals.task_postrun.connect(_finished, dispatch_uid="core-task-finished")
    signals.task_success.connect(_succeeded, dispatch_uid="core-task-succeeded")
    signals.task_failure.connect(_failed, dispatch_uid="core-task-failed")
    signals.task_retry.connect(_retried, dispatch_uid="core-task-retried")


def _carry_request_id(headers: dict[str, Any], **kwargs: Any) -> None:
    if request_id := REQUEST_ID.get():
        headers[REQUEST_HEADER] = request_id


def _started(task_id: str, task: Task, **kwargs: Any) -> None:
    metrics.TASKS.labels(task.name, "started").inc()
    # Run eagerly, a task is already inside its request.
    _running[task_id] = REQUEST_ID.set(getattr(task.request, REQUEST_HEADER, None) or REQUEST_ID.get())


def _finished(task_id: str, **kwargs: Any) -> None:
    if (token := _running.pop(task_id, None)) is not None:
        REQUEST_ID.reset(token)


def _succeeded(sender: Task, **kwargs: Any) -> None:
    metrics.TASKS.labels(sender.name, "succeeded").inc()


def _failed(sender: Task, **kwargs: Any) -> None:
    metrics.TASKS.labels(sender.name, "failed").inc()


def _retried(sender: Task, **kwargs: Any) -> None:
    metrics.TASKS.labels(sender.name, "retried").inc()


@functools.cache
def declare_task_metrics() -> None:
    """Declare every task's counts at zero, once per process, so that a scrape shows them before
    any ran."""
    current_app.loader.import_default_modules()
    metrics.declare(metrics.TASKS, [name for name in current_app.tasks if not name.startswith("celery.")],
                    metrics.TASK_STATES)


def waiting(queues: Iterable[str]) -> dict[str, int]:
    """Tasks waiting in each of ``queues`` (a queue the broker does not know, as after it lost
    its data, holds none)."""
    found = {}
    with current_app.connection_for_read() as connection:
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
