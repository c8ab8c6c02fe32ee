"""In a real browser (Debian's Chromium, headless, driven by Playwright): sign up, log out,
log in, filter the grid, click By image. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, expect, sync_playwright

from catalog.services import import_catalog
from search.lifecycle import ensure_index
from tests.support import DEMO, demo_rows, wait_until_settled

#: Each test here starts processes of its own (workers, servers, Redis, a browser) or runs for minutes.
pytestmark = pytest.mark.slow


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # around it are synchronous all the same.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


@pytest.mark.django_db(transaction=True)
def test_sign_up_log_in_filter_and_find_similar(browser, live_server, search_settings, celery_worker,
                                                 catalog_dir) -> None:
    ensure_index()
    report = import_catalog(catalog_dir(demo_rows(30)))
    wait_until_settled(report.product_ids)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + "/")
    expect(page).to_have_url(live_server.url + "/accounts/login/?next=/")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill("newshopper")
    page.get_by_label("Password:", exact=True).fill("a-long-Passphrase-42")
    page.get_by_label("Password confirmation").fill("a-long-Passphrase-42")
    shot(page, "signup")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    expect(page.locator(".who")).to_have_text("newshopper")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("newshopper")
    page.get_by_label("Password").fill("a-long-Passphrase-42")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    shot(page, "grid")

    page.locator('[data-facet="gender"] input[value="Men"]').check()
    page.get_by_role("button", name="Apply filters").click()
    cards = page.locator(".card")
    expect(cards.first).to_be_visible()
    assert all(text.startswith("Men ·") for text in cards.locator(".meta").all_inner_texts())

    first = cards.first
    clicked = first.get_attribute("data-product-id")
    first.get_by_role("link", name="By image").click()
    expect(page.get_by_role("heading", name="Similar by image")).to_be_visible()
    results = page.locator("#results .card")
    expect(results.first).to_be_visible()
    shot(page, "similar-by-image")
    ids = [card.get_attribute("data-product-id") for card in results.all()]
    assert clicked not in ids
    assert all(text.startswith("Men ·") for text in results.locator(".meta").all_inner_texts())
    scores = [float(s.split()[-1]) for s in results.locator(".score").all_inner_texts()]
    assert len(scores) == len(ids) and scores == sorted(scores, reverse=True)

    # Unfiltered, the 30 products fill more than one page of similar products: the next page
    # holds the next ones.
    page.get_by_role("link", name="Fashion Product Finder").click()
    page.locator(".card").first.get_by_role("link", name="By image").click()
    first_page = [card.get_attribute("data-product-id") for card in page.locator("#results .card").all()]
    assert len(first_page) == 12
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2")).to_be_visible()
    second_page = [card.get_attribute("data-product-id") for card in page.locator("#results .card").all()]
    assert second_page and not set(first_page) & set(second_page)

    # The search box, by keyboard.
    page.get_by_role("searchbox", name="Search products").fill("black watch")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Results for “black watch”")).to_be_visible()
    expect(page.locator("#results .card").first).to_be_visible()
    shot(page, "search-box")

    # A photo: the product in it comes first.
    photo_product = demo_rows(30)[3]["id"]
    page.locator("#photo-input").set_input_files(str(DEMO / "images" / f"{photo_product}.jpg"))
    page.get_by_role("button", name="Find similar").click()
    expect(page.get_by_role("heading", name="Products like your photo")).to_be_visible()
    assert page.locator("#results .card").first.get_attribute("data-product-id") == photo_product

    for width in (375, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"photo-results-{width}")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page scrolls sideways at {width} px"


@pytest.mark.django_db(transaction=True)
def test_staff_upload_a_catalog_in_the_admin_and_watch_it_index(browser, live_server, search_settings,
                                                                 celery_worker, catalog_dir, tmp_path) -> None:
    import zipfile

    from django.contrib.auth import get_user_model

    from catalog.models import Product

    Product.objects.all().delete()
    search_settings.FINDER_UPLOAD_DIR = tmp_path / "uploads"
    ensure_index()
    get_user_model().objects.create_superuser("boss", "boss@example.com", "a-long-Passphrase-42")
    folder = catalog_dir(demo_rows(12), ["99,Men,Apparel,Topwear"])
    archive = tmp_path / "catalog.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in folder.rglob("*"):
            if path.is_file():
                zipped.write(path, path.relative_to(folder))

    page = browser.new_page()
    page.goto(live_server.url + "/admin/catalog/importrun/add/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill("a-long-Passphrase-42")
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Archive").set_input_files(str(archive))
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#state")).to_have_text("Done", timeout=120_000)
    expect(page.locator("#counts")).to_have_text("12 / 12 done, 0 failed")
    expect(page.locator("#rejected")).to_contain_text("expected 10 fields, found 4")
    shot(page, "admin-upload-done")
    assert Product.objects.filter(status=Product.Status.INDEXED).count() == 12
