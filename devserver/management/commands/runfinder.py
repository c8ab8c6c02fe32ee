from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import redis_client
from devserver.processes import start, stop
from devserver.redis_server import EmbeddedRedis, RedisGroup, RedisNotReady, private, wait_ready
from search.kinds import KINDS, PRIMARY

DEMO_CATALOG = settings.BASE_DIR / "data" / "demo-catalog"


class Command(BaseCommand):
    """A supervisor: it starts Redis, then hands everything that uses Redis to child processes,
    which read the settings with that Redis in their environment. Its own settings, read before
    Redis started, are never changed."""

    help = ("Run the finder: Redis (embedded unless REDIS_URL or REDIS_SENTINELS is set), a Celery worker and the web "
            "server; load the demo catalog when the database has no products. Ctrl-C stops it all.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=1, help="Celery worker processes")
        parser.add_argument("--demo", type=Path, default=DEMO_CATALOG, help="catalog to load when empty")
        parser.add_argument("--replicas", type=int, default=int(os.environ.get("FINDER_REDIS_REPLICAS", "0")),
                            help="start a primary with this many replicas and three sentinels (Redis Sentinel "
                                 "failover, on this machine) instead of one Redis")

    def handle(self, *args: object, port: int, concurrency: int, demo: Path,
               replicas: int, **options: object) -> None:
        # Both, explicitly: a shell that starts us in the background leaves SIGINT ignored.
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
        servers: list[EmbeddedRedis | RedisGroup] = []
        children: list[subprocess.Popen[bytes]] = []
        try:
            redis_env = self._start_redis(replicas, servers)
            # Its processes share the cores: model threads that spin waiting for work take them from the others.
            env = {"FINDER_MODEL_SPIN": "0", **os.environ, **redis_env, **_metrics_dir()}
            preparing = start([sys.executable, "manage.py", "prepare_catalog", "--demo", str(demo)],
                              cwd=settings.BASE_DIR, env=env)
            try:
                if preparing.wait():
                    raise CommandError("preparing the index and the catalog failed (its error is above)")
            finally:
                stop(preparing)
            # A worker for each kind of vector, so that a slow image batch never holds up text.
            # The primary kind's (text) takes everything else too: catalog imports, the periodic
            # sweep (-B). Text is light: one thread leaves the cores to the others. The other
            # kinds' workers, on every core, take text batches too (kombu serves their queues in
            # turn): an import without photos keeps every core busy, not one.
            beat = ["-B", "--schedule", str(Path(settings.VAR_DIR) / "celerybeat-schedule")]
            for kind in KINDS:
                if kind.primary:
                    queues, threads, extra = [kind.queue(), settings.FINDER_IMPORT_QUEUE], "1", beat
                else:
                    queues, threads, extra = [kind.queue(), PRIMARY.queue()], os.environ.get("FINDER_MODEL_THREADS",
                                                                                              "0"), []
                children.append(start(
                    [sys.executable, "-m", "celery", "-A", "finder", "worker", "--loglevel", "INFO",
                     "--concurrency", str(concurrency), "-Q", ",".join(queues), "-n", f"{kind.name}@%h", *extra],
                    env={**env, "FINDER_MODEL_THREADS": threads}))
            children.append(start(
                [sys.executable, "-m", "gunicorn", "-c", "python:finder.gunicorn", "finder.wsgi",
                 "--bind", f"127.0.0.1:{port}"],
                env=env))
            self.stdout.write(self.style.SUCCESS(f"Fashion Product Finder: http://127.0.0.1:{port}/  (Ctrl-C stops)"))
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            raise CommandError("a child process stopped unexpectedly; shutting down")
        except RedisNotReady as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt:
            self.stdout.write("Stopping…")
        finally:
            for child in reversed(children):
                stop(child)
            if servers:
                Path(settings.FINDER_STARTED_REDIS).unlink(missing_ok=True)
            for server in servers:
                server.stop()

    def _start_redis(self, replicas: int, servers: list[EmbeddedRedis | RedisGroup]) -> dict[str, str]:
        """Wait for the Redis the environment names, or start one (or a group of ``replicas``
        replicas and three sentinels) into ``servers``; return the environment that points the
        children at it, which other processes find in ``FINDER_STARTED_REDIS`` while it runs."""
        if os.environ.get("REDIS_URL") or os.environ.get("REDIS_SENTINELS"):
            wait_ready(os.environ.get("REDIS_URL") or redis_client.connect())
            self.stdout.write(f"Redis: {redis_client.described()}")
            return {}
        if replicas:
            group = RedisGroup.start(Path(settings.REDIS_GROUP_DIR), replicas=replicas)
            servers.append(group)
            redis_env = group.settings_env()
            self.stdout.write(f"Redis: a primary, {replicas} replicas and {len(group.sentinels)} sentinels on "
                              f"{', '.join(group.sentinel_addresses)} (data in {settings.REDIS_GROUP_DIR})")
        else:
            server = EmbeddedRedis.start(Path(settings.REDIS_DIR))
            servers.append(server)
            redis_env = {"REDIS_URL": server.url}
            self.stdout.write(f"Redis with RediSearch and RedisJSON on 127.0.0.1:{server.port} (data in "
                              f"{settings.REDIS_DIR}; its password in the folder, readable by this user alone)")
        private(Path(settings.FINDER_STARTED_REDIS), "".join(f"{name}={value}\n" for name, value in redis_env.items()))
        return redis_env


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _metrics_dir() -> dict[str, str]:
    """Where the children count for /metrics (prometheus-client's multiprocess mode): the
    environment's ``PROMETHEUS_MULTIPROC_DIR``, or an empty folder under ``var/``, emptied at each
    start so that a run's counts begin at zero."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return {}
    folder = Path(settings.VAR_DIR) / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return {"PROMETHEUS_MULTIPROC_DIR": str(folder)}
