"""The Redis client, and the one error the rest of the app sees when search is down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redisvl.exceptions import RedisVLError

from core import redis_client
from core.errors import Unavailable


class SearchUnavailable(Unavailable):
    """Redis cannot be reached or is still loading: search is down for now, not broken."""


def text(value: Any) -> Any:
    """A value from Redis as a string when it is bytes (replies are bytes unless decoded)."""
    return value.decode() if isinstance(value, bytes) else value


def get_client() -> redis.Redis:
    """A client of the primary: for writes, and reads that must see the latest write."""
    return _connected(replica=False)


def get_reader() -> redis.Redis:
    """A client for queries: a replica's when ``FINDER_READ_FROM_REPLICAS`` allows (a moment
    behind the primary), else the primary's."""
    return _connected(replica=True)


def _connected(replica: bool) -> redis.Redis:
    if not redis_client.configured():
        raise SearchUnavailable("Search is not running: start it with `make run`, or set REDIS_URL or REDIS_SENTINELS.")
    return redis_client.connect(replica=replica)


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
