"""Shared fixtures: a real Redis with the search modules, a real Celery worker, real models
(plain helpers are in ``tests/support.py``).

Nothing is mocked. The embedded Redis runs for the whole session; each test gets its own
index prefix, so tests never see each other's documents.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from devserver.redis_server import EmbeddedRedis
from finder.celery import app as celery_app
from tests.support import (
    BROKEN_ROW_ID,
    CITIES,
    CORRUPT_IMAGE_ID,
    NO_IMAGE_ID,
    SLICE,
    demo_rows,
    wait_for_epoch,
    wait_until_settled,
    write_catalog,
)

_prefixes = itertools.count()

# The property tests share read-only fixtures (the indexed catalog, a logged-in client) across
# examples on purpose; requests to a real server are not fast enough for a deadline.
# CI runs a fixed set of examples (derandomized) so that it passes or fails the same way twice;
# a developer's run explores new ones each time.
hypothesis_settings.register_profile("finder", deadline=None, derandomize=bool(os.environ.get("CI")),
                                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                            HealthCheck.too_slow])
hypothesis_settings.load_profile("finder")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis.start(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def shared_cache(redis_server: EmbeddedRedis) -> None:
    """Every test has the shared cache (sessions, throttles, lockouts) and the broker on the test
    Redis."""
    django_settings.REDIS_URL = redis_server.url
    celery_app.conf.broker_url = redis_server.url


@pytest.fixture(autouse=True)
def fresh_cache(settings) -> None:
    """Each test starts with an empty cache (no lockouts or counts from another test), and with
    throttling off, as in load tests: the tests of throttling turn it on."""
    from django.core.cache import cache

    cache.clear()
    settings.FINDER_THROTTLE = False


@pytest.fixture(scope="session")
def celery_worker(redis_server: EmbeddedRedis) -> Iterator[None]:
    """A real worker, in this process (a thread), consuming from the real Redis broker."""
    from search.kinds import KINDS

    queues = [*(kind.queue() for kind in KINDS), django_settings.FINDER_IMPORT_QUEUE]
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=60, queues=queues):
        yield


@pytest.fixture
def search_settings(settings, redis_server: EmbeddedRedis, tmp_path: Path):
    """Point the app at the test Redis, with an index of this test's own and a fresh media root."""
    settings.REDIS_URL = redis_server.url
    settings.FINDER_INDEX_PREFIX = f"test{next(_prefixes)}"
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Callable[..., Path]:
    return lambda rows, extra_lines=(): write_catalog(tmp_path / "catalog", rows, extra_lines)


@pytest.fixture(scope="session")
def indexed(django_db_setup, django_db_blocker, redis_server, celery_worker, tmp_path_factory):
    """A slice of the demo catalog, with store locations, imported once for the session and
    indexed by the real worker; plus a product without an image, one with a corrupt image,
    and a broken row."""
    from catalog.models import Product
    from catalog.services import import_catalog
    from search.lifecycle import ensure_index

    folder = tmp_path_factory.mktemp("catalog")
    rows = demo_rows(SLICE)
    for i, row in enumerate(rows):
        latitude, longitude = CITIES[i % len(CITIES)]
        row["latitude"], row["longitude"] = f"{latitude + (i % 7) * 0.01:.4f}", f"{longitude - (i % 5) * 0.01:.4f}"
    template = list(rows[0].values())
    name = list(rows[0]).index("productDisplayName")
    broken = [str(BROKEN_ROW_ID), *template[1:]]
    broken[name] = "Myntra Men's Yes, its all about me"  # an unquoted comma: one field too many
    extra = [",".join([str(NO_IMAGE_ID), *template[1:]]), ",".join([str(CORRUPT_IMAGE_ID), *template[1:]]),
             ",".join(broken)]
    write_catalog(folder, rows, extra)
    (folder / "images" / f"{CORRUPT_IMAGE_ID}.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    saved = {name: getattr(django_settings, name) for name in ("REDIS_URL", "FINDER_INDEX_PREFIX", "MEDIA_ROOT")}
    django_settings.REDIS_URL = redis_server.url
    django_settings.FINDER_INDEX_PREFIX = "e2e"
    django_settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock():
        ensure_index()
        report = import_catalog(folder)
        wait_until_settled(report.product_ids)
        wait_for_epoch()  # the import's last writes retired what was kept: the tests start from there
        yield {"report": report, "rows": rows}
        Product.objects.all().delete()
    for name, value in saved.items():
        setattr(django_settings, name, value)


@pytest.fixture
def shopper(indexed, db):
    """A logged-in shopper's browser-less client, over the indexed slice."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username="shopper-client")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def resnet50_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ResNet-50 weights file: untrained (the real ones cannot be downloaded here), seeded, so
    the file is the same every run and its ONNX export is made once per machine."""
    import torch
    from torchvision.models import resnet50

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("resnet50") / "resnet50.pth"
    torch.save(resnet50(weights=None).state_dict(), path)
    return path


@pytest.fixture
def staff(db):
    """A logged-in superuser's client, for the admin."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "a-long-Passphrase-42")
    client = Client()
    client.force_login(user)
    return client
