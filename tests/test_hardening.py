"""What a hostile stranger can send over HTTP (issue 26): each finding is a request that once did
harm, and each test here sends it and checks for a clear answer while the site keeps serving."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlencode

import psutil
import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from analytics.models import Click, Search
from analytics.services import roll_up, stream_key
from catalog.models import ImportRun, Product
from catalog.services import run_import, store_upload
from core import redis_client
from core.cache import CACHE_DATABASE
from devserver.redis_server import EmbeddedRedis, free_port
from search.store.connection import get_client
from shoppers.models import Dismissal, Favourite
from shoppers.services import ACCOUNT_LIMIT
from storefront.tasks import remove_expired_sessions
from tests.support import demo_rows, subprocess_env


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
        # Until both workers answer at once: each loads the app on its own, and one still starting
        # (its model loading, on a busy machine) would be slow for reasons of its own.
        deadline, fast = time.monotonic() + 120, 0
        while fast < 8:
            began = time.monotonic()
            try:
                urllib.request.urlopen(healthz, timeout=30)
                fast = fast + 1 if time.monotonic() - began < 0.5 else 0
            except (urllib.error.URLError, ConnectionError):
                fast = 0
                time.sleep(0.2)
            assert time.monotonic() < deadline, "gunicorn did not start"
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
        # A body that arrives in time reaches the view whole (read before Django, handed to it).
        body = (b"--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
                b"Content-Type: image/jpeg\r\n\r\n" + b"not a photo " * 300_000 + b"\r\n--x--\r\n")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/search/image", data=body, method="POST",
                                         headers={"Content-Type": "multipart/form-data; boundary=x"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 400 and b"cannot be used" in refused.value.read()
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.django_db
def test_hostile_searches_and_clicks_never_stop_the_analytics_roll_up(indexed, staff) -> None:
    """On PostgreSQL a NUL in a query, or a click on a product id past 2^31, made every later
    roll-up fail while the stream grew without end."""
    get_client().delete(stream_key())
    assert Client().get("/search/", {"q": "\x00x"}).status_code == 400
    assert Client().get("/api/v1/search", {"q": "shirt\x00"}).status_code == 400
    big = Product.objects.create(id=3_000_000_000, gender="Men", master_category="Apparel", sub_category="Topwear",
                                 article_type="Tshirts", name="Big id shirt")
    page = Client().get("/search/", {"q": "shirt"})
    search_id = page.context["search_id"]
    assert Client().get(f"/products/{big.id}/", {"sid": search_id, "pos": "1"}).status_code == 200
    # Entries the database cannot take, however they got there (an older release wrote both): a NUL,
    # which PostgreSQL cannot store, and one that lacks its fields.
    get_client().xadd(stream_key(), {"type": "search", "id": "00000000000000ff", "visitor": "v", "query": "a\x00b",
                                     "corrected": "", "filters": "[]", "understood": "{}", "relaxed": 0,
                                     "results": 1, "matched": 1, "latency_ms": 1.0, "at": time.time()})
    get_client().xadd(stream_key(), {"type": "search", "at": time.time()})
    assert Client().get("/search/", {"q": "dress"}).status_code == 200
    assert roll_up() == 5
    assert Click.objects.filter(product_id=str(big.id)).count() == 1
    assert set(Search.objects.values_list("normalised", flat=True)) >= {"shirt", "dress"}
    assert get_client().xlen(stream_key()) == 0
    dashboard = staff.get("/admin/analytics/").content.decode()
    set_aside = "2 search events" if connection.vendor == "postgresql" else "1 search event"
    assert f"{set_aside} could not be stored" in dashboard


@pytest.mark.django_db(transaction=True)
def test_a_nul_in_an_id_cell_is_reported_and_the_run_ends(search_settings, celery_worker, catalog_dir) -> None:
    """On PostgreSQL the report's final save failed on the NUL and left the run reading forever."""
    rows = demo_rows(3)
    folder = catalog_dir(rows, extra_lines=[",".join(["12\x0034", *list(rows[0].values())[1:]])])
    run = store_upload({"styles": SimpleUploadedFile("styles.csv", (folder / "styles.csv").read_bytes())}, None)
    run_import(run.pk)
    run.refresh_from_db()
    assert run.state in (ImportRun.State.INDEXING, ImportRun.State.DONE), run.error
    assert run.created + run.updated + run.unchanged == 3, run.rejected
    assert [(item["line"], item["id"]) for item in run.rejected] == [(5, "12\\x0034")]


@pytest.mark.django_db
def test_a_stranger_guessing_cannot_lock_the_owner_out(settings) -> None:
    settings.FINDER_THROTTLE = True
    get_user_model().objects.create_user("owner", password="the owner's own passphrase 7")
    stranger = Client(REMOTE_ADDR="203.0.113.9")
    codes = [stranger.post("/accounts/login/", {"username": "owner", "password": f"guess {n}"}).status_code
             for n in range(20)]
    assert codes[-1] == 429  # the stranger is stopped at their own address
    owner = Client(REMOTE_ADDR="198.51.100.4")
    assert owner.post("/accounts/login/", {"username": "owner",
                                           "password": "the owner's own passphrase 7"}).status_code == 302


