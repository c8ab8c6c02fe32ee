"""Helpers the tests share: demo data, catalog folders, waiting for workers, worker processes.

Fixtures live in ``conftest.py``; plain functions and constants live here, to be imported.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from django.conf import settings as django_settings
from django.db.models import QuerySet
from django.http import HttpResponse
from django.test import Client

DEMO = Path(django_settings.BASE_DIR) / "data" / "demo-catalog"
SLICE = 60
NO_IMAGE_ID, CORRUPT_IMAGE_ID, BROKEN_ROW_ID = "9000001", "9000002", "9000003"
#: Store locations for the slice: around Mumbai, Bangalore and Delhi.
CITIES = ((19.0760, 72.8777), (12.9716, 77.5946), (28.7041, 77.1025))


def demo_rows(count: int) -> list[dict[str, str]]:
    """``count`` demo products, spread over genders and categories (every n-th row)."""
    with (DEMO / "styles.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    step = len(rows) // count
    return rows[::step][:count]


def write_catalog(folder: Path, rows: list[dict[str, str]], extra_lines: list[str] = ()) -> Path:
    """A catalog folder of ``rows`` with their demo images, plus raw ``extra_lines`` in the CSV."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    with (folder / "styles.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        for line in extra_lines:
            handle.write(line + "\n")
    for row in rows:
        image = DEMO / "images" / f"{row['id']}.jpg"
        if image.exists():
            shutil.copy(image, folder / "images")
    return folder


def indexed_products() -> QuerySet:
    """The products searchable by text (their text entry indexed)."""
    from search.selectors import searchable_products

    return searchable_products()


def text_pending() -> QuerySet:
    """The products not yet searchable by text, nor failed."""
    from catalog.models import Product
    from search.models import IndexEntry

    return Product.objects.exclude(id__in=IndexEntry.objects.filter(
        kind="text", state__in=("indexed", "failed")).values("product_id"))


def images_waiting() -> QuerySet:
    """Image entries whose work waits."""
    from search.models import WAITING, IndexEntry

    return IndexEntry.objects.filter(kind="image", state__in=WAITING)


def unsettled(product_ids: list[str] | None = None) -> int:
    """How many of ``product_ids`` (or all products) still have work pending, as /api/v1/status counts."""
    from search.selectors import status_counts

    return status_counts(product_ids)["pending"]


def wait_until_settled(product_ids: list[str], timeout: float = 300.0) -> None:
    """Wait until no product of ``product_ids`` has text or image work pending."""
    deadline = time.monotonic() + timeout
    while unsettled(product_ids):
        assert time.monotonic() < deadline, "the worker did not index the products in time"
        time.sleep(0.2)


def wait_for_epoch(timeout: float = 10.0) -> None:
    """Until the index's epoch holds no write back (``FINDER_EPOCH_SECONDS`` after the last): an
    answer kept from then on stays until the next write."""
    from search.store.connection import get_client
    from search.store.schema import epoch_key

    deadline = time.monotonic() + timeout
    while get_client().exists(f"{epoch_key()}:hold"):
        assert time.monotonic() < deadline, "the epoch's hold never ended"
        time.sleep(0.05)


