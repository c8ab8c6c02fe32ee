"""Redis behind Sentinel, on real processes: a primary, two replicas and three sentinels from the
pip packages. The app's clients find the primary through the sentinels, queries may read from a
replica, the shared cache and Celery's broker (kombu's Sentinel transport) work on the same
group, and ``runfinder --replicas`` starts one. The failover itself: ``test_failover.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.conf import settings as django_settings
from django.core.cache import cache

from core import redis_client
from devserver.management.commands.runfinder import Command
from devserver.redis_server import RedisGroup
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
    found = _settings_of_a_new_process({**_without_redis(), **group.settings_env()})
    url, options = found["CELERY_BROKER_URL"], found["CELERY_BROKER_TRANSPORT_OPTIONS"]
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


def test_runfinder_replicas_starts_a_group_and_tells_other_processes(settings, tmp_path: Path) -> None:
    settings.REDIS_GROUP_DIR = tmp_path / "redis-group"
    settings.FINDER_STARTED_REDIS = tmp_path / "redis.env"  # where a process on FINDER_VAR_DIR=tmp_path looks
    servers: list = []
    try:
        env = Command()._start_redis(2, servers)
        group = servers[0]
        assert env["REDIS_SENTINELS"] == ",".join(group.sentinel_addresses)
        found = _settings_of_a_new_process({**_without_redis(), "FINDER_VAR_DIR": str(tmp_path)})
        assert found["REDIS_SENTINELS"] == group.sentinel_addresses and found["REDIS_URL"] == ""
        assert found["CELERY_BROKER_URL"].startswith("sentinel://")
        assert found["CELERY_BROKER_TRANSPORT_OPTIONS"]["master_name"] == group.master
        assert group.sentinel_addresses != settings.REDIS_SENTINELS  # its own settings are left as they were
        assert (tmp_path / "redis.env").stat().st_mode & 0o777 == 0o600  # it holds the password
    finally:
        for server in servers:
            server.stop()


def _without_redis() -> dict[str, str]:
    """This process's environment, less anything that names a Redis."""
    return {name: value for name, value in os.environ.items()
            if name not in ("REDIS_URL", "REDIS_SENTINELS", "CELERY_BROKER_URL")}


def _settings_of_a_new_process(env: dict[str, str]) -> dict[str, Any]:
    """The Redis settings a new process reads in ``env``."""
    names = ["REDIS_URL", "REDIS_SENTINELS", "CELERY_BROKER_URL", "CELERY_BROKER_TRANSPORT_OPTIONS"]
    script = ("import json; from django.conf import settings; "
              f"print(json.dumps({{name: getattr(settings, name) for name in {names}}}))")
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=django_settings.BASE_DIR,
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])
