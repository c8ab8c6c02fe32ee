"""A worker killed with SIGKILL in the middle of an image batch loses nothing: a new worker
finishes the import, every product ends indexed, none twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from django.conf import settings

from catalog.models import Product
from devserver.processes import stop
from search.lifecycle import ensure_index
from search.store.connection import get_client
from search.store.redisearch import index_info
from search.store.versions import live_index
from tests.support import (
    demo_rows,
    indexed_products,
    start_worker_process,
    subprocess_env,
    text_pending,
    wait_until_settled,
    wait_until_something_is_indexed,
)

#: Each test here starts processes of its own (workers, servers, Redis, a browser) or runs for minutes.
pytestmark = pytest.mark.slow

QUEUE = "crash-test"  # a queue of its own: the in-process test worker must not take these tasks


def _start_worker(tmp_path) -> subprocess.Popen[bytes]:
    return start_worker_process(tmp_path, subprocess_env(tmp_path, QUEUE))


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_nothing(search_settings, catalog_dir, tmp_path) -> None:
    Product.objects.all().delete()
    search_settings.MEDIA_ROOT = tmp_path / "media"
    ensure_index()
    first = _start_worker(tmp_path)
    try:
        subprocess.run([sys.executable, "manage.py", "import_catalog", str(catalog_dir(demo_rows(48)))],
                       cwd=settings.BASE_DIR, env=subprocess_env(tmp_path, QUEUE), check=True, capture_output=True)
        ids = list(Product.objects.values_list("id", flat=True))
        assert len(ids) == 48
        wait_until_something_is_indexed()
        # The first batch is done: the worker is now inside the next one, embedding images.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        pending = text_pending().count()
        assert pending > 0, "the worker finished before it could be killed"
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    second = _start_worker(tmp_path)
    try:
        wait_until_settled(ids, timeout=180)
    finally:
        stop(second, 60, group=True)
    assert indexed_products().count() == 48
    client = get_client()
    keys = list(client.scan_iter(match=f"{live_index().doc_prefix}*"))
    assert len(keys) == len(set(keys)) == 48
    assert index_info(client, live_index().name)["num_docs"] == 48
