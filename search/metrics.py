"""What search tells Prometheus (:mod:`core.metrics`): its kinds of search, declared at zero;
and at each scrape, each version of the index's documents and memory, and the tasks waiting in
each queue."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import redis
from django.conf import settings
from kombu.exceptions import OperationalError
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core import metrics
from core.workers import waiting
from search.kinds import KINDS, By
from search.store import get_store
from search.store.base import NoSuchVersion
from search.store.connection import SearchUnavailable

logger = logging.getLogger(__name__)

#: The kinds of search timed (``finder_search_duration_seconds``): the search box, similar products
#: by each vector kind (or both), a shopper's photo, words that find photos.
SEARCH_KINDS = ("box", *(f"similar_{by.value}" for by in By), "photo", "photo_words")


def queues() -> list[str]:
    """Every queue the finder's tasks wait in: the default one, the imports', each vector kind's."""
    return list(dict.fromkeys([settings.CELERY_TASK_DEFAULT_QUEUE, settings.FINDER_IMPORT_QUEUE,
                               *(kind.queue() for kind in KINDS)]))


class SearchCollector(Collector):
    """Each version of the index (the live one, and one being built), its documents and memory,
    and the tasks waiting per queue, read at each scrape. What Redis cannot answer is left out of
    that scrape (logged), not reported as zero."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["index", "role"]
        documents = GaugeMetricFamily("finder_index_documents", "Documents in each version of the search index "
                                      "(role: live, or building)", labels=labels)
        memory = GaugeMetricFamily("finder_index_memory_bytes", "Memory each version of the search index takes "
                                   "in Redis (its own, not its documents')", labels=labels)
        store = get_store()
        try:
            live = store.live_name()
            for name in store.versions():
                with contextlib.suppress(NoSuchVersion):  # dropped meanwhile
                    info = store.info(name)
                    role = "live" if name == live else "building"
                    documents.add_metric([name, role], info["num_docs"])
                    memory.add_metric([name, role], info["memory_bytes"])
        except SearchUnavailable as exc:
            logger.warning("the index's metrics are left out of this scrape: %s", exc)
        yield documents
        yield memory
        waiting_tasks = GaugeMetricFamily("finder_queue_tasks_waiting", "Celery tasks waiting in each queue",
                                          labels=["queue"])
        try:
            for queue, count in waiting(queues()).items():
                waiting_tasks.add_metric([queue], count)
        except (OperationalError, redis.RedisError, OSError) as exc:  # the broker is down
            logger.warning("the queues' metrics are left out of this scrape: %s", exc)
        yield waiting_tasks


def start() -> None:
    """Declare the search kinds' timings and the vector kinds' embeddings at zero, and read the
    index and queues at each scrape."""
    metrics.declare(metrics.SEARCH_SECONDS, SEARCH_KINDS)
    metrics.declare(metrics.EMBEDDINGS, [kind.name for kind in KINDS])
    metrics.read_at_scrape(SearchCollector())
