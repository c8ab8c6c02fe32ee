"""The shared cache: Django's own Redis cache, on the finder's Redis, wherever that is.

Every web process and worker must see the same sessions, throttle counts and login lockouts
(a session ended in one gunicorn worker must be ended in all), so the cache cannot be a
process's memory. It lives on the finder's Redis, in a database of its own (1), apart from
the index's documents (database 0), and is cleared key by key: a FLUSHDB of any database makes
RediSearch drop every index of the server. The server is looked up when the cache is first
used, not when settings are read: a test points the settings at a Redis of its own after that.

While Redis is down the cache answers as an empty one (reads miss, writes are dropped), so
that pages keep working: sessions fall back to the database, throttles and lockouts let
requests through. Search itself reports that it is down, in its own words.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.core.exceptions import ImproperlyConfigured

from core import redis_client
from core.redis_keys import delete_matching

logger = logging.getLogger(__name__)

CACHE_DATABASE = 1
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


class _SharedClient(RedisCacheClient):
    """Django's Redis cache client on the finder's own clients (a Sentinel-managed primary, or
    one server), rather than on a pool of its own made from a URL."""

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        if not redis_client.configured():
            raise ImproperlyConfigured("The cache needs Redis: start the finder with `make run`, or set REDIS_URL "
                                       "or REDIS_SENTINELS.")
        return redis_client.connect(db=CACHE_DATABASE)


def _tolerant(answer: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """With Redis down, log it and return ``answer(*args, **kwargs)`` instead."""
    def decorator(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(self: SharedRedisCache, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except REDIS_DOWN as exc:
                logger.warning("the shared cache is unavailable (%s); carrying on without it", exc)
                return answer(*args, **kwargs)
        return call
    return decorator


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def _false(*args: Any, **kwargs: Any) -> bool:
    return False


def _default(key: str, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return kwargs.get("default", default)


class SharedRedisCache(RedisCache):
    """:class:`RedisCache` on the finder's Redis as the settings name it when the cache is used;
    an empty cache while that Redis is down."""

    get = _tolerant(_default)(RedisCache.get)
    get_many = _tolerant(lambda *args, **kwargs: {})(RedisCache.get_many)
    has_key = _tolerant(_false)(RedisCache.has_key)
    add = _tolerant(_false)(RedisCache.add)
    set = _tolerant(_nothing)(RedisCache.set)
    set_many = _tolerant(lambda *args, **kwargs: [])(RedisCache.set_many)
    touch = _tolerant(_false)(RedisCache.touch)
    incr = _tolerant(_nothing)(RedisCache.incr)
    delete = _tolerant(_false)(RedisCache.delete)
    delete_many = _tolerant(_nothing)(RedisCache.delete_many)

    @_tolerant(_false)
    def clear(self) -> bool:
        """Delete the cache's keys, one batch at a time. Never FLUSHDB: RediSearch drops every
        index of the server on a flush of any database."""
        delete_matching(self._cache.get_client(None, write=True), f"{self.key_prefix}:*")
        return True

    @functools.cached_property
    def _cache(self) -> RedisCacheClient:  # type: ignore[override]
        return _SharedClient([], **self._options)
