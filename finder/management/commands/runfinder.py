from __future__ import annotations

import os
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
from finder.celery import app as celery_app
from finder.processes import stop
from finder.redis_server import EmbeddedRedis, RedisNotReady, wait_ready
from search.indexing import reconcile_index
from search.kinds import KINDS
from search.lifecycle import ensure_index
from search.store.versions import index_progress

DEMO_CATALOG = settings.BASE_DIR / "data" / "demo-catalog"


class Command(BaseCommand):
    help = ("Run the finder: Redis (embedded unless REDIS_URL is set), a Celery worker and the web "
            "server; load the demo catalog when the database has no products. Ctrl-C stops it all.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=1, help="Celery worker processes")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--demo", type=Path, default=DEMO_CATALOG, help="catalog to load when empty")

    def handle(self, *args: object, port: int, concurrency: int, web_workers: int, demo: Path,
               **options: object) -> None:
        # Both, explicitly: a shell that starts us in the background leaves SIGINT ignored.
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
        server = None
        children: list[subprocess.Popen[bytes]] = []
        try:
            if os.environ.get("REDIS_URL"):
                url = os.environ["REDIS_URL"]
                wait_ready(url)
            else:
                server = EmbeddedRedis.start(Path(settings.REDIS_DIR))
                url = server.url
                self.stdout.write(f"Redis with RediSearch and RedisJSON on {url} (data in {settings.REDIS_DIR})")
            settings.REDIS_URL = url
            if not os.environ.get("CELERY_BROKER_URL"):
                celery_app.conf.broker_url = url
            env = {**os.environ, "REDIS_URL": url}
            self.stdout.write(f"Search index: {ensure_index()}")
            while (progress := index_progress()) < 1.0:
                self.stdout.write(f"Redis is rebuilding the index: {progress:.0%}")
                time.sleep(1)
            # A worker for each kind of vector, so that a slow image batch never holds up text.
            # The primary kind's (text) takes everything else too: catalog imports, the periodic
            # sweep (-B). Text is light: one thread leaves the cores to the others.
            beat = ["-B", "--schedule", str(Path(settings.VAR_DIR) / "celerybeat-schedule")]
            for kind in KINDS:
                queues, threads, extra = kind.queue(), os.environ.get("FINDER_MODEL_THREADS", "0"), []
                if kind.primary:
                    queues, threads, extra = f"{queues},{settings.FINDER_IMPORT_QUEUE}", "1", beat
                children.append(subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "finder", "worker", "--loglevel", "INFO",
                     "--concurrency", str(concurrency), "-Q", queues, "-n", f"{kind.name}@%h", *extra],
                    env={**env, "FINDER_MODEL_THREADS": threads}, start_new_session=True))
            if Product.objects.exists():
                queued = reconcile_index()
                self.stdout.write(f"{Product.objects.count()} products; {queued} queued for indexing")
            else:
                report = import_catalog(demo)
                self.stdout.write(f"Loading the demo catalog: {report.created} products queued for indexing")
            children.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "finder.wsgi", "--bind", f"127.0.0.1:{port}",
                 "--workers", str(web_workers), "--threads", "4", "--access-logfile", "-"],
                env=env, start_new_session=True))
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
            if server:
                server.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt

