"""The production shape in docker-compose.yml (no Docker here to start it: it is read and
checked): a TLS proxy in front, nothing else published, no default secrets, non-root app
containers, health checks, beat as its own service, photos served by the proxy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings

#: Each test here starts processes of its own (workers, servers, Redis, a browser) or runs for minutes.
pytestmark = pytest.mark.slow


ROOT = Path(settings.BASE_DIR)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_only_the_tls_proxy_is_published(compose) -> None:
    services = compose["services"]
    assert [name for name, service in services.items() if service.get("ports")] == ["proxy"]
    assert services["proxy"]["image"].startswith("caddy")
    assert compose["networks"]["back"]["internal"] is True
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "{$SITE_HOST}" in caddyfile and "reverse_proxy web:8000" in caddyfile
    # Photos come from the media volume, through the proxy, not through Python.
    assert "/media/*" in caddyfile and "media:/srv/media:ro" in services["proxy"]["volumes"]


def test_the_web_server_trusts_forwarded_headers_from_the_proxy_alone(compose) -> None:
    services = compose["services"]
    proxy_address = services["proxy"]["networks"]["back"]["ipv4_address"]
    command = " ".join(services["web"]["command"])
    assert f"--forwarded-allow-ips {proxy_address}" in command and "'*'" not in command
    assert services["web"]["environment"]["FINDER_PROXY_COUNT"] == "1"


def test_no_secret_has_a_default(compose) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "SITE_HOST"):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses and all(use.startswith(":?") for use in uses), (name, uses)
    assert "finder:finder@" not in text and "POSTGRES_PASSWORD: finder" not in text
    assert compose["services"]["web"]["environment"]["DJANGO_SETTINGS_MODULE"] == "finder.settings.production"


def test_app_containers_run_unprivileged_with_health_checks(compose) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.M)
    assert users and users[-1] not in ("root", "0")
    services = compose["services"]
    for name in ("web", "worker", "beat"):
        assert services[name].get("user", users[-1]) not in ("root", "0"), name
    for name in ("web", "worker", "redis", "postgres"):
        assert services[name]["healthcheck"]["test"], name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["beat"]["command"][:4] == ["celery", "-A", "finder", "beat"]
    assert "-B" not in services["worker"]["command"]
    assert "celery.imports" in " ".join(services["worker"]["command"])


def test_every_app_process_counts_for_one_scrape(compose) -> None:
    """Web, worker and beat count in one shared folder, so that one scrape of /metrics reads them all."""
    for name in ("web", "worker", "beat"):
        service = compose["services"][name]
        folder = service["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert f"metrics:{folder}" in service["volumes"], name
    assert "/var/finder/metrics" in (ROOT / "Dockerfile").read_text()  # made there, owned by the app's user


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("allowed", "expected"), [("127.0.0.1", 200), ("192.0.2.1", 301)])
def test_https_is_believed_only_from_the_trusted_proxy(tmp_path, allowed, expected) -> None:
    """A real gunicorn, in production settings: X-Forwarded-Proto from the address it trusts
    makes a request HTTPS; the same header from anyone else is ignored (the page redirects to
    HTTPS rather than serve a forged "secure" request)."""
    import secrets
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    from devserver.redis_server import free_port
    from tests.support import subprocess_env

    port = free_port()
    env = {**subprocess_env(tmp_path, "deploy"), "DJANGO_SETTINGS_MODULE": "finder.settings.production",
           "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "finder.wsgi", "--bind", f"127.0.0.1:{port}",
                               "--forwarded-allow-ips", allowed], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/accounts/login/",
                                         headers={"X-Forwarded-Proto": "https"})
        opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,), {
            "redirect_request": lambda *args, **kwargs: None}))
        deadline = time.monotonic() + 120
        while True:
            try:
                status = opener.open(request, timeout=60).status
                break
            except urllib.error.HTTPError as exc:
                status = exc.code
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        assert status == expected
    finally:
        server.terminate()
        server.wait(30)


def test_the_sentinel_option_gives_every_app_service_the_group(compose) -> None:
    """docker-compose.sentinel.yml: the primary, two replicas of it, three sentinels watching it,
    and every app service pointed at the sentinels (queries on the replicas), with no default
    password."""
    text = (ROOT / "docker-compose.sentinel.yml").read_text()
    override = yaml.safe_load(text)
    services = override["services"]
    commands = {name: " ".join(service.get("command", [])) for name, service in services.items()}
    sentinels = [name for name, command in commands.items() if "--sentinel" in command]
    replicas = [name for name, command in commands.items() if "--replicaof redis 6379" in command]
    assert len(sentinels) == 3 and len(replicas) == 2
    assert all("sentinel monitor finder redis 6379 2" in commands[name] for name in sentinels)
    for name in ("web", "worker", "beat"):
        assert name in compose["services"]
        environment = services[name]["environment"]
        assert environment["REDIS_URL"] == "" and environment["FINDER_READ_FROM_REPLICAS"] == "1"
        assert sorted(address.split(":")[0] for address in environment["REDIS_SENTINELS"].split(",")) == sentinels
    assert re.findall(r"\$\{REDIS_PASSWORD([^}]*)\}", text) and all(
        use.startswith(":?") for use in re.findall(r"\$\{REDIS_PASSWORD([^}]*)\}", text))


def test_the_worker_takes_every_queue_the_app_sends_to(compose) -> None:
    """A new vector kind's queue (docs/recipes.md) or the imports' one left out of the worker's
    list would leave its work waiting for ever."""
    from django.conf import settings

    from search.kinds import KINDS

    command = compose["services"]["worker"]["command"]
    queues = set(command[command.index("-Q") + 1].split(","))
    default = settings.CELERY_TASK_DEFAULT_QUEUE
    expected = {kind.queue().replace(default, "celery", 1) for kind in KINDS} | {
        settings.FINDER_IMPORT_QUEUE.replace(default, "celery", 1)}
    assert queues == expected


def _bytes(size: str) -> int:
    """A size as compose and Redis write it ("1536m", "1gb") in bytes."""
    number, unit = re.fullmatch(r"(\d+)([kmg]?)b?", size.lower()).groups()
    return int(number) * 1024 ** " kmg".index(unit or " ")


def test_every_role_has_a_memory_limit_and_redis_evicts_only_the_cache(compose) -> None:
    """Each container has a memory limit; every Redis node is capped below its own, evicts only
    keys with a time to live (the shared cache's: never the index or the queues), and keeps an
    append-only file written every second. The sentinels have health checks."""
    override = yaml.safe_load((ROOT / "docker-compose.sentinel.yml").read_text())["services"]
    services = {**compose["services"], **{name: {**compose["services"].get(name, {}), **service}
                                          for name, service in override.items()}}
    for name, service in services.items():
        if name != "proxy":
            assert _bytes(service["mem_limit"]) > 0, name
    nodes = [name for name, service in services.items() if "redis-server -" in " ".join(service.get("command", []))]
    assert sorted(nodes) == ["redis", "redis-replica-1", "redis-replica-2"]
    for name in nodes:
        command, environment = " ".join(services[name]["command"]), services[name]["environment"]
        assert "--maxmemory-policy volatile-lru" in command and "--maxmemory $$REDIS_MAXMEMORY" in command
        assert "--appendonly yes --appendfsync everysec" in command
        cap = re.fullmatch(r"\$\{REDIS_MAXMEMORY:-(\w+)\}", environment["REDIS_MAXMEMORY"]).group(1)
        assert _bytes(cap) < _bytes(services[name]["mem_limit"]), name  # room for the server itself
        assert int(services[name]["image"].split(":")[1].split(".")[0]) >= 8  # search and JSON built in
    for name in ("sentinel-1", "sentinel-2", "sentinel-3"):
        assert "get-master-addr-by-name finder" in " ".join(services[name]["healthcheck"]["test"])
