"""Redis Sentinel failover on real processes: a primary, two replicas and three sentinels (the
pip packages' redis-server), a whole finder on them (``runfinder``: Celery workers, gunicorn),
shoppers searching from several threads and an import in flight; then the primary is killed.

Searches read from the replicas (``FINDER_READ_FROM_REPLICAS``), so they keep answering while
the sentinels agree on a new primary; what fails, fails within a bounded window, which the test
measures and prints. Writes resume on the promoted replica, the import completes, the sweep
queues what the lost primary took with it, and every product ends up in the index exactly once.
The old primary, started again, comes back as a replica and catches up.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import redis
from django.conf import settings

from bench.site import RunningSite
from devserver.redis_server import RedisGroup
from tests.support import demo_rows, write_catalog

pytestmark = [pytest.mark.slow, pytest.mark.own_database]

CLIENTS = 4
#: The longest a search may keep failing around the failover.
ERROR_WINDOW_S = 10.0
#: The index's alias and document prefix under the default settings the site runs with.
ALIAS = "finder:products"


class Shoppers:
    """Threads that search and open similar products until stopped, noting when each request
    ended and whether it answered 200."""

    def __init__(self, site: RunningSite, ids: list[int], queries: list[str]) -> None:
        self.site, self.ids, self.queries = site, ids, queries
        self.outcomes: list[tuple[float, bool, str]] = []
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._shop, args=(seed,)) for seed in range(CLIENTS)]

    def __enter__(self) -> Shoppers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()

    def _shop(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stopped.is_set():
            product, query = rng.choice(self.ids), urllib.parse.quote_plus(rng.choice(self.queries))
            path, headers = rng.choice([
                (f"/api/v1/search?q={query}", {"Authorization": f"Token {self.site.token}"}),
                (f"/api/v1/products/{product}/similar?by=text", {"Authorization": f"Token {self.site.token}"}),
                (f"/products/{product}/similar/?by=image", {}),
                (f"/search/?q={query}", {}),
            ])
            try:
                request = urllib.request.Request(self.site.base_url + path, headers=headers)
                with urllib.request.urlopen(request, timeout=10) as response:
                    ok, what = response.status == 200, path
            except urllib.error.HTTPError as exc:
                ok, what = False, f"{path}: {exc.code} {exc.read()[:200]!r}"
            except (urllib.error.URLError, OSError) as exc:
                ok, what = False, f"{path}: {exc}"
            self.outcomes.append((time.monotonic(), ok, what))

    def failures(self) -> list[tuple[float, bool, str]]:
        return [outcome for outcome in self.outcomes if not outcome[1]]


def _ids_in_index(client: redis.Redis) -> list[str]:
    """Every product id the live index holds a document for (duplicates kept, to be counted)."""
    reply = client.execute_command("FT.SEARCH", ALIAS, "*", "RETURN", "1", "id", "LIMIT", "0", "10000")
    return [fields[1].decode() if isinstance(fields[1], bytes) else fields[1] for fields in reply[2::2]]


def _wait(condition, timeout: float, what: str) -> float:
    """Seconds until ``condition()`` holds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(what)
        time.sleep(0.2)
    return time.monotonic() - started


def test_killing_the_primary_loses_no_product_and_searches_go_on(tmp_path: Path) -> None:
    rows = demo_rows(240)
    first, later = rows[:120], rows[120:]
    catalog = write_catalog(tmp_path / "catalog", first)
    more = write_catalog(tmp_path / "more", later)
    queries = [q["q"] for q in json.loads((Path(settings.BASE_DIR) / "data" / "shopper-queries.json").read_text())]
    group = RedisGroup.start(tmp_path / "redis", replicas=2)
    env = {**group.settings_env(), "FINDER_READ_FROM_REPLICAS": "1", "FINDER_SWEEP_SECONDS": "3",
           "FINDER_PENDING_TOO_LONG": "15", "FINDER_EMBED_BATCH": "8"}
    try:
        with RunningSite(tmp_path / "site", catalog, env=env) as site:
            site.wait_until_serving()
            site.wait_until_indexed(len(first))
            with Shoppers(site, [row["id"] for row in first], queries) as shoppers:
                time.sleep(3)
                importer = subprocess.Popen([sys.executable, "manage.py", "import_catalog", str(more)],
                                            env=site.env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT)
                _wait(lambda: site.status()["products"] > len(first), 120, "the import did not start")
                old = group.primary_port()
                os.kill(group.node(old).process.pid, signal.SIGKILL)
                killed = time.monotonic()
                promoted = _wait(lambda: group.primary_port() != old, 60, "no replica was promoted")
                output = importer.communicate(timeout=300)[0].decode(errors="replace")
                assert importer.returncode == 0, output
                indexed = site.wait_until_indexed(len(rows), timeout=300)
                time.sleep(3)
            primary = redis.Redis(port=group.primary_port(), password=group.password, protocol=2)
            ids = _ids_in_index(primary)
            restarted = group.restart(group.node(old))
            rejoined = redis.Redis(port=restarted.port, password=group.password, protocol=2)
            caught_up = _wait(lambda: rejoined.info("replication")["role"] == "slave"
                              and rejoined.info("replication").get("master_link_status") == "up"
                              and sorted(_ids_in_index(rejoined)) == sorted(ids), 120,
                              "the old primary did not come back as an up-to-date replica")
    finally:
        group.stop()

    failures = shoppers.failures()
    window = failures[-1][0] - failures[0][0] if failures else 0.0
    after = [outcome for outcome in shoppers.outcomes if outcome[0] > killed]
    print("failed:", *(f"{at - killed:+.2f} s {what}" for at, _, what in failures), sep="\n  ")
    print(f"failover: promoted {promoted:.1f} s after the kill; {len(shoppers.outcomes)} requests, "
          f"{len(failures)} failed, error window {window:.2f} s; all {len(rows)} indexed "
          f"{indexed:.0f} s after launch; old primary a replica again in {caught_up:.1f} s")
    assert sorted(ids) == sorted(row["id"] for row in rows), "lost or duplicate documents"
    assert window <= ERROR_WINDOW_S, failures[:5]
    assert len(after) > 50 and sum(ok for _, ok, _ in after) > 0.9 * len(after), failures[:5]
