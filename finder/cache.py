"""The shared cache: Django's own Redis cache, on the finder's Redis, wherever that is.

Every web process and worker must see the same sessions, throttle counts and login lockouts
(a session ended in one gunicorn worker must be ended in all), so the cache cannot be a
process's memory. It lives on the finder's Redis, in a database of its own (1), so that
clearing it can never touch the search index (database 0). The server is looked up when the
cache is first used, not when settings are read: ``runfinder`` starts the embedded Redis
after that.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.core.exceptions import ImproperlyConfigured

CACHE_DATABASE = 1


@functools.cache
def _client(url: str, options: tuple[tuple[str, Any], ...]) -> RedisCacheClient:
    return RedisCacheClient([url], **dict(options))


def cache_url(redis_url: str) -> str:
    """The URL of the cache's database on the server at ``redis_url``."""
    return urlsplit(redis_url)._replace(path=f"/{CACHE_DATABASE}").geturl()


class SharedRedisCache(RedisCache):
    """:class:`RedisCache` on ``settings.REDIS_URL`` as it is when the cache is used."""

    @property
    def _cache(self) -> RedisCacheClient:  # type: ignore[override]
        if not settings.REDIS_URL:
            raise ImproperlyConfigured("The cache needs Redis: start the finder with `make run`, or set REDIS_URL.")
        return _client(cache_url(settings.REDIS_URL), tuple(sorted(self._options.items())))
