"""In a real browser (Debian's Chromium, headless, driven by Playwright): an anonymous shopper
searches as they type, misspelled, picks a suggestion by keyboard, sorts, opens a product and
its similar rows; the same without JavaScript; sign up, log out, log in, filter, click By image.
Screenshots (375, 768 and 1440 px wide) are kept in test-artifacts/."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, expect, sync_playwright

from catalog.models import Product
from catalog.services import import_catalog
from search.filters import Filters
from search.lifecycle import ensure_index
from search.query.search_box import search_products
from tests.support import DEMO, demo_rows, indexed_products, wait_until_settled

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


def import_demo(catalog_dir: Callable[..., Path], count: int) -> None:
    """``count`` demo products, imported and indexed by the real worker."""
    ensure_index()
    report = import_catalog(catalog_dir(demo_rows(count)))
    wait_until_settled(report.product_ids)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


@pytest.mark.django_db(transaction=True)
def test_sign_up_log_in_filter_and_find_similar(browser, live_server, search_settings, celery_worker,
                                                 catalog_dir) -> None:
    import_demo(catalog_dir, 30)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill("newshopper")
    page.get_by_label("Password:", exact=True).fill("a-long-Passphrase-42")
    page.get_by_label("Password confirmation").fill("a-long-Passphrase-42")
    shot(page, "signup")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    expect(page.get_by_role("navigation", name="Account").get_by_role("link", name="newshopper")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("newshopper")
    page.get_by_label("Password").fill("a-long-Passphrase-42")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    shot(page, "grid")

    # A filter applies as it is ticked (the button is for pages without script).
    expect(page.get_by_role("button", name="Apply filters")).to_be_hidden()
    page.locator('[data-facet="gender"] input[value="Men"]').check()
    expect(page).to_have_url(re.compile(r"gender=Men"))
    cards = page.locator(".card")
    expect(cards.first).to_be_visible()
    men = {str(pid) for pid in Product.objects.filter(gender="Men").values_list("id", flat=True)}
    assert {card.get_attribute("data-product-id") for card in cards.all()} <= men

    first = cards.first
    clicked = first.get_attribute("data-product-id")
    first.get_by_role("link", name="By image").click()
    expect(page.get_by_role("heading", name="Similar by image")).to_be_visible()
    results = page.locator("#results .card")
    expect(results.first).to_be_visible()
    shot(page, "similar-by-image")
    ids = [card.get_attribute("data-product-id") for card in results.all()]
    assert clicked not in ids and set(ids) <= men
    alike = [int(text.split("%")[0]) for text in results.locator(".match").all_inner_texts()]
    assert len(alike) == len(ids) and alike == sorted(alike, reverse=True)

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
    page.get_by_role("combobox", name="Search products").fill("black watch")
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


def no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways at {page.viewport_size['width']} px"


def shots_at_widths(page: Page, name: str) -> None:
    """Screenshots of the page at a phone's, a tablet's and a desktop's width; none scrolls sideways."""
    for width in (375, 768, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"{name}-{width}")
        no_sideways_scroll(page)


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_shopper_searches_as_they_type_and_finds_similar_items(browser, live_server, search_settings,
                                                                             celery_worker, catalog_dir) -> None:
    import_demo(catalog_dir, 60)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    shots_at_widths(page, "catalog")

    # Typed with a misspelling: suggestions under the box, results as they type, "Did you mean".
    box = page.get_by_role("combobox", name="Search products")
    box.press_sequentially("sunglases", delay=40)
    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(listbox.get_by_role("option").first).to_contain_text("Sunglasses")
    expect(page.get_by_role("heading", name="Results for “sunglases”")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/search/\?q=sunglases"))
    expect(page.locator(".didyoumean")).to_contain_text("Did you mean sunglasses?")
    sunglasses = {str(pid) for pid in Product.objects.filter(article_type="Sunglasses").values_list("id", flat=True)}
    found = {card.get_attribute("data-product-id") for card in page.locator("#results .card").all()}
    assert found and found <= sunglasses
    shots_at_widths(page, "search-misspelled")

    # Picked with the keyboard: the product type's grid.
    page.set_viewport_size({"width": 1440, "height": 900})
    box.focus()
    page.keyboard.press("ArrowDown")
    expect(listbox.get_by_role("option").first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", "suggestion-0")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/\?article_type=Sunglasses"))
    assert {card.get_attribute("data-product-id") for card in page.locator(".grid .card").all()} == sunglasses

    # Sorted by name, as soon as it is chosen.
    page.get_by_label("Sort by").select_option("name")
    expect(page).to_have_url(re.compile(r"sort=name"))
    names = page.locator(".grid .card h2").all_inner_texts()
    assert names == sorted(names, key=str.casefold) and len(names) == len(sunglasses)

    # Back: the search as it was.
    page.go_back()
    page.go_back()
    expect(page.get_by_role("heading", name="Results for “sunglases”")).to_be_visible()

    # The product type the query was read as is ticked in the sidebar; unticked, it goes.
    read = page.locator('[data-facet="article_type"] input:checked')
    expect(read).to_have_count(1)
    read.uncheck()
    expect(page).to_have_url(re.compile(r"decided=article_type"))
    expect(page.locator('[data-facet="article_type"] input:checked')).to_have_count(0)

    # A product, and the products like it.
    page.locator("#results .card h2 a").first.click()
    expect(page.get_by_role("heading", name="Looks like this")).to_be_visible()
    expect(page.get_by_role("heading", name="Similar description")).to_be_visible()
    assert page.locator(".row .card").count() == 12
    expect(page.get_by_text("Search status")).to_have_count(0)
    shots_at_widths(page, "product")

    # The heart keeps it, in this guest's session: it is on the favourites page.
    page.set_viewport_size({"width": 1440, "height": 900})
    name = page.get_by_role("heading", level=1).inner_text()
    page.locator(".detail .heart-button").click()
    expect(page.locator(".detail .heart-button")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("link", name="Favourites").click()
    expect(page.locator(".grid .card h2")).to_have_text([name])
    shot(page, "favourites")


@pytest.mark.django_db(transaction=True)
def test_the_storefront_works_without_javascript(browser, live_server, search_settings, celery_worker,
                                                 catalog_dir) -> None:
    import_demo(catalog_dir, 30)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(live_server.url + "/")
    page.get_by_role("combobox", name="Search products").fill("watch")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="Results for “watch”")).to_be_visible()
    gender = page.locator('[data-facet="gender"] input').first
    chosen = gender.get_attribute("value")
    gender.check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(rf"q=watch.*gender={chosen}"))
    page.get_by_label("Sort by").select_option("name")
    page.get_by_role("button", name="Sort", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=name"))
    names = page.locator("#results .card h2").all_inner_texts()
    assert names and names == sorted(names, key=str.casefold)
    no_sideways_scroll(page)
    shot(page, "no-javascript-375")
    page.locator("#results .card h2 a").first.click()
    expect(page.get_by_role("heading", name="Similar description")).to_be_visible()
    context.close()


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
    assert indexed_products().count() == 12


@pytest.mark.django_db(transaction=True)
def test_hearts_for_you_the_dashboard_and_the_map(browser, live_server, search_settings, celery_worker,
                                                  catalog_dir) -> None:
    """A shopper hearts three products of a kind without a page load, finds more of that kind
    For you and sends one away; the owner sees the search on the dashboard and the catalog
    on its map."""
    from collections import Counter

    from django.contrib.auth import get_user_model

    from analytics.services import roll_up
    from search.mapping import refresh_maps

    import_demo(catalog_dir, 30)
    get_user_model().objects.create_superuser("owner", "owner@example.com", "a-long-Passphrase-42")
    kind, _ = Counter(Product.objects.values_list("article_type", flat=True)).most_common(1)[0]
    liked = sorted(Product.objects.filter(article_type=kind).values_list("id", flat=True), key=int)[:3]

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("a-long-Passphrase-42")
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + f"/search/?q={kind}")
    loads = []
    page.on("load", lambda _: loads.append(1))
    for product_id in liked:
        heart = page.locator(f'.card[data-product-id="{product_id}"] .heart-button')
        if not heart.count():  # not on the first page of results: from the grid instead
            continue
        heart.click()
        expect(heart).to_have_attribute("aria-pressed", "true")
    for product_id in liked:  # any not found there: by the product page
        page.goto(live_server.url + f"/products/{product_id}/")
        heart = page.locator(".detail .heart-button")
        if heart.get_attribute("aria-pressed") != "true":
            heart.click()
            expect(heart).to_have_attribute("aria-pressed", "true")
    shot(page, "heart")

    page.get_by_role("link", name="For you").click()
    expect(page.get_by_role("heading", name="For you")).to_be_visible()
    expect(page.get_by_text("Picked from your favourites")).to_be_visible()
    cards = page.locator("#results .card")
    picked = [card.get_attribute("data-product-id") for card in cards.all()]
    assert picked and not set(picked) & set(liked)
    kinds = dict(Product.objects.filter(id__in=picked).values_list("id", "article_type"))
    assert kinds[picked[0]] == kind  # more of what was liked, first
    gone = picked[1]
    # Cards can be visible before the page's deferred script has run (the button would then post
    # the form as a plain page would) and before its own load event: both happen first.
    page.wait_for_load_state("load")
    before = len(loads)
    cards.nth(1).get_by_role("button", name="Not for me").click()
    expect(page.locator(f'#results .card[data-product-id="{gone}"]')).to_have_count(0)
    assert len(loads) == before  # in place, no page load
    shot(page, "for-you")
    page.reload()
    assert gone not in [c.get_attribute("data-product-id") for c in page.locator("#results .card").all()]

    roll_up()
    page.goto(live_server.url + "/admin/analytics/")
    expect(page.locator("#totals")).to_contain_text("1 search")
    expect(page.locator("#top")).to_contain_text(kind)
    expect(page.locator("svg.chart rect.bar").first).to_be_attached()
    shot(page, "analytics-dashboard")

    refresh_maps()
    page.goto(live_server.url + "/admin/catalog-map/")
    canvas = page.locator("#catalog-map")
    expect(canvas).to_have_attribute("data-points", str(Product.objects.exclude(image="").count()))
    expect(page.locator("#map-key li").first).to_be_visible()
    page.select_option("#map-kind", "text")
    expect(canvas).to_have_attribute("data-points", str(Product.objects.count()))
    page.select_option("#map-colour", "gender")
    expect(page.locator("#map-key")).to_contain_text("Men")
    # Point at the first product's dot: its name shows.
    point = page.evaluate("""() => fetch(document.querySelector('#map-kind').selectedOptions[0].dataset.url)
        .then(r => r.json()).then(d => ({id: d.ids[0], x: d.x[0], y: d.y[0]}))""")
    box = canvas.bounding_box()
    margin = 12
    page.mouse.move(box["x"] + margin + point["x"] * (box["width"] - 2 * margin),
                    box["y"] + margin + (1 - point["y"]) * (box["height"] - 2 * margin))
    expect(page.locator("#map-tip")).to_contain_text(Product.objects.get(id=point["id"]).name)
    shot(page, "catalog-map")