@pytest.mark.django_db
def test_a_stranger_past_the_per_username_ceiling_leaves_the_owner_a_way_in(settings) -> None:
    settings.FINDER_THROTTLE = True
    settings.FINDER_RATES = {**settings.FINDER_RATES, "login_username": "3/d"}
    get_user_model().objects.create_user("owner2", password="the owner's own passphrase 7")
    for n in range(4):
        Client(REMOTE_ADDR=f"203.0.113.{n}").post("/accounts/login/", {"username": "owner2", "password": "guess"})
    refused = Client().post("/accounts/login/", {"username": "owner2", "password": "the owner's own passphrase 7"})
    assert refused.status_code == 429 and "/accounts/password_reset/" in refused.content.decode()
    # No mail server is set here: the reset page says so plainly rather than fail to send.
    reset = Client().get("/accounts/password_reset/")
    assert reset.status_code == 503 and "no mail server" in reset.content.decode()


@pytest.mark.django_db
def test_ipv6_clients_are_counted_by_their_64_network(settings) -> None:
    settings.FINDER_THROTTLE = True
    settings.FINDER_RATES = {**settings.FINDER_RATES, "login": "3/d"}
    codes = [Client(REMOTE_ADDR=f"2001:db8:1:2::{n:x}").post("/accounts/login/", {"username": f"u{n}",
                                                                                  "password": "p"}).status_code
             for n in range(1, 6)]
    assert codes == [200, 200, 200, 429, 429]
    assert Client(REMOTE_ADDR="2001:db8:1:3::1").post("/accounts/login/", {"username": "x",
                                                                           "password": "p"}).status_code == 200


@pytest.mark.django_db
def test_pages_whose_cost_the_caller_chooses_are_rate_limited_per_address(indexed, settings) -> None:
    settings.FINDER_THROTTLE = True
    settings.FINDER_RATES = {**settings.FINDER_RATES, "pages": "3/d"}
    source = indexed["report"].product_ids[3]
    client = Client(REMOTE_ADDR="192.0.2.77")
    codes = [client.get(path).status_code for path in ("/", f"/products/{source}/",
                                                       f"/products/{source}/similar/?by=text&page=1",
                                                       f"/products/{source}/similar/?by=text&page=2")]
    assert codes == [200, 200, 200, 429]
    assert Client(REMOTE_ADDR="192.0.2.78").get("/").status_code == 200


@pytest.mark.django_db
def test_an_account_keeps_at_most_its_ceiling_of_favourites_and_dismissals(indexed, django_user_model) -> None:
    user = django_user_model.objects.create_user("hoarder")
    base = {"gender": "Men", "master_category": "Apparel", "sub_category": "Topwear", "article_type": "Tshirts"}
    extra = Product.objects.bulk_create([Product(id=7_700_000 + n, name=f"Shirt {n}", **base)
                                         for n in range(ACCOUNT_LIMIT + 1)])
    Favourite.objects.bulk_create([Favourite(user=user, product=product) for product in extra[:ACCOUNT_LIMIT]])
    Dismissal.objects.bulk_create([Dismissal(user=user, product=product) for product in extra[:ACCOUNT_LIMIT]])
    client = Client()
    client.force_login(user)
    one_more = extra[ACCOUNT_LIMIT].id
    page = client.post(f"/favourites/{one_more}/", {"on": "1"})
    assert page.status_code == 409 and "as many as an account may" in page.content.decode()
    assert client.put(f"/api/v1/me/favourites/{one_more}").status_code == 409
    assert client.put(f"/api/v1/me/dismissed/{one_more}").status_code == 409
    assert client.put(f"/api/v1/me/favourites/{extra[0].id}").status_code == 204  # one kept already: fine
    assert Favourite.objects.filter(user=user).count() == ACCOUNT_LIMIT
    assert client.get("/for-you/").status_code == 200


@pytest.mark.django_db
def test_every_key_of_the_shared_cache_expires(indexed, settings, django_user_model) -> None:
    """The shared cache lives on the index's Redis, whose policy evicts only keys with a time to
    live (volatile-lru): each distinct URL may mint an entry, but never one that stays."""
    settings.FINDER_THROTTLE = True
    source = indexed["report"].product_ids[5]
    shopper = Client()
    shopper.force_login(django_user_model.objects.create_user("visitor"))
    for path in ("/", f"/products/{source}/", f"/products/{source}/similar/?by=image&gender=Men",
                 "/search/?q=blue+shirt", "/api/v1/search?q=watch", "/api/v1/suggest?q=sh", "/for-you/"):
        assert shopper.get(path).status_code == 200, path
        assert Client().get(path).status_code in (200, 302), path
    Client().post("/accounts/login/", {"username": "visitor", "password": "wrong"})
    cache_redis = redis_client.connect(db=CACHE_DATABASE)
    keys = list(cache_redis.scan_iter(count=1000))
    assert len(keys) > 5
    assert not [key for key in keys if cache_redis.ttl(key) < 0]
    assert get_client().config_get("maxmemory-policy")["maxmemory-policy"] == "volatile-lru"


