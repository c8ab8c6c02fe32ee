"""Faults, on real processes: Redis killed mid-import, Redis down and back, the index being
rebuilt, the broker down during an import. Nothing is lost, nobody sees a stack trace.

Each test has a Redis of its own (the session's serves the other tests) and, where work must
be done, a real worker process running the periodic sweep (Celery beat) every two seconds.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from catalog.models import Product
from devserver.processes import stop
from devserver.redis_server import EmbeddedRedis, free_port
from search.kinds import BY_NAME
from search.lifecycle import ensure_index
from search.store.connection import get_client
from search.store.redisearch import index_info
from search.store.schema import configured_layout
from search.store.versions import live_index
from tests.support import (
    demo_rows,
    indexed_products,
    start_worker_process,
    subprocess_env,
    unsettled,
    wait_until_something_is_indexed,
)

#: Each test here starts processes of its own (workers, servers, Redis, a browser) or runs for minutes.
pytestmark = pytest.mark.slow


QUEUE = "faults"  # a queue of its own: the in-process test worker must not take these tasks


@pytest.fixture
def own_redis(tmp_path: Path, search_settings) -> Iterator[EmbeddedRedis]:
    """A Redis for this test alone, which it may kill; the app points at it."""
    server = EmbeddedRedis.start(tmp_path / "redis")
    search_settings.REDIS_URL = server.url
    yield server
    if server.process.poll() is None:
        server.stop()


def _restart(server: EmbeddedRedis) -> None:
    """Start the killed server again, on its data and its port."""
    server.process = EmbeddedRedis.start(server.data_dir, port=server.port).process


def _env(tmp_path: Path, redis_url: str, broker_url: str | None = None) -> dict[str, str]:
    env = {**subprocess_env(tmp_path, QUEUE), "REDIS_URL": redis_url, "FINDER_SWEEP_SECONDS": "2"}
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    return env


def _start_worker(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A worker with beat, as ``make run`` starts the text worker."""
    return start_worker_process(tmp_path, env, "-B", "--schedule", str(tmp_path / "beat-schedule"))


def _import(tmp_path: Path, env: dict[str, str], folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", "import_catalog", str(folder)], cwd=settings.BASE_DIR,
                          env=env, capture_output=True, text=True, timeout=300)


def _wait_until_complete(ids: list[int], timeout: float = 240) -> None:
    """Until the database says every product is indexed and the index holds exactly those
    documents, each with its vectors: the index agrees with the source of truth."""
    with_images = set(Product.objects.filter(id__in=ids).exclude(image="").values_list("id", flat=True))
    deadline = time.monotonic() + timeout
    while True:
        settled = not unsettled(ids)
        client = get_client()
        try:
            live = live_index(refresh=True)
            pipe = client.pipeline(transaction=False)
            for pid in ids:
                pipe.hmget(live.doc_key(pid), ["id", BY_NAME["image"].field])
            docs = pipe.execute()
        except Exception:  # Redis still coming back
            docs = []
        complete = len(docs) == len(ids) and all(
            doc is not None and (vector is not None or pid not in with_images)
            for pid, (doc, vector) in zip(ids, docs, strict=True))
        if settled and complete:
            return
        assert time.monotonic() < deadline, (
            f"not complete: {unsettled(ids)} pending in the database, "
            f"{sum(doc is not None for doc, _ in docs)} of {len(ids)} documents")
        time.sleep(0.5)


def _assert_each_product_once(ids: list[int]) -> None:
    client = get_client()
    live = live_index(refresh=True)
    keys = list(client.scan_iter(match=f"{live.doc_prefix}*"))
    assert len(keys) == len(set(keys)) == len(ids)
    assert index_info(client, live.name)["num_docs"] == len(ids)
    assert indexed_products().filter(id__in=ids).count() == len(ids)


@pytest.mark.django_db(transaction=True)
def test_redis_killed_during_an_import_and_restarted_loses_nothing(own_redis, catalog_dir, tmp_path) -> None:
    Product.objects.all().delete()
    env = _env(tmp_path, own_redis.url)
    ensure_index()
    worker = _start_worker(tmp_path, env)
    try:
        result = _import(tmp_path, env, catalog_dir(demo_rows(96)))
        assert result.returncode == 0, result.stderr
        ids = list(Product.objects.values_list("id", flat=True))
        assert len(ids) == 96
        wait_until_something_is_indexed()
        own_redis.process.kill()  # SIGKILL: no chance to write anything more
        own_redis.process.wait()
        assert unsettled(), "the import finished before Redis could be killed"
        time.sleep(2)
        _restart(own_redis)
        _wait_until_complete(ids)
    finally:
        stop(worker, 60, group=True)
    _assert_each_product_once(ids)


