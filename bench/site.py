"""A whole finder running for real, for the benchmark and the soak test: ``manage.py runfinder``
(its own Redis, Celery workers, gunicorn) in a folder of its own, with a catalog loaded and a
shopper to log in as.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from types import TracebackType

import psutil
import redis
from django.conf import settings

from bench import load
from devserver.processes import stop
from devserver.redis_server import free_port, running_url

SHOPPER = ("bench-shopper", "a long bench password 1")
#: The account whose token writes products, as a shop's feed robot would.
WRITER = "bench-writer"


class RunningSite:
    """``with RunningSite(folder, catalog) as site:`` a finder serving ``site.base_url``.

    Production settings (DEBUG off) but plain HTTP, since it serves loopback only. The started
    clock (:attr:`started`) is the moment ``runfinder`` was launched.
    """

    def __init__(self, folder: Path, catalog: Path, env: dict[str, str] | None = None,
                 root: Path | None = None) -> None:
        self.root = root or Path(settings.BASE_DIR)  # the checkout it runs: this one, or another's
        self.folder = folder
        self.catalog = catalog
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        # Each checkout's manage.py picks its production settings (DEBUG=0 does for a checkout
        # from before the settings were split by use, as bench.compare may run).
        inherited = {name: value for name, value in os.environ.items() if name not in (
            "REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL", "FINDER_QUEUE", "DJANGO_SETTINGS_MODULE")}
        self.env = {**inherited, "FINDER_VAR_DIR": str(folder), "DEBUG": "0", "FINDER_HTTPS": "0",
                    "FINDER_THROTTLE": "0", "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
                    "ALLOWED_HOSTS": "127.0.0.1,localhost",
                    "FINDER_MODEL_CACHE": str(settings.FINDER_MODEL_CACHE), "LOG_LEVEL": "WARNING",
                    # The catalog map's t-SNE would take the cores in the middle of a measurement,
                    # and the sweep's look at every product its Redis (a run that needs it says so).
                    "FINDER_MAP_SECONDS": "86400", "FINDER_SWEEP_SECONDS": "86400", "FINDER_FLOOR_VIEW": "1",
                    **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def _manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, "manage.py", *args], env=self.env, cwd=self.root,
                              check=True, capture_output=True, text=True).stdout.strip()

    def __enter__(self) -> RunningSite:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._manage("migrate", "--noinput", "--verbosity", "0")
        self._manage("collectstatic", "--noinput", "--verbosity", "0")
        self._manage("shell", "-c", "from django.contrib.auth.models import User; "
                     f"User.objects.filter(username={SHOPPER[0]!r}).exists() or "
                     f"User.objects.create_user({SHOPPER[0]!r}, password={SHOPPER[1]!r})")
        self.token = self._manage("api_token", SHOPPER[0]).split()[-1]
        # The shop's feed robot: a token that may write products (the write API) and rules.
        self._manage("shell", "-c", "from django.contrib.auth.models import Permission, User; "
                     f"user, _ = User.objects.get_or_create(username={WRITER!r}); "
                     "user.user_permissions.add(*Permission.objects.filter(codename__in=['change_product', "
                     "'delete_product', 'add_rule', 'change_rule', 'view_rule']))")
        self.writer_token = self._manage("api_token", WRITER).split()[-1]
        self.log = (self.folder / "runfinder.log").open("wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runfinder", "--port", str(self.port), "--demo", str(self.catalog)],
            env=self.env, cwd=self.root, stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.process:
            stop(self.process, 60)
        self.log.close()

    def _alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            log = (self.folder / "runfinder.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"runfinder stopped:\n{log}")

    def wait_until_serving(self, timeout: float = 300) -> float:
        """Seconds from launch until the web server answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._alive()
            try:
                urllib.request.urlopen(f"{self.base_url}/accounts/login/", timeout=2).close()
                return time.monotonic() - self.started
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("the site did not start serving")

    def move_epoch(self) -> None:
        """Retire every kept answer and page, as a write to the index would."""
        self._manage("shell", "-c", "from search.store.connection import get_client; from search.store.schema "
                                    "import epoch_key, new_epoch; get_client().set(epoch_key(), new_epoch())")

    def status(self) -> dict[str, int]:
        """Product counts by indexing state, from the API."""
        request = urllib.request.Request(f"{self.base_url}/api/v1/status",
                                         headers={"Authorization": f"Token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def wait_until_indexed(self, expected: int, timeout: float = 1800) -> float:
        """Seconds from launch until ``expected`` products are searchable by text and image
        (or failed with a reason) and none is pending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._alive()
            counts = self.status()
            if counts["products"] >= expected and counts["pending"] == 0:
                return time.monotonic() - self.started
            time.sleep(0.5)
        raise TimeoutError(f"indexing did not finish: {counts}")

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(running_url(self.folder / "redis"), protocol=2)

    def processes(self) -> dict[str, list[psutil.Process]]:
        """The site's processes by role: web (gunicorn), worker (celery), redis."""
        roles: dict[str, list[psutil.Process]] = {"web": [], "worker": [], "redis": []}
        assert self.process is not None
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                line = " ".join(child.cmdline())
            except psutil.NoSuchProcess:  # gone (or a zombie) since it was listed
                continue
            role = "web" if "gunicorn" in line else "worker" if "celery" in line else "redis" \
                if "redis" in line else None
            if role:
                roles[role].append(child)
        return roles

    def memory_mb(self) -> dict[str, float]:
        """Resident memory by role, in MB."""
        return {role: round(sum(p.memory_info().rss for p in procs) / 1e6, 1)
                for role, procs in self.processes().items()}


def similar_paths(ids: list[str]) -> load.PathPicker:
    """A shopper clicking By text or By image on any product, sometimes within a gender."""
    def pick(rng: random.Random) -> str:
        by = rng.choice(("text", "image"))
        gender = rng.choice(("", "", "&gender=Men", "&gender=Women"))
        return f"/products/{rng.choice(ids)}/similar/?by={by}{gender}"
    return pick


def search_paths(queries: list[str]) -> load.PathPicker:
    """A shopper typing one of the queries into the search box."""
    def pick(rng: random.Random) -> str:
        return f"/search/?q={urllib.parse.quote_plus(rng.choice(queries))}"
    return pick


def typed(queries: list[str], shortest: int) -> list[str]:
    """What a search box holds as the queries are typed, letter by letter (``shortest`` letters on)."""
    return sorted({query[:end] for query in queries for end in range(shortest, len(query) + 1)})


def suggest_paths(queries: list[str]) -> load.PathPicker:
    """Autocomplete as a shopper types one of the queries."""
    prefixes = typed(queries, 1)

    def pick(rng: random.Random) -> str:
        return f"/api/v1/suggest?{urllib.parse.urlencode({'q': rng.choice(prefixes)})}"
    return pick


def keystroke_paths(queries: list[str]) -> load.PathPicker:
    """Instant search as a shopper types one of the queries (a page fragment a keystroke,
    from the third letter; send :data:`FRAGMENT`)."""
    prefixes = typed(queries, 3)

    def pick(rng: random.Random) -> str:
        return f"/search/?{urllib.parse.urlencode({'q': rng.choice(prefixes)})}"
    return pick


#: The header instant search sends for a page's content alone.
FRAGMENT = {"X-Fragment": "1"}


def api_similar_paths(ids: list[str], k: int) -> load.PathPicker:
    """The API's similar products, ``k`` of them, by text or by image."""
    def pick(rng: random.Random) -> str:
        return f"/api/v1/products/{rng.choice(ids)}/similar?by={rng.choice(('text', 'image'))}&k={k}"
    return pick


def commands(client: redis.Redis) -> Counter[str]:
    """Commands the server has answered, by name (counting the INFO that asks)."""
    return Counter({name.removeprefix("cmdstat_"): stats["calls"]
                    for name, stats in client.info("commandstats").items()})


def _counters(client: redis.Redis) -> Counter[str]:
    """:func:`commands`, and ``round trips``: the socket reads Redis processed (a pipeline of
    many commands arrives in one)."""
    return commands(client) + Counter({"round trips": client.info("stats")["total_reads_processed"]})


def round_trips(running: RunningSite, client: redis.Redis, pick: load.PathPicker,
                seconds: float = 3.0) -> dict[str, float]:
    """Redis round trips and commands per request, from one client asking one request after
    another for ``seconds``, less what the workers and this measurement send meanwhile
    (measured over as long a quiet spell)."""
    before, started = _counters(client), time.monotonic()
    result = load.run_load(running.base_url, pick, 1, seconds, *SHOPPER, warmup=0)
    elapsed = time.monotonic() - started
    during = _counters(client)
    time.sleep(elapsed)
    quiet = _counters(client)
    per_request = {name: (during[name] - before[name] - (quiet[name] - during[name])) / result.requests
                   for name in during}
    return {name: round(value, 2) for name, value in sorted(per_request.items()) if value >= 0.05}


def memory_per_product(client: redis.Redis, products: int) -> dict[str, float]:
    """What the index costs per product: Redis's memory freed by dropping the index and its
    documents, against the raw float32 bytes of the vectors plus the product's metadata."""
    from search.store.redisearch import index_info
    from search.store.schema import alias, meta_key

    info = index_info(client, alias())
    dims = sum(vector["dim"] for vector in info["vectors"].values())
    meta_keys = list(client.scan_iter(match=meta_key("*"), count=1000))
    metadata = sum(len(client.execute_command("JSON.GET", key)) for key in meta_keys) / max(1, len(meta_keys))
    before = client.info("memory")["used_memory"]
    client.ft(alias()).dropindex(delete_documents=True)
    for start in range(0, len(meta_keys), 1000):
        client.delete(*meta_keys[start:start + 1000])
    time.sleep(1)  # large values are freed in the background
    freed = before - client.info("memory")["used_memory"]
    raw = dims * 4 + metadata
    return {"bytes_per_product": round(freed / products), "raw_vector_bytes": dims * 4,
            "metadata_bytes": round(metadata), "ratio_to_raw": round(freed / products / raw, 2)}
