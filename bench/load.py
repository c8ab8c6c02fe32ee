"""An HTTP load generator: N concurrent clients, logged in as a shopper, for a fixed time.

Used by the benchmark (``/similar`` and ``/search`` throughput and latency) and by the soak
test (mixed browsing for minutes, with the memory of the server's processes watched). It
talks to a real server over loopback, and stops by itself.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import numpy as np

#: Picks the next path for a client, from its own random generator.
PathPicker = Callable[[random.Random], str]

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def failed(self) -> int:
        """Requests that did not answer 200, or did not answer at all."""
        return sum(count for status, count in self.statuses.items() if status != 200) + len(self.errors)

    def summary(self) -> dict[str, float | int]:
        latencies = np.array(self.latencies_ms or [0.0])
        return {"clients": self.clients, "seconds": round(self.seconds, 1), "requests": self.requests,
                "errors": self.failed, "requests_per_s": round(self.requests / self.seconds, 1),
                "p50_ms": round(float(np.percentile(latencies, 50)), 2),
                "p99_ms": round(float(np.percentile(latencies, 99)), 2)}


async def log_in(session: aiohttp.ClientSession, base_url: str, username: str, password: str) -> None:
    """Sign in through the login form, CSRF token and all, as a browser would."""
    async with session.get(f"{base_url}/accounts/login/") as response:
        token = CSRF_INPUT.search(await response.text())
    if token is None:
        raise RuntimeError("the login page has no CSRF token")
    async with session.post(f"{base_url}/accounts/login/", allow_redirects=False,
                            data={"username": username, "password": password,
                                  "csrfmiddlewaretoken": token.group(1)},
                            headers={"Referer": f"{base_url}/accounts/login/"}) as response:
        if response.status != 302:
            raise RuntimeError(f"logging in as {username} failed (HTTP {response.status})")


async def _client(session: aiohttp.ClientSession, base_url: str, pick: PathPicker, seed: int, deadline: float,
                  result: LoadResult, headers: dict[str, str] | None = None) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        path = pick(rng)
        started = time.perf_counter()
        try:
            async with session.get(f"{base_url}{path}", allow_redirects=False, headers=headers) as response:
                await response.read()
                result.statuses[response.status] += 1
                if response.status != 200 and len(result.errors) < 20:
                    result.errors.append(f"{path}: HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            result.errors.append(f"{path}: {exc!r}")
            continue
        result.latencies_ms.append((time.perf_counter() - started) * 1000)


async def _run(base_url: str, pick: PathPicker, clients: int, seconds: float, username: str, password: str,
               warmup: float, headers: dict[str, str] | None) -> LoadResult:
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=30)
    jar = aiohttp.CookieJar(unsafe=True)  # keep cookies from an IP address (127.0.0.1)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=jar) as session:
        await log_in(session, base_url, username, password)
        if warmup:
            await asyncio.gather(*(_client(session, base_url, pick, 1000 + n, time.monotonic() + warmup,
                                           LoadResult(clients, warmup), headers) for n in range(clients)))
        result = LoadResult(clients, seconds)
        started = time.monotonic()
        await asyncio.gather(*(_client(session, base_url, pick, n, started + seconds, result, headers)
                               for n in range(clients)))
        result.seconds = time.monotonic() - started
        return result


def run_load(base_url: str, pick: PathPicker, clients: int, seconds: float, username: str, password: str,
             warmup: float = 2.0, headers: dict[str, str] | None = None) -> LoadResult:
    """``clients`` concurrent shoppers requesting ``pick``'s paths (with ``headers``) for
    ``seconds`` (after a warm-up that is not counted); every request's latency and status."""
    return asyncio.run(_run(base_url, pick, clients, seconds, username, password, warmup, headers))
