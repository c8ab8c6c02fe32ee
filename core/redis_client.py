"""Where the finder's Redis is, and every client of it: one server (``REDIS_URL``), or a primary
that Redis Sentinel watches (``REDIS_SENTINELS``) with its replicas.

Behind Sentinel a client asks the sentinels which node is the primary whenever it opens a
connection, so after a failover the next command reaches the promoted replica; a connection
to a node that was demoted fails once and is opened again. Reads that may be a moment behind
(queries) may go to a replica (``FINDER_READ_FROM_REPLICAS``): the sentinels list the healthy
ones and a client takes them in turn, falling back to the primary when none answers. Writes
always go to the primary. Celery's broker takes the same servers through kombu's own Sentinel
transport (the settings, ``CELERY_BROKER_URL``).
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

import redis
from django.conf import settings
from redis.sentinel import Sentinel

#: Every client's options. RESP2: redisvl parses RediSearch replies in that shape.
OPTIONS: dict[str, Any] = {"protocol": 2, "socket_connect_timeout": 2, "socket_timeout": 10,
                           "health_check_interval": 30}


def configured() -> bool:
    """Whether the settings name a Redis at all."""
    return bool(settings.REDIS_SENTINELS or settings.REDIS_URL)


def connect(db: int = 0, replica: bool = False) -> redis.Redis:
    """A client of database ``db`` on the primary; with ``replica`` (and replica reads allowed),
    of a replica. One client, with its connection pool, per process and target."""
    if settings.REDIS_SENTINELS:
        return _managed(tuple(settings.REDIS_SENTINELS), settings.REDIS_SENTINEL_MASTER, settings.REDIS_PASSWORD,
                        settings.REDIS_SENTINEL_PASSWORD, db, replica and settings.FINDER_READ_FROM_REPLICAS)
    return _direct(urlsplit(settings.REDIS_URL)._replace(path=f"/{db}").geturl())


def described() -> str:
    """Where Redis is, in words, without the password."""
    return _described(tuple(settings.REDIS_SENTINELS), settings.REDIS_SENTINEL_MASTER, settings.REDIS_URL)


@functools.cache
def _described(sentinels: tuple[str, ...], master: str, url: str) -> str:
    # Kept: kept answers are filed under it, so it is asked on every request.
    if sentinels:
        return f"the primary {master!r} of the sentinels {', '.join(sentinels)}"
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


@functools.cache
def _direct(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, **OPTIONS)


def sentinel_options(password: str) -> dict[str, Any]:
    """How a client talks to the sentinels: their password, if they ask one, and short timeouts,
    so that a sentinel that does not answer is passed over. The broker's transport uses them too
    (the settings)."""
    return {"password": password or None, "socket_connect_timeout": 1, "socket_timeout": 1}


@functools.cache
def _sentinels(addresses: tuple[str, ...], password: str) -> Sentinel:
    nodes = [(host, int(port)) for host, _, port in (address.rpartition(":") for address in addresses)]
    return Sentinel(nodes, sentinel_kwargs=sentinel_options(password))


@functools.cache
def _managed(addresses: tuple[str, ...], master: str, password: str, sentinel_password: str, db: int,
             replica: bool) -> redis.Redis:
    sentinels = _sentinels(addresses, sentinel_password)
    make = sentinels.slave_for if replica else sentinels.master_for
    return make(master, db=db, password=password or None, **OPTIONS)