def test_a_child_dies_with_the_process_that_started_it(tmp_path) -> None:
    """``make run`` stopped hard (SIGKILL) left its workers and Redis running, holding their ports."""
    script = ("import sys, time; from devserver.processes import start; "
              "child = start([sys.executable, '-c', 'import time; time.sleep(120)']); "
              "print(child.pid, flush=True); time.sleep(120)")
    launcher = subprocess.Popen([sys.executable, "-c", script], cwd=django_settings.BASE_DIR,
                                stdout=subprocess.PIPE, start_new_session=True)
    child = int(launcher.stdout.readline())
    os.killpg(launcher.pid, signal.SIGKILL)  # the launcher's group: the child has a session of its own
    launcher.wait(10)
    deadline = time.monotonic() + 10
    while not _gone(child):
        assert time.monotonic() < deadline, "the child outlived its launcher"
        time.sleep(0.1)


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (an orphan's zombie, not yet reaped, has)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.django_db
def test_staff_take_a_planted_popular_search_out_of_autocomplete(indexed, staff) -> None:
    def suggested() -> list[str]:
        return [s["text"] for s in Client().get("/api/v1/suggest", {"q": "navy sh"}).json()["suggestions"]
                if s["kind"] == "query"]

    def planted(addresses: range) -> None:
        for n in addresses:
            assert Client(REMOTE_ADDR=f"198.51.100.{n}").get("/search/", {"q": "navy shirt"}).status_code == 200

    planted(range(1, 4))
    assert "navy shirt" in suggested()
    answer = staff.post("/admin/search-index/", {"suggestion": "Navy  Shirt"}, follow=True)
    assert "is no longer suggested" in answer.content.decode()
    planted(range(4, 8))  # searched again by others: not planted again
    assert "navy shirt" not in suggested()


@pytest.mark.django_db
def test_a_view_that_takes_no_upload_takes_no_large_body(settings) -> None:
    body = {"username": "x", "password": "y" * 1_100_000}
    for path in ("/accounts/login/", "/accounts/signup/", "/favourites/1/"):
        response = Client().post(path, body)
        assert response.status_code == 413 and "The request is too large: at most 1 MB" in response.content.decode()
    assert Client().post("/api/v1/me/favourites", body).json() == {"detail": "The request is too large: at most 1 MB."}


@pytest.mark.django_db
def test_a_new_password_revokes_the_accounts_api_tokens(django_user_model) -> None:
    user = django_user_model.objects.create_user("token-holder", password="the first passphrase 1")
    _, token = AuthToken.objects.create(user)
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/me/favourites").status_code == 200
    client = Client()
    client.force_login(user)
    changed = client.post("/accounts/password_change/", {"old_password": "the first passphrase 1",
                                                         "new_password1": "a second passphrase 2",
                                                         "new_password2": "a second passphrase 2"})
    assert changed.status_code == 302
    assert api.get("/api/v1/me/favourites").status_code == 401


@pytest.mark.django_db
def test_expired_sessions_are_purged(django_user_model) -> None:
    Session.objects.create(session_key="x" * 32, session_data="", expire_date=timezone.now() - timedelta(days=1))
    Session.objects.create(session_key="y" * 32, session_data="", expire_date=timezone.now() + timedelta(days=1))
    remove_expired_sessions()
    assert list(Session.objects.values_list("session_key", flat=True)) == ["y" * 32]


@pytest.mark.django_db
def test_a_private_catalogs_photos_are_behind_its_login(indexed, settings, shopper) -> None:
    photo = "/" + Product.objects.exclude(image="").first().image_url.lstrip("/")
    assert Client().get(photo).status_code == 200
    settings.FINDER_LOGIN_REQUIRED = True
    refused = Client().get(photo)
    assert refused.status_code == 302 and refused["Location"].startswith("/accounts/login/")
    assert shopper.get(photo).status_code == 200


@pytest.mark.slow
def test_after_its_launcher_is_killed_the_next_start_is_clean(tmp_path) -> None:
    """Killed hard, ``make run`` left its Redis running on its folder and port; the next start refused."""
    script = ("import sys, time; from pathlib import Path; from devserver.redis_server import EmbeddedRedis; "
              "server = EmbeddedRedis.start(Path(sys.argv[1])); print(server.process.pid, flush=True); "
              "time.sleep(120)")
    launcher = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=django_settings.BASE_DIR,
                                stdout=subprocess.PIPE, start_new_session=True)
    first = int(launcher.stdout.readline())
    os.killpg(launcher.pid, signal.SIGKILL)
    launcher.wait(10)
    server = EmbeddedRedis.start(tmp_path)  # waits for the first to finish stopping, then starts
    try:
        assert server.process.pid != first and _gone(first)
        assert redis.Redis.from_url(server.url).ping()
    finally:
        server.stop()
