"""What the catalog tells Prometheus at each scrape (:mod:`core.metrics`): the imports under way."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from catalog.models import ImportRun
from catalog.selectors import import_progress

#: The stages of an import that is not over, as its run records them.
UNDER_WAY = (ImportRun.State.QUEUED, ImportRun.State.READING, ImportRun.State.INDEXING)


class ImportsCollector(Collector):
    """Catalog uploads under way, by stage. An indexing run is looked at (and marked done when
    nothing of it is pending any more: :func:`catalog.selectors.import_progress`)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        running = GaugeMetricFamily("finder_imports_running", "Catalog imports under way, by stage "
                                    "(queued, reading the file, indexing its products)", labels=["stage"])
        counts = dict.fromkeys(UNDER_WAY, 0)
        for run in ImportRun.objects.filter(state__in=UNDER_WAY):
            state = import_progress(run)["state"] if run.state == ImportRun.State.INDEXING else run.state
            if state in counts:
                counts[state] += 1
        for state, count in counts.items():
            running.add_metric([str(state)], count)
        yield running
