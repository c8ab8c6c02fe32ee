"""Security: logins everywhere, staff-only tools, CSRF, passwords, login throttling, production
settings, escaped product names. (Uploads are limited and checked by content in test_upload
and test_search_box; hostile query parameters are fuzzed in test_hybrid and test_search_box.)"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver

from catalog.models import Product
from search.indexing import index_texts

#: Pages anyone may see, even of a private catalog: logging in, signing up, the password reset
#: flow, the health check. With FINDER_LOGIN_REQUIRED, everything else of the finder needs a login;
#: the admin has its own (staff) login, /metrics its scraper's token (tests/test_operations.py).
PUBLIC = re.compile(r"^(accounts/|admin/|media/|static/|healthz|metrics)")


def _finder_paths() -> list[tuple[str, str]]:
    """Every URL pattern of the finder (pages and API), with sample arguments, and its name."""
    found = []

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and not PUBLIC.match(route.lstrip("^")):
                path = re.sub(r"<(?:int|product):\w+>", "1", route).lstrip("^").rstrip("$")
                found.append(("/" + path, pattern.name or ""))

    walk(get_resolver().url_patterns, "")
    return found


def test_the_route_list_covers_pages_and_api() -> None:
    paths = {path for path, _ in _finder_paths()}
    assert {"/", "/products/1/", "/products/1/similar/", "/search/", "/search/photo/", "/api/v1/search",
            "/api/v1/products/1/similar", "/api/v1/status"} <= paths


#: What a signed-out shopper of the public storefront may not have: the index's state, search
#: analytics, and what an account keeps (a guest's favourites live in their session, on the
#: pages); the account's pages send them to log in.
PRIVATE = {"/api/v1/status", "/api/v1/analytics", "/api/v1/me/favourites", "/api/v1/me/favourites/1",
           "/api/v1/me/dismissed/1", "/api/v1/me/recommendations", "/api/v1/rules", "/api/v1/rules/1"}
ACCOUNT_PAGES = {"/for-you/", "/not-for-me/1/"}


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "name"), _finder_paths())
def test_a_private_catalog_needs_a_login_for_every_page_and_endpoint(path: str, name: str, settings) -> None:
    settings.FINDER_LOGIN_REQUIRED = True
    client = Client()
    for response in (client.get(path), client.post(path)):
        if path.startswith("/api/"):
            assert response.status_code == 401, (path, response.status_code)
        else:
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), path


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "name"), _finder_paths())
def test_the_public_storefront_asks_no_login_but_for_what_is_private(path: str, name: str) -> None:
    response = Client().get(path)
    if path in PRIVATE:
        assert response.status_code == 401
    elif path in ACCOUNT_PAGES:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), path
    else:
        # Answered (well or with a clear error about the request), never sent to log in.
        assert response.status_code not in (301, 302, 401, 403), (path, response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/", "/admin/search-index/", "/admin/catalog/importrun/add/",
                                  "/admin/catalog/product/", "/admin/catalog/importrun/1/progress/",
                                  "/admin/analytics/", "/admin/analytics/export.csv", "/admin/catalog-map/",
                                  "/admin/catalog-map/text.json"])
def test_admin_tools_are_for_staff_only(path: str) -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_user("shopper", password="a long shopper password 7"))
    response = client.get(path)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_every_form_carries_a_csrf_token() -> None:
    templates = Path(settings.BASE_DIR) / "templates"
    for template in templates.rglob("*.html"):
        text = template.read_text()
        for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", text, flags=re.S | re.I):
            assert "{% csrf_token %}" in form, template


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/accounts/logout/", "/search/photo/",
                                  "/admin/catalog/importrun/add/"])
def test_a_post_without_its_csrf_token_is_refused(path: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.create_superuser("boss", password="a long boss password 7"))
    assert client.post(path, {"username": "x", "password": "y"}).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(("password", "message"), [("password", "too common"), ("12345678901", "entirely numeric"),
                                                   ("short1", "too short"), ("newshopper1", "too similar")])
def test_sign_up_refuses_weak_passwords(password: str, message: str) -> None:
    response = Client().post("/accounts/signup/", {"username": "newshopper1", "password1": password,
                                                   "password2": password})
    assert response.status_code == 200 and message in response.content.decode()
    assert not get_user_model().objects.filter(username="newshopper1").exists()


@pytest.mark.django_db
def test_sign_up_with_a_good_password_logs_the_shopper_in() -> None:
    client = Client()
    response = client.post("/accounts/signup/", {"username": "newshopper2", "password1": "a-long-Passphrase-42",
                                                 "password2": "a-long-Passphrase-42"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_repeated_failed_logins_lock_the_account_out() -> None:
    get_user_model().objects.create_user("victim", password="the right password 42")
    client = Client()
    for attempt in range(1, settings.AXES_FAILURE_LIMIT + 1):
        response = client.post("/accounts/login/", {"username": "victim", "password": "a guess"})
        # The form again, with its error, until the last failure allowed locks the account out.
        assert response.status_code == (429 if attempt == settings.AXES_FAILURE_LIMIT else 200)
    locked = client.post("/accounts/login/", {"username": "victim", "password": "the right password 42"})
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another user from the same address is not locked out.
    get_user_model().objects.create_user("bystander", password="another right password 42")
    assert Client().post("/accounts/login/", {"username": "bystander",
                                              "password": "another right password 42"}).status_code == 302


@pytest.mark.slow
def test_production_settings_pass_the_deployment_checks(tmp_path: Path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "finder.settings.production",
           "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "shop.example", "FINDER_VAR_DIR": str(tmp_path)}
    env.pop("FINDER_HTTPS", None)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    # Without a secret, production refuses to start.
    del env["SECRET_KEY"]
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


SCRIPT_NAME = '<script>alert("x")</script><img src=x onerror=alert(1)> Shirt'


@pytest.mark.django_db
def test_product_names_holding_html_render_escaped(shopper, indexed) -> None:
    product = Product.objects.exclude(image="").first()
    original = product.name
    # Renamed as an edit would be: in the database and in the index (whose every write moves the
    # epoch, so no page kept before the rename is shown after it).
    Product.objects.filter(id=product.id).update(name=SCRIPT_NAME)
    index_texts([product.id])
    try:
        for path in ("/", f"/products/{product.id}/", f"/products/{product.id}/similar/?by=text",
                     f"/admin/catalog/product/{product.id}/change/"):
            client = shopper
            if path.startswith("/admin/"):
                client = Client()
                client.force_login(get_user_model().objects.create_superuser("escaper", password="x long pw 77"))
            body = client.get(path).content.decode()
            assert "&lt;script&gt;alert(" in body, path
            assert "<script>alert(" not in body and "<img src=x" not in body, path
    finally:
        Product.objects.filter(id=product.id).update(name=original)
        index_texts([product.id])


@pytest.mark.django_db
def test_import_runs_need_their_model_permissions(staff) -> None:
    """A staff account without the catalog's permissions gets 403 from every import-run page."""
    from django.contrib.auth.models import Permission

    from catalog.models import ImportRun

    run = ImportRun.objects.create(source="styles.csv", folder="/nowhere")
    clerk = get_user_model().objects.create_user("clerk", password="a long clerk password 7", is_staff=True)
    client = Client()
    client.force_login(clerk)
    pages = ("/admin/catalog/importrun/add/", f"/admin/catalog/importrun/{run.pk}/change/",
             f"/admin/catalog/importrun/{run.pk}/progress/")
    assert [client.get(page).status_code for page in pages] == [403, 403, 403]
    clerk.user_permissions.add(Permission.objects.get(codename="view_importrun"))
    assert [client.get(page).status_code for page in pages] == [403, 200, 200]
    clerk.user_permissions.add(Permission.objects.get(codename="add_importrun"))
    assert client.get(pages[0]).status_code == 200


