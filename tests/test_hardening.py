"""What a hostile stranger can send over HTTP (issue 26): each finding is a request that once did
harm, and each test here sends it and checks for a clear answer while the site keeps serving."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.test import Client

from finder.redis_server import free_port
from tests.support import subprocess_env


@pytest.mark.django_db
def test_filter_values_cannot_grow_a_page_past_its_limit(indexed, settings) -> None:
    """A filter value the page echoes cannot stand for a part of the page filled in per request:
    a page kept cut at fixed marker strings let one 4 KB GET build a response of about 250 MB."""
    source = indexed["report"].product_ids[0]
    old_markers = ["facets-slot-4b1d9e", "/here-slot-4b1d9e", "name-slot-4b1d9e", "csrf-slot-4b1d9e"]
    query = urlencode([("by", "text"), *(("brand", marker) for marker in old_markers * 10)])
    assert len(query) < 4096
    for _ in range(2):  # drawn, then kept
        response = Client().get(f"/products/{source}/similar/?{query}")
        assert response.status_code == 200 and len(response.content) < 1_000_000
        assert b"\x00" not in response.content
    # A NUL (the first character of the slots that are filled per request) is refused outright.
    response = Client().get(f"/products/{source}/similar/?by=text&brand=%00a")
    assert response.status_code == 400 and len(response.content) < 100_000


@pytest.mark.django_db
def test_a_page_that_would_be_larger_than_the_limit_is_refused(indexed, settings) -> None:
    source = indexed["report"].product_ids[1]
    path = f"/products/{source}/similar/?by=image"
    first = Client().get(path)
    assert first.status_code == 200 and len(first.content) > 20_000
    settings.FINDER_MAX_PAGE_BYTES = 20_000
    response = Client().get(path + "&page=1")  # not kept yet
    assert response.status_code == 400 and b"too large" in response.content
    assert Client().get(path).status_code == 400  # kept before the limit fell: refused as well


@pytest.mark.django_db
def test_filter_values_are_capped_per_request(indexed) -> None:
    """Fifty values a parameter, across many parameters, made every page echo a thousand values."""
    source = indexed["report"].product_ids[2]
    many = [(parameter, f"value {i}") for parameter in ("brand", "season", "usage", "not_brand")
            for i in range(30)]
    for path in (f"/products/{source}/similar/", "/", "/search/?q=shirt", "/api/v1/search?q=shirt"):
        response = Client().get(path + ("&" if "?" in path else "?") + urlencode(many))
        assert response.status_code == 400, path
        assert b"at most" in response.content, path


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_clients_trickling_uploads_leave_the_site_serving(tmp_path) -> None:
    """Eight clients each trickle a 9 MB photo upload, a byte at a time, into a real gunicorn
    started as ``make run`` starts it: the health check still answers at once, and each trickle
    is cut off once its body is overdue."""
    port = free_port()
    env = {**subprocess_env(tmp_path, "trickle"), "FINDER_WEB_WORKERS": "2", "FINDER_BODY_GRACE": "3",
           "FINDER_MIN_BODY_RATE": "1000000000"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:finder.gunicorn", "finder.wsgi",
                               "--bind", f"127.0.0.1:{port}"], cwd=django_settings.BASE_DIR, env=env,
                              stderr=subprocess.DEVNULL)
    healthz = f"http://127.0.0.1:{port}/healthz"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(healthz, timeout=30)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        tricklers = []
        for _ in range(8):
            trickler = socket.create_connection(("127.0.0.1", port))
            trickler.sendall(b"POST /search/photo/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 9000000\r\n"
                             b"Content-Type: multipart/form-data; boundary=x\r\n\r\n--x\r\n")
            tricklers.append(trickler)
        for _ in range(2):
            time.sleep(0.5)
            for trickler in tricklers:
                trickler.sendall(b"a")
        started = time.monotonic()
        assert urllib.request.urlopen(healthz, timeout=30).status == 200
        assert time.monotonic() - started < 2
        for trickler in tricklers:  # each cut off: an answer, or the connection closed
            trickler.settimeout(15)
            assert trickler.recv(100).startswith((b"HTTP/1.1 4", b"HTTP/1.1 5", b""))
            trickler.close()
    finally:
        server.terminate()
        server.wait(30)
