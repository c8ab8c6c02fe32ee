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

from catalog.models import Product
from catalog.services import import_catalog
from finder import redis_client
from finder.celery import app as celery_app
from finder.processes import start, stop
from finder.redis_server import EmbeddedRedis, RedisGroup, RedisNotReady, wait_ready
from search.indexing import reconcile_index
from search.kinds import KINDS, PRIMARY
from search.lifecycle import ensure_index
from search.store.versions import index_progress

DEMO_CATALOG = settings.BASE_DIR / "data" / "demo-catalog"


class Command(BaseCommand):
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
            self.stdout.write(f"Search index: {ensure_index()}")
            while (progress := index_progress()) < 1.0:
                self.stdout.write(f"Redis is rebuilding the index: {progress:.0%}")
                time.sleep(1)
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
            if Product.objects.exists():
                queued = reconcile_index()
                self.stdout.write(f"{Product.objects.count()} products; {queued} queued for indexing")
            else:
                report = import_catalog(demo)
                self.stdout.write(f"Loading the demo catalog: {report.created} products queued for indexing")
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
            for server in servers:
                server.stop()

    def _start_redis(self, replicas: int, servers: list[EmbeddedRedis | RedisGroup]) -> dict[str, str]:
        """Wait for the Redis the environment names, or start one (or a group of ``replicas``
        replicas and three sentinels) into ``servers``; point this process at it and return the
        environment that points the children at it."""
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
        _point_at(redis_env)
        return redis_env


def _point_at(redis_env: dict[str, str]) -> None:
    """Point this process's settings and Celery app at the Redis ``redis_env`` describes."""
    found = redis_client.servers(redis_env, broker=os.environ.get("CELERY_BROKER_URL", ""))
    for name in ("REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD"):
        setattr(settings, name, found[name])
    celery_app.conf.broker_url = found["CELERY_BROKER_URL"]
    celery_app.conf.broker_transport_options = {**celery_app.conf.broker_transport_options,
                                                **found["sentinel_transport"]}


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
