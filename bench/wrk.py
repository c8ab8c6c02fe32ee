"""Throughput with ``wrk``: a C load generator that leaves the cores to the server (a Python one
on the same two cores takes a large share of them and caps what it measures).

Each run replays a list of paths (uniform or Zipf-skewed product popularity, chosen in Python and
handed to wrk's Lua), with a shopper's session cookie or an API token, and reports wrk's own
requests/s and latency percentiles beside the server's CPU per request: the user + system time
of every finder process (web, workers, Redis) over the run, divided by the requests. Wall-clock
throughput swings with whatever else the machine does; CPU per request holds.
"""

from __future__ import annotations

import http.cookiejar
import json
import random
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.load import CSRF_INPUT
from bench.site import SHOPPER, RunningSite

#: wrk's Lua: each connection walks the path list from its own offset; at the end, one JSON line.
SCRIPT = """
local paths = {%(paths)s}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7919)
end
function init(args)
  position = offset
end
function request()
  position = position + 1
  return wrk.format("GET", paths[(position %% #paths) + 1], {%(headers)s})
end
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format('RESULT {"requests": %%d, "duration_us": %%d, "non_2xx": %%d, ' ..
    '"socket_errors": %%d, "p50_us": %%d, "p99_us": %%d}\\n', summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout, latency:percentile(50), latency:percentile(99)))
end
"""
RESULT = re.compile(r"^RESULT (\{.*\})$", re.M)


def available() -> bool:
    return shutil.which("wrk") is not None