def subprocess_env(tmp_path: Path, queue: str) -> dict[str, str]:
    """This test's Redis, database, files and a queue of its own, for processes it starts
    (a worker, a management command): the in-process test worker never sees their tasks."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        database = f"sqlite:///{db['NAME']}"
    else:
        host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        database = f"postgres://{db['USER'] or 'postgres'}@{host}/{db['NAME']}"
    return {**os.environ, "REDIS_URL": django_settings.REDIS_URL, "DATABASE_URL": database,
            "FINDER_VAR_DIR": str(tmp_path), "FINDER_MODEL_CACHE": str(django_settings.FINDER_MODEL_CACHE),
            "FINDER_INDEX_PREFIX": django_settings.FINDER_INDEX_PREFIX,
            "FINDER_QUEUE": queue, "FINDER_EMBED_BATCH": "6", "FINDER_BROKER_VISIBILITY_TIMEOUT": "3"}


def start_worker_process(tmp_path: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    """A real worker process on the queue ``env`` names (and its image queue), logging to
    ``worker.log``; ``extra`` arguments go to ``celery worker`` (``-B`` for the sweep)."""
    queue = env["FINDER_QUEUE"]
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "finder", "worker", "--concurrency", "1", "-Q",
         f"{queue},{queue}.images,{queue}.imports", "--loglevel", "INFO", *extra],
        cwd=django_settings.BASE_DIR, env=env, start_new_session=True,
        stdout=(tmp_path / "worker.log").open("ab"), stderr=subprocess.STDOUT)


def wait_until_something_is_indexed(timeout: float = 120.0) -> None:
    """Until the first product is indexed: a worker is at work, in the middle of the import."""
    deadline = time.monotonic() + timeout
    while not indexed_products().exists():
        assert time.monotonic() < deadline, "the worker never indexed anything"
        time.sleep(0.05)


def card_ids(page: HttpResponse) -> list[str]:
    """The products a page's cards show, in order (read from the HTML: a kept page renders no
    template, so it has no context to read)."""
    return re.findall(r'<article class="card" data-product-id="([\w.-]+)"', page.content.decode())


def zipped(folder: Path) -> bytes:
    """``folder`` as a shop uploads it: a .zip with everything under one folder, ``shop/``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in folder.rglob("*"):
            if path.is_file():
                archive.write(path, Path("shop") / path.relative_to(folder))
    return out.getvalue()


def hearts(client: Client, path: str) -> dict[str, bool]:
    """Each product's heart on a page: pressed or not."""
    html = client.get(path).content.decode()
    found = {}
    for card in html.split('<article class="card" data-product-id="')[1:]:
        product_id = card.split('"', 1)[0]
        found[product_id] = 'aria-pressed="true"' in card.split("</form>", 1)[0]
    return found


def wait_for_import(staff: Client, run: object) -> dict:
    """An upload's progress, as the admin's page polls it, once the run is done or failed (3 minutes at most)."""
    deadline = time.monotonic() + 180
    while (progress := staff.get(f"/admin/catalog/importrun/{run.pk}/progress/").json())["state"] not in (
            "done", "failed"):
        assert time.monotonic() < deadline, progress
        time.sleep(0.3)
    return progress


#: Hostile rows of a catalog, by the id each is reported under, and the reason each is refused for.
GOOD = "Men,Apparel,Topwear,Tshirts,White,Summer,2011,Casual,"
HOSTILE = {
    "²": f"²,{GOOD}Superscript id",  # '²'.isdigit() is true, int('²') raises
    "૧૨": f"૧૨,{GOOD}Gujarati digits",
    "1" * 64: f"{'1' * 70},{GOOD}Seventy-digit id (reported by its first 64)",
    "a/b": f"a/b,{GOOD}A slash in the id",
    ".hidden": f".hidden,{GOOD}An id that starts with a dot",
    "8100001": f"8100001,{GOOD}Nul\x00in the name",
    "8100002": "8100002,Men,Apparel,Topwear,Tshirts,Red|Blue,Summer,2011,Casual,Tag separator",
    "8100003": "8100003,Men,Apparel,Topwear,Tshirts,White,Summer,\uff12\uff10\uff11\uff11,Casual,Fullwidth year",
    "8100004": f"8100004,{GOOD}Escape \x1b[31m in the name",
    "8100005": "8100005,Men,Apparel,Topwear,Tshirts,White,Summer,99999999999999999999,Casual,Huge year",
}
REASONS = {"²": "must be 1 to 64", "૧૨": "must be 1 to 64", "1" * 64: "must be 1 to 64", "a/b": "must be 1 to 64",
           ".hidden": "must be 1 to 64", "8100001": "control character", "8100002": "separates tags",
           "8100003": "must be a number", "8100004": "control character", "8100005": "from 1900 to 2100"}


def prometheus_samples(text: str) -> dict[str, float]:
    """A scrape in Prometheus's text format as {sample with its labels: value}."""
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}
