"""Workers never loop or stall forever: a message that keeps killing its worker is given up and
recorded, every task has a time limit, imports have their own queue, and the sweep works each
queue on its own, so a dead image worker delays photos (and says so) but nothing else."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from catalog.models import ImportRun, Product
from devserver.processes import stop
from finder.celery import app
from search.indexing import waiting_tasks
from search.lifecycle import ensure_index
from search.store.connection import get_client
from search.store.schema import configured_layout
from tests.support import (
    demo_rows,
    images_waiting,
    start_worker_process,
    subprocess_env,
    text_pending,
    wait_until_settled,
)

#: Each test here starts processes of its own (workers, servers, Redis, a browser) or runs for minutes.
pytestmark = pytest.mark.slow


HEADER = "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName\n"


def _deliveries(task_id: str) -> int:
    return cache.get(f"deliveries:{task_id}:0") or 0


@pytest.mark.django_db(transaction=True)
def test_a_message_that_keeps_killing_its_worker_is_given_up_and_recorded(search_settings, tmp_path) -> None:
    """The worker's pool process dies (SIGKILL, as the kernel's OOM killer would) each time it
    takes the import: after three deliveries the fourth records the run as failed, instead of
    the message coming back forever."""
    search_settings.FINDER_UPLOAD_DIR = tmp_path / "uploads"
    folder = tmp_path / "catalog"
    folder.mkdir()
    rows = "".join(f"{8_300_000 + n},Men,Apparel,Topwear,Tshirts,White,Summer,2011,Casual,Tee {n}\n"
                   for n in range(40_000))
    (folder / "styles.csv").write_text(HEADER + rows)
    run = ImportRun.objects.create(source="styles.csv", folder=str(folder))
    env = subprocess_env(tmp_path, "poison")
    worker = start_worker_process(tmp_path, env)
    try:
        from catalog.tasks import import_upload

        task_id = import_upload.apply_async((run.pk,), queue="poison.imports").id
        parent = psutil.Process(worker.pid)
        for delivery in range(1, 4):
            deadline = time.monotonic() + 60
            while _deliveries(task_id) < delivery:
                assert time.monotonic() < deadline, f"delivery {delivery} never came"
                time.sleep(0.05)
            for child in parent.children():
                os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while (run := ImportRun.objects.get(pk=run.pk)).state != ImportRun.State.FAILED:
            assert time.monotonic() < deadline, f"the run is still {run.state} after {_deliveries(task_id)} deliveries"
            time.sleep(0.2)
    finally:
        stop(worker, 60, group=True)
    assert "delivered 4 times without finishing" in run.error
    assert run.finished_at is not None


def test_every_task_has_a_time_limit_and_imports_have_their_own_queue() -> None:
    app.loader.import_default_modules()
    for name in ("search.tasks.embed", "catalog.tasks.import_upload"):
        task = app.tasks[name]
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard, name
    assert app.tasks["catalog.tasks.import_upload"].time_limit == settings.FINDER_IMPORT_TIME_LIMIT + 60
    # A task still running is never handed to a second worker: the broker waits longer than any may run.
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.FINDER_IMPORT_TIME_LIMIT + 60
    assert app.amqp.router.route({}, "catalog.tasks.import_upload")["queue"].name == settings.FINDER_IMPORT_QUEUE


@pytest.mark.django_db(transaction=True)
def test_with_the_image_worker_gone_text_keeps_up_and_photos_are_shown_delayed(search_settings, catalog_dir,
                                                                             tmp_path) -> None:
    search_settings.CELERY_TASK_DEFAULT_QUEUE = "sweep"
    search_settings.FINDER_PENDING_TOO_LONG = 2
    Product.objects.all().delete()
    ensure_index()
    env = {**subprocess_env(tmp_path, "sweep"), "FINDER_SWEEP_SECONDS": "1", "FINDER_PENDING_TOO_LONG": "2"}
    # A text worker with the sweep (beat); the image worker is missing.
    text_worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "finder", "worker", "--concurrency", "1", "-Q", "sweep,sweep.imports",
         "-B", "--schedule", str(tmp_path / "beat"), "--loglevel", "INFO"],
        cwd=settings.BASE_DIR, env=env, start_new_session=True,
        stdout=(tmp_path / "text-worker.log").open("ab"), stderr=subprocess.STDOUT)
    image_worker = None
    try:
        subprocess.run([sys.executable, "manage.py", "import_catalog", str(catalog_dir(demo_rows(6)))],
                       cwd=settings.BASE_DIR, env=env, check=True, capture_output=True)
        ids = list(Product.objects.values_list("id", flat=True))
        deadline = time.monotonic() + 120
        while text_pending().exists():
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert images_waiting().count() == 6
        assert waiting_tasks()["image"] > 0
        # A text document lost (Redis restarted before it wrote it): the sweep restores it
        # although the image queue is full.
        client, layout = get_client(), configured_layout()
        client.delete(layout.doc_key(ids[0]))
        deadline = time.monotonic() + 60
        while not client.exists(layout.doc_key(ids[0])):
            assert time.monotonic() < deadline, "the sweep never restored the lost document"
            time.sleep(0.2)
        # Photos waiting longer than FINDER_PENDING_TOO_LONG: shoppers and staff are told.
        time.sleep(2.5)
        cache.clear()
        shopper = Client()
        shopper.force_login(get_user_model().objects.create_user("sweep-shopper"))
        assert "Search by photo is running late" in shopper.get("/").content.decode()
        staff = Client()
        staff.force_login(get_user_model().objects.create_superuser("sweep-boss"))
        assert "Image search is delayed: 6 product photos" in staff.get("/admin/search-index/").content.decode()
        # The image worker is back: the photos are indexed and the notice goes.
        image_worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "finder", "worker", "--concurrency", "1", "-Q", "sweep.images",
             "-n", "images@%h", "--loglevel", "INFO"],
            cwd=settings.BASE_DIR, env=env, start_new_session=True,
            stdout=(tmp_path / "image-worker.log").open("ab"), stderr=subprocess.STDOUT)
        wait_until_settled(ids, timeout=120)
        cache.clear()
        assert "running late" not in shopper.get("/").content.decode()
    finally:
        for worker in (text_worker, image_worker):
            if worker is not None:
                stop(worker, 60, group=True)
    assert Path(tmp_path / "text-worker.log").is_file()


def test_every_task_queued_by_name_is_a_task() -> None:
    """Services queue tasks by name (``app.send_task(X_TASK, ...)``: tasks import services, never
    the reverse), each name a constant beside its sender: each names a task the workers run."""
    from catalog import services
    from search import evaluation, indexing, lifecycle

    app.loader.import_default_modules()
    names = {value for module in (services, evaluation, indexing, lifecycle)
             for name, value in vars(module).items() if name.endswith("_TASK")}
    assert len(names) == 6 and names <= set(app.tasks)
