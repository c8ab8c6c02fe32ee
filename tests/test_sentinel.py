"""Redis behind Sentinel, on real processes: a primary, two replicas and three sentinels from the
pip packages. The app's clients find the primary through the sentinels, queries may read from a
replica, the shared cache and Celery's broker (kombu's Sentinel transport) work on the same
group, and ``runfinder --replicas`` starts one. The failover itself: ``test_failover.py``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from django.core.cache import cache

from finder import redis_client
from finder.celery import app as celery_app
from finder.management.commands.runfinder import Command
from finder.redis_server import RedisGroup, running_group
from search.store.connection import get_client, get_reader

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisGroup]:
    started = RedisGroup.start(tmp_path_factory.mktemp("group"), replicas=2)
    yield started
    started.stop()


@pytest.fixture
def behind_sentinel(settings, group: RedisGroup):
    """The app pointed at the group, replica reads on."""
    settings.REDIS_URL = ""
    settings.REDIS_SENTINELS = group.sentinel_addresses
    settings.REDIS_SENTINEL_MASTER = group.master
    settings.REDIS_PASSWORD = settings.REDIS_SENTINEL_PASSWORD = group.password
    settings.FINDER_READ_FROM_REPLICAS = True
    return settings


def _role(client) -> str:
    role = client.info("replication")["role"]
    return role.decode() if isinstance(role, bytes) else role


def test_writes_go_to_the_primary_and_queries_to_a_replica(behind_sentinel, group: RedisGroup) -> None:
    writer, reader = get_client(), get_reader()
    assert _role(writer) == "master" and _role(reader) == "slave"
    assert int(writer.info("server")["tcp_port"]) == group.primary_port()
    writer.set("sentinel-test", "written")
    deadline = time.monotonic() + 5
    while reader.get("sentinel-test") != b"written":  # replication is asynchronous: a moment behind
        assert time.monotonic() < deadline, "the replica never saw the write"
        time.sleep(0.02)
    assert reader.module_list()  # every node loads the search and JSON modules
    behind_sentinel.FINDER_READ_FROM_REPLICAS = False
    assert _role(get_reader()) == "master"


def test_the_shared_cache_and_the_broker_live_on_the_group(behind_sentinel, group: RedisGroup) -> None:
    cache.set("a-session", {"shopper": 1}, 60)
    assert cache.get("a-session") == {"shopper": 1}
    assert _role(redis_client.connect(db=1)) == "master"
    found = redis_client.servers(group.settings_env())
    url, options = found["CELERY_BROKER_URL"], found["sentinel_transport"]
    assert url.count("sentinel://") == 3 and options["master_name"] == group.master
    app = Celery("sentinel-test", broker=url)
    app.conf.broker_transport_options = options
    with app.connection_for_write() as connection:
        queue = connection.SimpleQueue("sentinel-queue")
        queue.put({"batch": [1, 2, 3]})
        message = queue.get(timeout=5)
        assert message.payload == {"batch": [1, 2, 3]}
        message.ack()
        queue.close()


def test_runfinder_replicas_starts_a_group_and_points_everything_at_it(settings, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "REDIS_SENTINELS", "CELERY_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    settings.REDIS_GROUP_DIR = tmp_path / "redis-group"  # the settings it changes go with this override
    broker = celery_app.conf.broker_url, dict(celery_app.conf.broker_transport_options)
    servers: list = []
    try:
        env = Command()._start_redis(2, servers)
        group = servers[0]
        assert env["REDIS_SENTINELS"] == ",".join(group.sentinel_addresses)
        assert group.sentinel_addresses == settings.REDIS_SENTINELS and settings.REDIS_URL == ""
        assert celery_app.conf.broker_url.startswith("sentinel://")
        assert celery_app.conf.broker_transport_options["master_name"] == group.master
        assert running_group(tmp_path / "redis-group") == env  # another process finds it
        assert _role(get_client()) == "master"
    finally:
        for server in servers:
            server.stop()
        celery_app.conf.broker_url, celery_app.conf.broker_transport_options = broker
    assert running_group(tmp_path / "redis-group") == {}