AXE = Path(settings.BASE_DIR) / "tests" / "vendor" / "axe-core" / "axe.min.js"


def serious_accessibility_problems(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is (each rule, and where)."""
    page.evaluate(AXE.read_text())
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
            for v in found["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.django_db(transaction=True)
def test_a_rule_made_in_the_admin_the_phone_drawer_and_accessibility(browser, live_server, search_settings,
                                                                     celery_worker, catalog_dir) -> None:
    from django.contrib.auth import get_user_model

    import_demo(catalog_dir, 60)
    get_user_model().objects.create_superuser("boss", "boss@example.com", "a-long-Passphrase-42")
    query = "casual shoes"
    plain = search_products(query, Filters(), k=12)
    pinned = Product.objects.exclude(pk__in=[r["id"] for r in plain.results]).order_by("id").first()

    # Staff write a rule in the admin; its page previews the results without it and with it.
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(live_server.url + "/admin/search/rule/add/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill("a-long-Passphrase-42")
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Query").fill(query)
    page.get_by_label("Pin").fill(pinned.id)
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator("#preview-after li").first).to_contain_text(pinned.id)
    expect(page.locator("#preview-after li").first).to_contain_text("pinned by a rule")
    expect(page.locator("#preview-before")).not_to_contain_text(pinned.id)
    shot(page, "admin-rule-preview")

    # The shopper's search page shows it first; the count is said aloud as it changes.
    shopper = browser.new_context(bypass_csp=True, viewport={"width": 1440, "height": 900}).new_page()
    shopper.goto(live_server.url + "/")
    shopper.get_by_role("combobox", name="Search products").press_sequentially(query, delay=30)
    expect(shopper.get_by_role("heading", name=f"Results for “{query}”")).to_be_visible()
    expect(shopper.locator("#results .card").first).to_have_attribute("data-product-id", pinned.id)
    expect(shopper.locator("#announcer")).to_have_text(re.compile(rf"\d+ results? for “{query}”"))
    expect(shopper.locator("#results .card h2 mark").first).to_be_visible()

    # On a phone the filters wait in a drawer: a "Filters" button opens it, Escape closes it.
    shopper.keyboard.press("Escape")  # the suggestions close
    shopper.set_viewport_size({"width": 375, "height": 800})
    shopper.evaluate("window.scrollTo(0, 0)")
    drawer, opener = shopper.locator("#filters-drawer"), shopper.get_by_role("button", name="Filters")
    expect(drawer).to_be_hidden()
    opener.click()
    expect(drawer).to_be_visible()
    expect(opener).to_have_attribute("aria-expanded", "true")
    expect(shopper.get_by_role("button", name="Show results")).to_be_focused()
    shopper.wait_for_timeout(300)  # the drawer slides in
    shot(shopper, "search-filter-drawer-375")
    shopper.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(opener).to_be_focused()
    shots_at_widths(shopper, "search-with-rule")

    # axe-core finds no serious or critical problem on the catalog, a product, a search and a
    # similar page, at a phone's width and a desktop's.
    product = Product.objects.filter(article_type="Tshirts").order_by("id").first()
    for path in ("/", f"/products/{product.id}/", "/search/?q=blue+tshirt", f"/products/{product.id}/similar/?by=text"):
        for width in (375, 1440):
            shopper.set_viewport_size({"width": width, "height": 900})
            shopper.goto(live_server.url + path)
            assert serious_accessibility_problems(shopper) == [], (path, width)
