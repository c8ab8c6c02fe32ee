"""Log lines that follow a request: its id, in the web process and in the Celery tasks it starts.

Each request gets an id (:func:`request_id_from`: the client's ``X-Request-ID`` when it is short and
plain, else a new one), held in a context variable while the request runs
(:class:`core.middleware.RequestMiddleware`). Tasks published meanwhile carry it in a message
header, and a worker holds it again while it runs each one (:mod:`finder.celery`), so an
import's worker lines carry the id of the upload that started it. :class:`RequestIdFilter` stamps
it on every log record; ``settings.LOGGING`` writes records as text or, with
``FINDER_LOG_FORMAT=json``, one JSON object a line (python-json-logger).
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

#: The request (or the task started by one) this thread of work is serving; "" when none.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
#: A client's id is kept only when it is this plain: 64 letters, digits, "-", "_" or "." at most.
PLAIN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_from(given: str | None) -> str:
    """The client's request id when it is short and plain, else a new one."""
    return given if given and PLAIN_ID.fullmatch(given) else uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was written for (``request_id``; "-"
    outside any request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True
