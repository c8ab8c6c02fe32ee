"""A whole finder running for real, for the benchmark and the soak test: ``manage.py runfinder``
(its own Redis, Celery workers, gunicorn) in a folder of its own, with a catalog loaded and a
shopper to log in as.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

import psutil
import redis
from django.conf import settings

SHOPPER = ("bench-shopper", "a long bench password 1")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningSite:
    """``with RunningSite(folder, catalog) as site:`` a finder serving ``site.base_url``.

    Production settings (DEBUG off) but plain HTTP, since it serves loopback only. The started
    clock (:attr:`started`) is the moment ``runfinder`` was launched.
    """

    def __init__(self, folder: Path, catalog: Path, web_workers: int = 2) -> None:
        self.folder = folder
        self.catalog = catalog
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.web_workers = web_workers
        self.env = {**os.environ, "FINDER_VAR_DIR": str(folder), "DEBUG": "0", "FINDER_HTTPS": "0",
                    "SECRET_KEY": "bench-only-secret-key-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1,localhost",
                    "FINDER_MODEL_CACHE": str(settings.FINDER_MODEL_CACHE), "LOG_LEVEL": "WARNING"}
        for name in ("REDIS_URL", "DATABASE_URL", "FINDER_QUEUE"):
            self.env.pop(name, None)
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def _manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, "manage.py", *args], env=self.env, cwd=settings.BASE_DIR,
                              check=True, capture_output=True, text=True).stdout.strip()

    def __enter__(self) -> RunningSite:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._manage("migrate", "--noinput", "--verbosity", "0")
        self._manage("collectstatic", "--noinput", "--verbosity", "0")
        self._manage("shell", "-c", "from django.contrib.auth.models import User; "
                     f"User.objects.create_user({SHOPPER[0]!r}, password={SHOPPER[1]!r})")
        self.token = self._manage("api_token", SHOPPER[0])
        self.log = (self.folder / "runfinder.log").open("wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runfinder", "--port", str(self.port), "--demo", str(self.catalog),
             "--web-workers", str(self.web_workers)],
            env=self.env, cwd=settings.BASE_DIR, stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def _alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            log = (self.folder / "runfinder.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"runfinder stopped:\n{log}")

    def wait_until_serving(self, timeout: float = 300) -> float:
        """Seconds from launch until the web server answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._alive()
            try:
                urllib.request.urlopen(f"{self.base_url}/accounts/login/", timeout=2).close()
                return time.monotonic() - self.started
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("the site did not start serving")

    def status(self) -> dict[str, int]:
        """Product counts by indexing state, from the API."""
        request = urllib.request.Request(f"{self.base_url}/api/v1/status",
                                         headers={"Authorization": f"Token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def wait_until_indexed(self, expected: int, timeout: float = 1800) -> float:
        """Seconds from launch until ``expected`` products are searchable by text and image
        (or failed with a reason) and none is pending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._alive()
            counts = self.status()
            if counts["products"] >= expected and counts["pending"] == 0:
                return time.monotonic() - self.started
            time.sleep(0.5)
        raise TimeoutError(f"indexing did not finish: {counts}")

    def redis(self) -> redis.Redis:
        state = json.loads((self.folder / "redis" / "server.json").read_text())
        return redis.Redis.from_url(state["url"], protocol=2)

    def processes(self) -> dict[str, list[psutil.Process]]:
        """The site's processes by role: web (gunicorn), worker (celery), redis."""
        roles: dict[str, list[psutil.Process]] = {"web": [], "worker": [], "redis": []}
        assert self.process is not None
        for child in psutil.Process(self.process.pid).children(recursive=True):
            line = " ".join(child.cmdline())
            role = "web" if "gunicorn" in line else "worker" if "celery" in line else "redis" \
                if "redis" in line else None
            if role:
                roles[role].append(child)
        return roles

    def memory_mb(self) -> dict[str, float]:
        """Resident memory by role, in MB."""
        return {role: round(sum(p.memory_info().rss for p in procs) / 1e6, 1)
                for role, procs in self.processes().items()}
