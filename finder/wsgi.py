"""WSGI entry point, used by gunicorn in ``make run`` and in docker-compose (settings in
:mod:`finder.gunicorn`)."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finder.settings")

django_application = get_wsgi_application()


class _Deadline:
    """A request body, read from ``sock`` until ``deadline`` (time.monotonic) at the latest."""

    def __init__(self, body: Any, sock: socket.socket, deadline: float) -> None:
        self.body, self.sock, self.deadline = body, sock, deadline

    def _before(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request body arrived too slowly")
        self.sock.settimeout(left)

    def read(self, size: int | None = None) -> bytes:
        self._before()
        return self.body.read(size)

    def readline(self, size: int | None = None) -> bytes:
        self._before()
        return self.body.readline(size)

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Django, with a deadline on reading the request's body: ``FINDER_BODY_GRACE`` seconds plus
    its length at ``FINDER_MIN_BODY_RATE`` bytes a second. Past it the read fails, the request ends
    and its thread is free for others, however slowly the client trickles its bytes."""
    sock, length = environ.get("gunicorn.socket"), environ.get("CONTENT_LENGTH") or ""
    if sock is not None and length.isdigit() and int(length):
        deadline = time.monotonic() + settings.FINDER_BODY_GRACE + int(length) / settings.FINDER_MIN_BODY_RATE
        environ["wsgi.input"] = _Deadline(environ["wsgi.input"], sock, deadline)
    return django_application(environ, start_response)


def _warm_up() -> None:
    """Load the text model now, as the web process starts, rather than in a shopper's first
    search (a few seconds); a model that cannot load leaves the search box to say so."""
    from search.embedding.runtime import ModelUnavailable
    from search.embedding.text import text_embedder

    try:
        text_embedder()
    except ModelUnavailable as exc:
        logging.getLogger(__name__).warning("the text model did not load: %s", exc)


_warm_up()
