"""Answers remembered by each process until the index changes.

Shoppers ask the same questions again and again (a few products are most of the clicks), and
an answer holds for as long as the index it came from does. Each answer is kept under the
index's epoch (:meth:`search.store.base.IndexStore.epoch`), a token every write to the index
replaces (a document written, a vector added, a product removed, an alias swapped) and that never
comes back. So a kept answer is never stale; reading the epoch is one small GET a request, where
the answer itself costs several queries. With no epoch (a fresh or emptied index) nothing is
kept. Kept in this process's memory (least recently used first out, ``FINDER_ANSWER_CACHE``
answers; 0 keeps none), not in the shared cache: a hit costs no round trip more. Pages keep what
they render of an answer here too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.conf import settings

from finder import redis_client
from search.store import get_store

_lock = threading.Lock()
_answers: OrderedDict[tuple[str, str, str, Hashable], Any] = OrderedDict()
Answer = TypeVar("Answer")


def remembered(question: Hashable, answer: Callable[[], Answer]) -> Answer:
    """The answer to ``question`` at the index's current epoch: kept, or ``answer()`` (and kept).

    A kept answer is shared with every later caller: none may change it."""
    size = settings.FINDER_ANSWER_CACHE
    epoch = get_store().epoch() if size else ""
    if not epoch:
        return answer()
    key = (redis_client.described(), settings.FINDER_INDEX_PREFIX, epoch, question)
    with _lock:
        found = _answers.get(key)
        if found is not None:
            _answers.move_to_end(key)
            return found
    found = answer()
    with _lock:
        _answers[key] = found
        while len(_answers) > size:
            _answers.popitem(last=False)
    return found
