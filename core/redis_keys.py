"""Deleting keys by pattern, shared by the cache and the search index: never FLUSHDB (see
:mod:`core.cache`), never one huge DEL."""

from __future__ import annotations

import redis


def delete_matching(client: redis.Redis, pattern: str) -> None:
    """Delete the keys matching ``pattern``, a thousand at a time: one command for them all
    would keep Redis from answering anyone else meanwhile."""
    batch = []
    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) == 1000:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)