@pytest.mark.django_db(transaction=True)
def test_the_broker_down_during_an_import_loses_nothing(own_redis, catalog_dir, tmp_path) -> None:
    """The broker is another server here, down while the import queues its work: the import
    still succeeds, its products wait in the database, and the sweep queues them once the
    broker is back."""
    Product.objects.all().delete()
    broker_port = free_port()
    env = _env(tmp_path, own_redis.url, broker_url=EmbeddedRedis.url_for(tmp_path / "broker", broker_port))
    ensure_index()
    result = _import(tmp_path, env, catalog_dir(demo_rows(24)))
    assert result.returncode == 0, result.stderr
    assert "the broker cannot be reached" in result.stderr
    ids = list(Product.objects.values_list("id", flat=True))
    assert len(ids) == 24 and unsettled() == 24
    broker = EmbeddedRedis.start(tmp_path / "broker", port=broker_port)
    worker = _start_worker(tmp_path, env)
    try:
        _wait_until_complete(ids)
    finally:
        stop(worker, 60, group=True)
        broker.stop()
    _assert_each_product_once(ids)


@pytest.fixture
def shopper_client(db) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_user("fault-shopper"))
    return client


@pytest.mark.django_db
def test_redis_down_pages_and_api_say_so_and_recover_on_their_own(own_redis, shopper_client) -> None:
    ensure_index()
    assert shopper_client.get("/search/", {"q": "blue shirt"}).status_code == 200
    own_redis.process.kill()
    own_redis.process.wait()
    page = shopper_client.get("/search/", {"q": "blue shirt"})
    assert page.status_code == 503 and "Search is unavailable: Redis cannot be reached." in page.content.decode()
    catalog = shopper_client.get("/")  # the catalog itself is in the database
    assert catalog.status_code == 200 and "Traceback" not in catalog.content.decode()
    api = shopper_client.get("/api/v1/search", {"q": "blue shirt"})
    assert api.status_code == 503
    assert api.json() == {"detail": "Search is unavailable: Redis cannot be reached."}
    _restart(own_redis)
    # Nothing restarted but Redis: the same process answers again.
    assert shopper_client.get("/search/", {"q": "blue shirt"}).status_code == 200
    assert shopper_client.get("/api/v1/search", {"q": "blue shirt"}).status_code == 200


@pytest.mark.django_db
def test_pages_say_so_while_the_index_is_incomplete(own_redis, shopper_client) -> None:
    # 1. Redis re-reading the index (as after a restart): documents are there, the index is
    # still taking them in.
    layout = configured_layout()
    client = get_client()
    pipe = client.pipeline(transaction=False)
    for n in range(150_000):
        pipe.hset(layout.doc_key(10_000_000 + n), mapping={"id": str(n), "name": f"filler {n}"})
        if n % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()
    shopper_client.get("/search/", {"q": "filler"})  # the text model loaded: the page answers at once
    ensure_index()
    page = shopper_client.get("/").content.decode()
    assert "Search is catching up after a restart" in page
    deadline = time.monotonic() + 60
    while index_info(client, layout.index_name)["percent_indexed"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    live_index(refresh=True)
    assert "catching up" not in shopper_client.get("/search/", {"q": "filler"}).content.decode()
    # 2. Products in the database not yet embedded (a rebuild from the database, an import).
    Product.objects.all().delete()  # the session's catalog, back after this test's transaction
    Product.objects.bulk_create(Product(id=20_000_000 + n, name=f"Pending shirt {n}", gender="Men",
                                        master_category="Apparel") for n in range(5))
    from django.core.cache import cache

    cache.clear()
    for path in ("/search/?q=shirt", "/"):
        page = shopper_client.get(path).content.decode()
        assert "The search index is being built: 0 of 5 products are searchable so far" in page, \
            re.findall(r'class="(?:notice|problem|status)"[^<]*', page)
