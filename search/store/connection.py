"""The Redis client, and the one error the rest of the app sees when search is down."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from django.conf import settings
from redisvl.exceptions import RedisVLError

from finder.errors import Unavailable


class SearchUnavailable(Unavailable):
    """Redis cannot be reached or is still loading: search is down for now, not broken."""


@functools.cache
def _client(url: str) -> redis.Redis:
    # RESP2: redisvl parses RediSearch replies in that shape.
    return redis.Redis.from_url(url, protocol=2, socket_connect_timeout=2, socket_timeout=10,
                                health_check_interval=30)


def text(value: Any) -> Any:
    """A value from Redis as a string when it is bytes (replies are bytes unless decoded)."""
    return value.decode() if isinstance(value, bytes) else value


def get_client() -> redis.Redis:
    if not settings.REDIS_URL:
        raise SearchUnavailable(
            "Search is not running: start it with `make run`, or set REDIS_URL."
        )
    return _client(settings.REDIS_URL)


@contextmanager
def search_errors() -> Iterator[None]:
    """Turn Redis connection trouble into :class:`SearchUnavailable` (redisvl wraps it)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError, RedisVLError) as exc:
        cause = exc.__cause__ if isinstance(exc, RedisVLError) else exc
        if isinstance(cause, redis.BusyLoadingError):
            raise SearchUnavailable("Search is warming up: Redis is loading its data.") from exc
        if isinstance(cause, (redis.ConnectionError, redis.TimeoutError)):
            raise SearchUnavailable("Search is unavailable: Redis cannot be reached.") from exc
        raise