def session_cookie(base_url: str, username: str, password: str) -> str:
    """A logged-in shopper's ``sessionid=...``, through the login form as a browser would."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base_url}/accounts/login/", timeout=10) as response:
        token = CSRF_INPUT.search(response.read().decode())
    assert token is not None, "the login page has no CSRF token"
    data = urllib.parse.urlencode({"username": username, "password": password,
                                   "csrfmiddlewaretoken": token.group(1)}).encode()
    request = urllib.request.Request(f"{base_url}/accounts/login/", data=data,
                                     headers={"Referer": f"{base_url}/accounts/login/"})
    opener.open(request, timeout=10).close()
    session = next((cookie.value for cookie in jar if cookie.name == "sessionid"), None)
    assert session, f"logging in as {username} gave no session"
    return f"sessionid={session}"


def zipf_ids(ids: list[str], count: int, seed: int = 7, exponent: float = 1.0) -> list[str]:
    """``count`` product ids drawn with Zipf-skewed popularity (the k-th most popular product
    drawn in proportion to 1/k^exponent; which product is k-th is shuffled)."""
    rng = np.random.default_rng(seed)
    ranked = list(ids)
    random.Random(seed).shuffle(ranked)
    weights = 1.0 / np.arange(1, len(ranked) + 1) ** exponent
    return [ranked[i] for i in rng.choice(len(ranked), size=count, p=weights / weights.sum())]


def uniform_ids(ids: list[str], count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(ids) for _ in range(count)]


def run(base_url: str, paths: list[str], headers: dict[str, str], connections: int, seconds: float,
        processes: Callable[[], list[psutil.Process]]) -> dict[str, Any]:
    """wrk with ``connections`` connections for ``seconds`` over ``paths``; wrk's figures and the
    server's CPU per request (``processes``: the finder's processes, read before and after)."""
    lua = SCRIPT % {"paths": ",".join(json.dumps(path) for path in paths),
                    "headers": ",".join(f"[{json.dumps(name)}]={json.dumps(value)}" for name, value in headers.items())}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(lua)
    try:
        before = _cpu_seconds(processes())
        output = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:.0f}s", "--timeout", "10s",
                                 "-s", handle.name, base_url], capture_output=True, text=True, check=True).stdout
        after = _cpu_seconds(processes())
    finally:
        Path(handle.name).unlink()
    found = RESULT.search(output)
    assert found, output
    raw = json.loads(found.group(1))
    requests = max(raw["requests"], 1)
    return {"connections": connections, "seconds": round(raw["duration_us"] / 1e6, 1), "requests": raw["requests"],
            "errors": raw["non_2xx"] + raw["socket_errors"],
            "requests_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
            "p50_ms": round(raw["p50_us"] / 1000, 2), "p99_ms": round(raw["p99_us"] / 1000, 2),
            "cpu_ms_per_request": round(sum(after[pid] - before.get(pid, 0.0) for pid in after) * 1000 / requests, 2)}


def _cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
            seconds[process.pid] = times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return seconds


def similar_section(running: RunningSite, ids: list[str], connections: int, seconds: float,
                    roles: tuple[str, ...] = ("web", "worker", "redis")) -> dict[str, Any]:
    """``/similar`` (page and API) under wrk against the floor view (a page that does nothing,
    through the same server, middleware and authentication), product popularity uniform and
    Zipf-skewed; wall clock and the CPU a request of the site's processes in ``roles``."""
    page = {"Cookie": session_cookie(running.base_url, *SHOPPER)}
    api = {"Authorization": f"Token {running.token}"}

    def processes() -> list[psutil.Process]:
        found = running.processes()
        return [process for role in roles for process in found[role]]

    def measure(paths: list[str], headers: dict[str, str]) -> dict[str, Any]:
        run(running.base_url, paths, headers, connections, 2, processes)  # every process warmed up
        return run(running.base_url, paths, headers, connections, seconds, processes)

    results = {"floor": measure(["/floor/"], page)}
    for skew, chosen in (("uniform", uniform_ids(ids, 20_000)), ("zipf", zipf_ids(ids, 20_000))):
        kinds = ["text", "image"] * (len(chosen) // 2)
        results[f"similar_page_{skew}"] = measure([f"/products/{pid}/similar/?by={by}"
                                                   for pid, by in zip(chosen, kinds, strict=True)], page)
        results[f"similar_api_{skew}"] = measure([f"/api/v1/products/{pid}/similar?by={by}"
                                                  for pid, by in zip(chosen, kinds, strict=True)], api)
    return results


def search_section(running: RunningSite, queries: list[str], ids: list[str], connections: int, seconds: float,
                   roles: tuple[str, ...] = ("web", "worker", "redis"), rounds: int = 3) -> dict[str, Any]:
    """The search API under wrk: plain, with ``facets=1``, with a rule on every query (a pin and a
    boost, written through the rules API), and with both; wall clock and the CPU a request of the
    site's processes in ``roles``. The four take turns for ``rounds`` rounds (the rules switched
    on and off through the API between them), and each is reported by its median round: one
    run after another drifts by more than the difference measured. Searches are not kept: each
    asks the index afresh."""
    api = {"Authorization": f"Token {running.token}"}
    paths = [f"/api/v1/search?{urllib.parse.urlencode({'q': query})}" for query in queries]
    faceted = [f"{path}&facets=1" for path in paths]

    def processes() -> list[psutil.Process]:
        found = running.processes()
        return [process for role in roles for process in found[role]]

    def write(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(f"{running.base_url}{path}", data=json.dumps(body).encode(), method=method,
                                         headers={"Authorization": f"Token {running.writer_token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read())

    rules = [write("POST", "/api/v1/rules", {"query": query, "pin": [ids[place % len(ids)]], "enabled": False,
                                             "boost": [{"attribute": "gender", "value": "Women", "weight": 3}]})["id"]
             for place, query in enumerate(queries)]
    run(running.base_url, paths, api, connections, 2, processes)  # every process warmed up
    measured: dict[str, list[dict[str, Any]]] = {"plain": [], "facets": [], "rule": [], "rule_and_facets": []}
    for _ in range(rounds):
        for on in (False, True):
            for rule in rules:
                write("PATCH", f"/api/v1/rules/{rule}", {"enabled": on})
            for name, chosen in (("rule" if on else "plain", paths), ("rule_and_facets" if on else "facets", faceted)):
                measured[name].append(run(running.base_url, chosen, api, connections, seconds / rounds, processes))
    # Each its median round, by CPU a request.
    return {name: sorted(runs, key=lambda row: row["cpu_ms_per_request"])[len(runs) // 2]
            for name, runs in measured.items()}
