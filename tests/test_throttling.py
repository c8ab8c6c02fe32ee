"""What a request may cost: throttles on the API and the pages, rate limits on logins and
sign-ups per address and per username, client addresses behind a trusted proxy, query depth,
photo uploads refused by size before they are read, photo embeddings one at a time, and
sessions that end everywhere at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog.models import Product


@pytest.fixture
def throttled(settings):
    """Throttling on. The tests' rates are per day: django-ratelimit counts in fixed windows, and
    a window that ended in the middle of a test would start its count again."""
    settings.FINDER_THROTTLE = True
    return settings


@pytest.mark.django_db
def test_the_search_api_answers_429_past_its_rate(indexed, shopper, throttled) -> None:
    throttled.FINDER_RATES = {**throttled.FINDER_RATES, "search": "3/m"}
    answers = [shopper.get("/api/v1/search", {"q": "shirt"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert "throttled" in answers[-1].json()["detail"].lower() and answers[-1]["Retry-After"]
    # Other endpoints have their own, looser, budget.
    assert shopper.get("/api/v1/status").status_code == 200


@pytest.mark.django_db
def test_the_search_box_and_photo_pages_answer_429_past_their_rates(indexed, shopper, throttled) -> None:
    throttled.FINDER_RATES = {**throttled.FINDER_RATES, "search": "2/d", "photo": "1/d"}
    assert [shopper.get("/search/", {"q": "shirt"}).status_code for _ in range(3)] == [200, 200, 429]
    product = Product.objects.exclude(image="").first()
    photo = Path(product.image.path).read_bytes()
    first = shopper.post("/search/photo/", {"image": SimpleUploadedFile("me.jpg", photo, "image/jpeg")})
    second = shopper.post("/search/photo/", {"image": SimpleUploadedFile("me.jpg", photo, "image/jpeg")})
    assert (first.status_code, second.status_code) == (200, 429)
    assert "Too many requests" in second.content.decode() and "Traceback" not in second.content.decode()


@pytest.mark.django_db
def test_throttling_off_lets_everything_through(indexed, shopper, settings) -> None:
    settings.FINDER_THROTTLE = False
    settings.FINDER_RATES = {**settings.FINDER_RATES, "search": "1/m"}
    assert {shopper.get("/api/v1/search", {"q": "shirt"}).status_code for _ in range(5)} == {200}


@pytest.mark.django_db
def test_one_password_sprayed_over_many_usernames_is_stopped_per_address(throttled) -> None:
    throttled.FINDER_RATES = {**throttled.FINDER_RATES, "login": "5/d"}
    client = Client()
    codes = [client.post("/accounts/login/", {"username": f"user{n}", "password": "Summer2026!"}).status_code
             for n in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    # Another address is not held up.
    assert Client(REMOTE_ADDR="10.9.8.7").post("/accounts/login/", {"username": "x", "password": "y"}
                                               ).status_code == 200


@pytest.mark.django_db
def test_one_username_tried_from_many_addresses_is_stopped_per_username(throttled) -> None:
    throttled.FINDER_RATES = {**throttled.FINDER_RATES, "login_username": "5/d"}
    codes = [Client(REMOTE_ADDR=f"10.0.0.{n}").post("/accounts/login/", {"username": "ceo", "password": f"guess{n}"}
                                                     ).status_code for n in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]


@pytest.mark.django_db
def test_sign_ups_are_limited_per_address(throttled) -> None:
    throttled.FINDER_RATES = {**throttled.FINDER_RATES, "signup": "2/d"}
    codes = [Client().post("/accounts/signup/", {"username": f"new{n}", "password1": "a-long-Passphrase-42",
                                                 "password2": "a-long-Passphrase-42"}).status_code for n in range(3)]
    assert codes == [302, 302, 429]
    assert get_user_model().objects.filter(username__startswith="new").count() == 2


@pytest.mark.slow
@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_client_counts_alone_and_a_forged_header_does_not(throttled) -> None:
    throttled.FINDER_RATES = {**throttled.FINDER_RATES, "login": "2/d"}

    def attempts(forwarded_for: str) -> list[int]:
        client = Client(REMOTE_ADDR="172.28.0.10", HTTP_X_FORWARDED_FOR=forwarded_for)
        return [client.post("/accounts/login/", {"username": f"u{n}{forwarded_for}", "password": "p"}).status_code
                for n in range(3)]

    # No proxy configured: X-Forwarded-For is the client's own word, ignored; one address.
    throttled.FINDER_PROXY_COUNT = 0
    assert attempts("203.0.113.1") == [200, 200, 429]
    assert attempts("203.0.113.2") == [429, 429, 429]
    # One trusted proxy: the address it saw is the client's.
    throttled.FINDER_PROXY_COUNT = 1
    assert attempts("198.51.100.1") == [200, 200, 429]
    assert attempts("198.51.100.2") == [200, 200, 429]


@pytest.mark.django_db
def test_query_depth_is_capped(indexed, shopper, settings) -> None:
    product = Product.objects.first()
    # A search pages to its last match, as deep as the index ranks.
    assert shopper.get("/api/v1/search", {"q": "shirt", "k": 100, "page": 4}).status_code == 200
    deep = shopper.get("/api/v1/search", {"q": "shirt", "k": 100, "page": 10_001})
    assert deep.status_code == 400 and "at most 1,000,000" in str(deep.json())
    assert shopper.get(f"/api/v1/products/{product.id}/similar", {"k": 100, "page": 50}).status_code == 400
    assert shopper.get(f"/api/v1/products/{product.id}/similar", {"k": 100, "page": 3}).status_code == 200
    # Pages clamp the page number instead.
    page = shopper.get(f"/products/{product.id}/similar/", {"page": 1000})
    assert page.status_code == 200 and f"<span>Page {settings.FINDER_MAX_DEPTH // 12}</span>" in page.content.decode()


@pytest.mark.django_db
def test_an_oversized_photo_is_refused_from_its_length_before_it_is_read(indexed, shopper, settings) -> None:
    """The body is not even valid multipart: had anything parsed it, the answer would be 400."""
    settings.FINDER_MAX_PHOTO_BYTES = 100_000
    body = b"x" * 200_000
    for path in ("/search/photo/", "/api/v1/search/image"):
        response = shopper.generic("POST", path, body, content_type="multipart/form-data; boundary=zzz")
        assert response.status_code == 413, (path, response.status_code)
        if path.startswith("/api/"):
            assert response.json() == {"detail": "The upload is too large: at most 0.1 MB."}
        else:
            assert "The upload is too large: at most 0.1 MB." in response.content.decode()


@pytest.mark.django_db
def test_photo_embeddings_wait_their_turn_and_a_long_wait_is_a_clear_503(indexed, shopper, settings) -> None:
    from search.query.similar import _photo_slots

    settings.FINDER_PHOTO_WAIT = 0.2
    product = Product.objects.exclude(image="").first()
    photo = Path(product.image.path).read_bytes()
    slots = _photo_slots()
    for _ in range(settings.FINDER_PHOTO_CONCURRENCY):
        assert slots.acquire(timeout=5)  # every slot busy, as in a burst of uploads
    try:
        busy = shopper.post("/api/v1/search/image", {"image": SimpleUploadedFile("me.jpg", photo, "image/jpeg")})
        assert busy.status_code == 503 and "busy" in busy.json()["detail"]
    finally:
        for _ in range(settings.FINDER_PHOTO_CONCURRENCY):
            slots.release()
    done = shopper.post("/api/v1/search/image", {"image": SimpleUploadedFile("me.jpg", photo, "image/jpeg")})
    assert done.status_code == 200 and done.json()["results"]


#: What logging out does, run in another process (as another gunicorn worker would).
END_SESSION = """
import sys
import django
django.setup()
from django.contrib.sessions.backends.cached_db import SessionStore
SessionStore(session_key=sys.argv[1]).delete()
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_logging_out_in_one_process_ends_the_session_in_every_process(tmp_path) -> None:
    from tests.support import subprocess_env

    user = get_user_model().objects.create_user("roamer", password="a-long-Passphrase-42")
    client = Client()
    assert client.post("/accounts/login/", {"username": "roamer", "password": "a-long-Passphrase-42"}
                       ).status_code == 302
    # The account page needs the session: it is now in this process's view of the cache.
    assert client.get("/accounts/").status_code == 200
    key = client.session.session_key
    subprocess.run([sys.executable, "-c", END_SESSION, key], cwd=settings.BASE_DIR, check=True,
                   env={**subprocess_env(tmp_path, "sessions"), "DJANGO_SETTINGS_MODULE": "finder.settings.test"})
    response = client.get("/accounts/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert user.is_authenticated  # the account itself is untouched
