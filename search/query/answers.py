"""Answers remembered until the index changes: in each process, and shared between them.

Shoppers ask the same questions again and again (a few products are most of the clicks), and
an answer holds for as long as the index it came from does. Each answer is kept under the
index's epoch (:meth:`search.store.base.IndexStore.epoch`), a token every write to the index
replaces (a document written, a vector added, a product removed, an alias swapped) and that never
comes back. So a kept answer is never stale; reading the epoch is one small GET, where the
answer itself costs several queries. With no epoch (a fresh or emptied index) nothing is kept.

Two tiers. Each process keeps answers in its memory (least recently used first out,
``FINDER_ANSWER_CACHE`` answers; 0 keeps none): a hit costs no round trip. An answer one process
worked out is also left in the shared cache (pickled, compressed, for
``FINDER_SHARED_ANSWER_SECONDS``), so that the other web processes find it there with one GET
rather than asking the index and drawing it again each. Pages keep what they draw here too.

Within a web request the epoch is read once, at its first question (the request signals,
connected in ``SearchConfig.ready()``, open and close that): every answer a page shows comes
from the same index, and the page pays one GET, not one a question. What a request worked out
is shared when it has been answered, all in one round trip after the response has gone.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache

from core import redis_client
from search.store import get_store

_lock = threading.Lock()
_answers: OrderedDict[tuple[str, str, str, Hashable], Any] = OrderedDict()
Answer = TypeVar("Answer")


@dataclass
class _Request:
    """What a web request has read and worked out so far."""

    epoch: str = ""  #: empty until its first question
    shares: dict[str, bytes] = field(default_factory=dict)  #: for the shared cache, when it ends


#: The web request being answered, or None outside one (workers, commands).
_request: ContextVar[_Request | None] = ContextVar("finder_answers_request", default=None)


def remembered(question: Hashable, answer: Callable[[], Answer],
               keep: Callable[[Answer], bool] = lambda _: True) -> Answer:
    """The answer to ``question`` at the index's current epoch: kept, or ``answer()`` (and kept
    unless ``keep`` says that this one depends on more than the index).

    ``question`` is a tuple of plain values (strings, numbers, enums, tuples of them): its
    ``repr`` names it in the shared cache, the same in every process. A kept answer is shared
    with every later caller: none may change it."""
    size = settings.FINDER_ANSWER_CACHE
    epoch = _epoch() if size else ""
    if not epoch:
        return answer()
    key = (redis_client.described(), settings.FINDER_INDEX_PREFIX, epoch, question)
    with _lock:
        found = _answers.get(key)
        if found is not None:
            _answers.move_to_end(key)
            return found
    shared = f"answer-{epoch}-{hashlib.sha1(repr(question).encode()).hexdigest()}"
    found = _shared(shared)
    if found is None:
        found = answer()
        if not keep(found):
            return found
        _share(shared, found)
    with _lock:
        _answers[key] = found
        while len(_answers) > size:
            _answers.popitem(last=False)
    return found


def request_started(**kwargs: Any) -> None:
    """A web request reads the epoch once and shares what it worked out when it ends."""
    _request.set(_Request())


def request_finished(**kwargs: Any) -> None:
    """Share what the request worked out (one round trip); outside a request (workers,
    commands) the epoch is read at every question and answers are shared at once."""
    request = _request.get()
    _request.set(None)
    if request is not None and request.shares:
        cache.set_many(request.shares, settings.FINDER_SHARED_ANSWER_SECONDS)


def _epoch() -> str:
    request = _request.get()
    if request is None:
        return get_store().epoch()
    if not request.epoch:
        request.epoch = get_store().epoch()
    return request.epoch


def _shared(key: str) -> Any:
    if not settings.FINDER_SHARED_ANSWER_SECONDS:
        return None
    packed = cache.get(key)
    return None if packed is None else pickle.loads(zlib.decompress(packed))


def _share(key: str, found: Any) -> None:
    if not settings.FINDER_SHARED_ANSWER_SECONDS:
        return
    packed = zlib.compress(pickle.dumps(found, pickle.HIGHEST_PROTOCOL), 1)
    request = _request.get()
    if request is None:
        cache.set(key, packed, settings.FINDER_SHARED_ANSWER_SECONDS)
    else:
        request.shares[key] = packed
