"""Prometheus metrics: what each process counts, and the scrape that reads them all.

Each web process and worker counts in memory-mapped files of its own under
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode: ``make run`` and the compose
file set it), and one scrape of ``/metrics`` on any web process reads every process's files.
Where it is unset (tests, one process), a scrape reads this process's counts. What is read
rather than counted (the index's documents, the queues, the imports running) is read at each
scrape, by collectors the apps register from their ``AppConfig.ready()`` (:func:`read_at_scrape`).

Every metric is there from the first scrape: those without labels start at zero, and those whose
labels are known in advance (search kinds, tasks, states) are declared at zero (:func:`declare`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

#: Seconds: a search answers in milliseconds; the tail shows when the index or a model is slow.
SEARCH_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUESTS = Counter("finder_http_requests", "HTTP requests received, every path")
RESPONSES = Counter("finder_http_responses", "HTTP responses by view, method and status",
                    ["view", "method", "status"])
REQUEST_SECONDS = Histogram("finder_http_request_duration_seconds",
                            "Time to answer an HTTP request, by view and method", ["view", "method"])
SEARCH_SECONDS = Histogram("finder_search_duration_seconds",
                           "Time the engine takes to answer a search, by kind: the search box, similar products "
                           "by a vector kind, a photo, words that find photos", ["kind"], buckets=SEARCH_BUCKETS)
TASKS = Counter("finder_tasks", "Celery tasks by task and state (started, succeeded, failed, retried)",
                ["task", "state"])
TASK_STATES = ("started", "succeeded", "failed", "retried")
EMBEDDINGS = Counter("finder_embeddings", "Products embedded, by vector kind (rate() is embeddings a second)",
                     ["kind"])

#: The collectors read at each scrape, by their class (each registered once).
_at_scrape: dict[type, Collector] = {}


def read_at_scrape(collector: Collector) -> None:
    """Have ``collector`` read its facts at every scrape."""
    _at_scrape[type(collector)] = collector


def declare(metric: Counter | Histogram, *labels: Iterable[str]) -> None:
    """Declare ``metric`` at zero for every combination of ``labels`` (one iterable of values per
    label), so that it is scraped before anything happened."""
    combinations: list[tuple[str, ...]] = [()]
    for values in labels:
        combinations = [(*done, value) for done in combinations for value in values]
    for combination in combinations:
        metric.labels(*combination)


def exposition() -> tuple[bytes, str]:
    """Every process's metrics, and what is read at scrape time, in the text format (and its
    content type)."""
    counted = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        MultiProcessCollector(counted)
    read = CollectorRegistry()
    for collector in _at_scrape.values():
        read.register(collector)
    return generate_latest(counted) + generate_latest(read), CONTENT_TYPE_LATEST
