"""Soak: a real finder (``runfinder``: Redis, workers, gunicorn) under mixed browsing and search
from 32 concurrent shoppers over loopback; no errors, and the memory of the web and worker
processes stays flat. CI runs it for ``FINDER_SOAK_SECONDS`` (20 s); ``make soak`` for 5 minutes.
One scrape of /metrics then counts what every web process and worker did, and every process
logged in JSON.
"""

from __future__ import annotations

import json
import os
import random
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from bench.load import run_load
from bench.site import SHOPPER, RunningSite
from tests.support import demo_rows, prometheus_samples, write_catalog

#: Each test here starts processes of its own (workers, servers, Redis, a browser) or runs for minutes.
pytestmark = [pytest.mark.slow, pytest.mark.own_database]


CLIENTS = 32
#: Resident memory may grow this much over the run (caches filling, allocator slack), no more.
GROWTH_MB, GROWTH_SHARE = 40.0, 0.10


def _mixed(ids: list[int], queries: list[str]):
    """What shoppers do: browse and filter the catalog, open products, click By text / By image,
    type queries, page; and what API clients do."""
    def pick(rng: random.Random) -> str:
        product, query = rng.choice(ids), urllib.parse.quote_plus(rng.choice(queries))
        return rng.choice([
            f"/?page={rng.randint(1, 5)}", "/?gender=Women&category=Apparel", "/?base_colour=Black&page=2",
            f"/products/{product}/", f"/products/{product}/similar/?by=text",
            f"/products/{product}/similar/?by=image&gender=Men", f"/products/{product}/similar/?by=both&weight=0.3",
            f"/products/{product}/similar/?by=text&page=2", f"/search/?q={query}", f"/search/?q={query}&page=2",
            f"/api/v1/search?q={query}", f"/api/v1/products/{product}/similar?by=image&k=24",
            f"/api/v1/products?page={rng.randint(1, 5)}", "/api/v1/status",
        ])
    return pick


def test_mixed_load_serves_every_request_and_memory_stays_flat(tmp_path: Path) -> None:
    seconds = float(os.environ.get("FINDER_SOAK_SECONDS", "20"))
    rows = demo_rows(300)
    catalog = write_catalog(tmp_path / "catalog", rows)
    queries = [q["q"] for q in json.loads((Path(settings.BASE_DIR) / "data" / "shopper-queries.json").read_text())]
    token = "soak-scraper-token"
    with RunningSite(tmp_path / "site", catalog, env={"FINDER_METRICS_TOKEN": token, "FINDER_LOG_FORMAT": "json",
                                                      "LOG_LEVEL": "INFO"}) as site:
        site.wait_until_serving()
        site.wait_until_indexed(len(rows))
        # Other processes on its var/ find the Redis runfinder started (a file only its user reads).
        started = tmp_path / "site" / "redis.env"
        assert started.read_text().startswith("REDIS_URL=redis://") and started.stat().st_mode & 0o777 == 0o600
        # runfinder's processes share the cores, so their models' threads do not spin (FINDER_MODEL_SPIN).
        for role in ("web", "worker"):
            assert {process.environ().get("FINDER_MODEL_SPIN") for process in site.processes()[role]} == {"0"}
        pick = _mixed([row["id"] for row in rows], queries)
        run_load(site.base_url, pick, CLIENTS, min(10.0, seconds / 2), *SHOPPER)  # warm every process up
        samples = [site.memory_mb()]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(max(1.0, seconds / 10)):
                samples.append(site.memory_mb())

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            result = run_load(site.base_url, pick, CLIENTS, seconds, *SHOPPER, warmup=0)
        finally:
            stop.set()
            sampler.join()
        samples.append(site.memory_mb())
        scrape = urllib.request.Request(f"{site.base_url}/metrics", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(scrape, timeout=30) as answer:
            scraped = prometheus_samples(answer.read().decode())
        logged = (tmp_path / "site" / "runfinder.log").read_text(errors="replace").splitlines()
    print(f"soak: {result.summary()}; memory MB first {samples[0]}, last {samples[-1]}")
    assert not started.exists()  # gone with the Redis it named
    assert result.failed == 0, result.errors[:10]
    assert result.requests >= seconds * 20, result.summary()
    for role in ("web", "worker"):
        first, last = samples[0][role], samples[-1][role]
        assert last <= first * (1 + GROWTH_SHARE) + GROWTH_MB, (role, [s[role] for s in samples])
    # Every web process's requests (the scrape landed on one of them) and the workers' embeddings.
    assert scraped["finder_http_requests_total"] >= result.requests
    assert scraped['finder_embeddings_total{kind="text"}'] >= len(rows)
    assert scraped['finder_tasks_total{state="succeeded",task="search.tasks.embed"}'] > 0
    records = [json.loads(line) for line in logged if line.startswith("{")]
    assert any(r["logger"] == "finder.requests" and r["request_id"] != "-" for r in records)
    assert any(r["logger"].startswith("celery") for r in records)  # the workers' lines too
