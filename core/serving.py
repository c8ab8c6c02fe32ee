"""What stands between gunicorn and Django (:mod:`finder.wsgi`): each request's body read whole,
within a deadline, before the request goes into Django; and one request at a time in Django,
in the order they came.

gunicorn's threads wait on slow clients; Django runs one request at a time in each process.
A request's body is read whole by its thread before the request goes into Django (kept in
memory, or past ``FILE_UPLOAD_MAX_MEMORY_SIZE`` in a temporary file), so a client that trickles
an upload holds a thread, never the process's turn in Django. And only one thread at a time
runs Django's Python: threads that took turns with the GIL made each other's requests wait, and
the slowest requests slowed down (docs/scaling.md has the figures).
"""

from __future__ import annotations

import collections
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.dispatch import Signal

#: Sent once a web process has Django's application, before its first request: the apps load
#: what a first request would otherwise wait for (the search app, its text model).
serving_started = Signal()

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Turns:
    """One thread at a time, in the order they came: a plain lock lets the thread that just
    released it take it again at once, and the requests that had waited longest waited longer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: collections.deque[threading.Event] = collections.deque()
        self._taken = False

    def __enter__(self) -> None:
        with self._lock:
            if not self._taken:
                self._taken = True
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()  # handed over by the thread before

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._taken = False


class BodyTooSlow(Exception):
    """The request's body did not arrive in time."""


def guarded(django_application: WSGIApplication) -> WSGIApplication:
    """``django_application``, once each request's body is in (:func:`read_body`), one request at
    a time."""
    turn = Turns()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            body = read_body(environ)
        except (BodyTooSlow, OSError):
            start_response("408 Request Timeout",
                           [("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close")])
            return [b"The request's body arrived too slowly.\n"]
        try:
            with turn:
                return django_application(environ, start_response)
        finally:
            if body is not None:
                body.close()

    return application


def read_body(environ: dict[str, Any]) -> tempfile.SpooledTemporaryFile[bytes] | None:
    """Read the request's body before Django sees it, and return the file that holds it (None
    when it was not read). Only a body of at most ``FINDER_MAX_PHOTO_BYTES`` is read here: a
    larger one goes into Django as it comes, for the views that take larger uploads, and every
    other view refuses it from its length. It must arrive within ``FINDER_BODY_GRACE`` seconds
    plus its length at ``FINDER_MIN_BODY_RATE`` bytes a second."""
    length = environ.get("CONTENT_LENGTH") or ""
    sock: socket.socket | None = environ.get("gunicorn.socket")
    if sock is None or not length.isdigit() or not 0 < int(length) <= settings.FINDER_MAX_PHOTO_BYTES:
        return None
    left = int(length)
    deadline = time.monotonic() + settings.FINDER_BODY_GRACE + left / settings.FINDER_MIN_BODY_RATE
    # Closed by application() once Django has answered.
    body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
    stream = environ["wsgi.input"]
    try:
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BodyTooSlow
            sock.settimeout(remaining)
            chunk = stream.read(min(left, 65_536))
            if not chunk:
                break  # the client stopped sending: Django sees what came
            body.write(chunk)
            left -= len(chunk)
    except (BodyTooSlow, OSError):
        body.close()
        raise
    sock.settimeout(None)
    body.seek(0)
    environ["wsgi.input"] = body
    return body