@pytest.mark.slow
def test_the_production_settings_are_the_default(tmp_path: Path) -> None:
    """A process that names no settings module gets production's: DEBUG off, HTTPS, no photos served."""
    env = {**os.environ, "SECRET_KEY": secrets.token_urlsafe(50), "FINDER_VAR_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    shown = subprocess.run([sys.executable, "manage.py", "shell", "-c", "from django.conf import settings; "
                            "print(settings.DEBUG, settings.SECURE_SSL_REDIRECT, settings.FINDER_SERVE_MEDIA)"],
                           cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.splitlines()[-1].split() == ["False", "True", "False"]


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_and_refuse_framing(shopper) -> None:
    for path in ("/", "/accounts/login/", "/admin/login/"):
        response = (shopper if path == "/" else Client()).get(path)
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"
    # The finder's own templates need nothing the policy forbids: no inline script or style.
    for template in (Path(settings.BASE_DIR) / "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\sstyle=\"|\son\w+=\"", text), template


@pytest.mark.django_db
def test_api_tokens_are_stored_hashed_expire_and_are_not_shown_in_the_admin(staff) -> None:
    from datetime import timedelta
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone
    from knox.models import AuthToken

    from storefront.tasks import remove_expired_api_tokens

    user = get_user_model().objects.create_user("api-user", password="a long api password 7")
    out = StringIO()
    call_command("api_token", "api-user", stdout=out)
    token = out.getvalue().split()[-1]
    stored = AuthToken.objects.get(user=user)
    assert token not in {stored.digest, stored.token_key} and len(token) > len(stored.token_key)
    assert stored.expiry > timezone.now() + timedelta(days=settings.REST_KNOX["TOKEN_TTL"].days - 1)
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/status").status_code == 200
    listing = staff.get("/admin/knox/authtoken/").content.decode()
    assert stored.digest[:20] in listing and token not in listing
    # Authenticating reads the token presented, not the account's others.
    other, _ = AuthToken.objects.create(user=user)
    AuthToken.objects.filter(pk=other.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/status").status_code == 200
    assert sum("knox_authtoken" in query["sql"] for query in queries) == 1, queries.captured_queries
    AuthToken.objects.filter(pk=stored.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/status").status_code == 401
    assert not AuthToken.objects.filter(pk=stored.pk).exists()  # an expired token presented goes at once
    assert remove_expired_api_tokens() == 1 and not AuthToken.objects.exists()  # the hourly sweep: the rest


@pytest.mark.django_db
def test_the_health_check_answers_without_a_login(settings) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "problems": []}
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # Redis down
    down = Client().get("/healthz")
    assert down.status_code == 503 and down.json()["problems"][0].startswith("redis: ")
    settings.REDIS_URL = ""  # none named at all
    unnamed = Client().get("/healthz")
    assert unnamed.status_code == 503 and unnamed.json()["problems"] == ["redis: none is named (REDIS_URL or "
                                                                         "REDIS_SENTINELS)"]
