"""A shop's own catalog: its Merchant Center feed (both forms), its photos on its own web server,
prices, stock, links and descriptions, read back, filtered and sorted; and the write API."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client

from analytics.models import Visit
from analytics.selectors import Period, totals
from analytics.services import roll_up, stream_key
from catalog.feeds import gender, price, product_type, read_feed
from catalog.fetching import FetchFailed, fetch
from catalog.models import Product
from catalog.rows import CatalogError, Rejected, Row
from catalog.services import import_catalog
from search.lifecycle import ensure_index
from search.models import IndexEntry
from search.store.connection import get_client
from tests.support import DEMO, demo_rows, wait_for_import, wait_until_settled

HEADER = ("id\tTitle\tdescription\tlink\tg:image_link\tprice\tsale_price\tavailability\tbrand\tgender\tage_group\t"
          "color\tproduct_type\tgoogle_product_category\titem_group_id")


@pytest.fixture
def photos(tmp_path: Path) -> Iterator[str]:
    """The shop's own web server, with a photo for some products (on 127.0.0.1: the tests allow it)."""
    folder = tmp_path / "shop-photos"
    folder.mkdir()
    for row, name in zip(demo_rows(4), ("sku-1", "sku-2", "sku-3", "x1"), strict=True):
        shutil.copy(DEMO / "images" / f"{row['id']}.jpg", folder / f"{name}.jpg")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def shop(search_settings):
    search_settings.FINDER_CURRENCY = "INR"
    search_settings.FINDER_FETCH_ALLOW_PRIVATE = True
    search_settings.FINDER_EPOCH_SECONDS = 0.5
    return search_settings


def tsv_feed(server: str) -> str:
    rows = [
        ["SKU-1", "Linen Summer Dress", "Breezy linen with a hidden zanzibar pocket.\nHand wash.",
         "https://shop.example/p/sku-1", f"{server}/sku-1.jpg", "1,299.00 INR", "999 INR", "in stock", "Aurora",
         "female", "adult", "Red", "Apparel > Dresses > Maxi Dresses", "Apparel & Accessories > Clothing > Dresses",
         "DRESS-1"],
        ["SKU-2", "Linen Summer Dress", "The same dress in blue.", "https://shop.example/p/sku-2",
         f"{server}/sku-2.jpg", "1299.00 INR", "", "in_stock", "Aurora", "female", "adult", "Blue",
         "Apparel > Dresses > Maxi Dresses", "", "DRESS-1"],
        ["SKU-3", "Boys Graphic Tee", "", "http://shop.example/p/sku-3", f"{server}/sku-3.jpg", "349 INR", "",
         "out of stock", "Kiddo", "male", "kids", "Green", "Apparel > Topwear > Tshirts", "212", ""],
        ["SKU-4", "Imported Scarf", "", "https://shop.example/p/sku-4", "", "12.99 USD", "", "in stock", "Far",
         "unisex", "adult", "Grey", "Accessories > Scarves", "", ""],
        ["SKU-5", "Leather Belt", "", "https://shop.example/p/sku-5", f"{server}/gone.jpg", "650 INR", "",
         "Pre-order", "Strap", "male", "adult", "Brown", "Accessories > Belts", "", ""],
        ["SKU-6", "Cotton Socks", "", "https://shop.example/p/sku-6", "", "99 INR", "", "maybe", "Foot", "unisex",
         "adult", "White", "Accessories > Socks", "", ""],
    ]
    return HEADER + "\n" + "\n".join("\t".join(cell.replace("\n", " ") for cell in row) for row in rows) + "\n"


def xml_feed(server: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">
<channel><title>Shop</title>
<item><g:id>X1</g:id><title>Wool Overcoat</title><link>https://shop.example/p/x1</link>
  <description>A long coat for &lt;cold&gt; mornings.</description>
  <g:image_link>{server}/x1.jpg</g:image_link><g:price>4,999.00 INR</g:price><g:sale_price>3999.50 INR</g:sale_price>
  <g:availability>backorder</g:availability><g:brand>North</g:brand><g:gender>male</g:gender>
  <g:color>Navy Blue</g:color><g:product_type>Apparel &gt; Outerwear &gt; Coats</g:product_type></item>
<item><g:id>X2</g:id><g:title>Silk Tie</g:title><g:link>https://shop.example/p/x2</g:link>
  <g:price>799 INR</g:price><g:availability>in stock</g:availability><g:gender>male</g:gender></item>
<item><g:id>X3</g:id><title>Bad Link Bag</title><g:link>javascript:alert(1)</g:link><g:price>10 INR</g:price></item>
</channel></rss>
"""


def test_a_feeds_spellings_are_read_as_the_finders_attributes(shop) -> None:
    assert price("1,299.00 INR") == "1299.00" and price("999 INR") == "999" and price("12,99 INR") == "12.99"
    assert price("INR 45.50") == "45.50" and price("  7 inr ") == "7"
    assert price("") is None
    with pytest.raises(ValueError, match="in USD; this shop sells in INR"):
        price("12.99 USD")
    assert [gender(*pair) for pair in (("male", "adult"), ("female", ""), ("male", "kids"), ("female", "toddler"),
                                         ("unisex", "adult"), ("", "adult"), ("Women", "Adult"))] == [
        "Men", "Women", "Boys", "Girls", "Unisex", "", "Women"]
    assert product_type("Apparel > Topwear > Tshirts") == {"master_category": "Apparel", "sub_category": "Topwear",
                                                           "article_type": "Tshirts"}
    assert product_type("Accessories > Belts") == {"master_category": "Accessories", "sub_category": "",
                                                   "article_type": "Belts"}


def test_a_tab_separated_feed_reads_each_product_or_says_why_not(shop, tmp_path) -> None:
    path = tmp_path / "feed.txt"
    path.write_text(tsv_feed("http://photos.example"))
    with path.open("rb") as handle:
        items = list(read_feed(handle))
    rows = {item.product_id: item for item in items if isinstance(item, Row)}
    rejected = {item.product_id: item for item in items if isinstance(item, Rejected)}
    assert set(rows) == {"SKU-1", "SKU-2", "SKU-3", "SKU-5"} and set(rejected) == {"SKU-4", "SKU-6"}
    assert "in USD" in rejected["SKU-4"].reason and rejected["SKU-4"].line == 5
    assert "availability must be one of" in rejected["SKU-6"].reason
    first = rows["SKU-1"].values
    assert first["price"] == Decimal("1299.00") and first["sale_price"] == Decimal("999.00")
    assert first["availability"] == "in_stock" and first["gender"] == "Women" and first["group"] == "DRESS-1"
    assert first["article_type"] == "Maxi Dresses" and first["master_category"] == "Apparel"
    assert rows["SKU-3"].values["availability"] == "out_of_stock" and rows["SKU-3"].values["gender"] == "Boys"
    assert rows["SKU-5"].values["availability"] == "preorder"


def test_an_xml_feed_takes_rss_and_g_elements_and_refuses_entities(shop, tmp_path) -> None:
    path = tmp_path / "feed.xml"
    path.write_text(xml_feed("http://photos.example"))
    with path.open("rb") as handle:
        items = list(read_feed(handle))
    coat, tie, bag = items
    assert isinstance(coat, Row) and coat.values["name"] == "Wool Overcoat"
    assert coat.values["description"] == "A long coat for <cold> mornings."
    assert coat.values["sale_price"] == Decimal("3999.50") and coat.values["availability"] == "backorder"
    assert isinstance(tie, Row) and tie.values["name"] == "Silk Tie" and tie.values["link"] == "https://shop.example/p/x2"
    assert isinstance(bag, Rejected) and bag.line == 3 and "link must be a web address" in bag.reason
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
                    '<rss><channel><item><g:id xmlns:g="http://base.google.com/ns/1.0">&b;</g:id></item></channel></rss>')
    with bomb.open("rb") as handle, pytest.raises(CatalogError, match="cannot be read"):
        list(read_feed(handle))


def test_a_link_to_a_private_address_is_refused_unless_allowed(settings) -> None:
    settings.FINDER_FETCH_ALLOW_PRIVATE = False
    for link in ("http://127.0.0.1:9/x.jpg", "http://[::1]/x.jpg", "http://10.0.0.8/x.jpg", "http://169.254.169.254/",
                 "http://[::ffff:127.0.0.1]/x.jpg", "http://localhost/x.jpg", "file:///etc/passwd"):
        with pytest.raises(FetchFailed, match=r"private address|not an http"):
            fetch(link)


@pytest.mark.django_db(transaction=True)
def test_a_feed_is_imported_with_its_photos_prices_stock_links_and_words(shop, celery_worker, photos,
                                                                         tmp_path) -> None:
    ensure_index()
    tsv, xml = tmp_path / "shop.tsv", tmp_path / "shop.xml"
    tsv.write_text(tsv_feed(photos))
    xml.write_text(xml_feed(photos))
    out = StringIO()
    call_command("import_catalog", str(tsv), "--wait", "--timeout", "120", stdout=out)
    assert "created 4, updated 0, unchanged 0" in out.getvalue() and "rejected rows: 2" in out.getvalue()
    assert "id SKU-5: image link: the image link answered HTTP 404" in out.getvalue()
    report = import_catalog(xml)
    wait_until_settled(report.product_ids, timeout=120)
    client = Client()
    dress = client.get("/api/v1/products/SKU-1").json()
    assert (dress["price"], dress["sale_price"], dress["currency"]) == (1299.0, 999.0, "INR")
    assert dress["availability"] == "in_stock" and dress["link"] == "https://shop.example/p/sku-1"
    assert dress["description"].startswith("Breezy linen") and dress["image_url"].startswith("/media/products/SKU-1-")
    belt = Product.objects.get(pk="SKU-5")
    assert not belt.image and "HTTP 404" in belt.image_problem
    # Searchable by its words (a word only its description has finds it first), and by its photo.
    found = client.get("/api/v1/search", {"q": "zanzibar"}).json()["results"]
    assert found[0]["id"] == "SKU-1"
    assert client.get("/api/v1/search", {"q": "leather belt"}).json()["results"][0]["id"] == "SKU-5"
    # The price a shopper pays: filtered and sorted on it.
    listed = client.get("/api/v1/products", {"price_min": "500", "price_max": "1000", "sort": "price_asc"}).json()
    assert [p["id"] for p in listed["results"]] == ["SKU-5", "X2", "SKU-1"]  # 650, 799, 999 (on sale)
    paid = [p["sale_price"] or p["price"] for p in client.get("/api/v1/products", {"sort": "price_desc"}).json()[
        "results"]]
    priced = paid[:paid.index(None)] if None in paid else paid
    assert len(priced) == 6 and priced == sorted(priced, reverse=True) and set(paid[len(priced):]) <= {None}
    stock = client.get("/api/v1/products", {"availability": ["out_of_stock", "backorder"]}).json()["results"]
    assert {p["id"] for p in stock} == {"SKU-3", "X1"}
    searched = client.get("/api/v1/search", {"q": "linen summer", "sort": "price_desc", "k": 20}).json()["results"]
    paid = [p["sale_price"] or p["price"] for p in searched if p["price"] is not None]
    assert len(paid) >= 2 and paid == sorted(paid, reverse=True)
    in_stock = client.get("/api/v1/search", {"q": "dress", "availability": "in_stock"}).json()["results"]
    assert in_stock and {p["availability"] for p in in_stock} == {"in_stock"}
    similar = client.get("/api/v1/products/SKU-3/similar", {"by": "text", "price_max": "1000"}).json()["results"]
    assert similar and all((p["sale_price"] or p["price"]) <= 1000 for p in similar)
    # Variants of one product: one of them in a similar row, never the product's own.
    row = client.get("/api/v1/products/SKU-3/similar", {"by": "text", "k": 10}).json()["results"]
    assert sum(p["group"] == "DRESS-1" for p in row) == 1
    assert "DRESS-1" not in {p["group"] for p in client.get("/api/v1/products/SKU-1/similar").json()["results"]}
    # The product page: the sale price beside the struck-through price, and the shop's own link.
    page = client.get("/products/SKU-1/").content.decode()
    assert "999.00 INR" in page and "<s" in page and "1,299.00 INR" in page
    assert 'href="https://shop.example/p/sku-1"' in page
    # Following it is counted, as a visit from the search the page was opened from.
    get_client().delete(stream_key())
    search_id = client.get("/search/", {"q": "linen dress"}).context["search_id"]
    page = client.get(f"/products/SKU-1/?sid={search_id}&pos=1").content.decode()
    assert f'ping="/products/SKU-1/visit/?sid={search_id}"' in page
    assert client.post(f"/products/SKU-1/visit/?sid={search_id}").status_code == 204
    assert client.post("/products/NOPE/visit/").status_code == 204
    roll_up()
    assert [(v.product_id, v.search.search_id) for v in Visit.objects.all()] == [("SKU-1", search_id)]
    assert totals(Period.last_days(1))["visit_rate"] == 1.0, totals(Period.last_days(1))


@pytest.mark.django_db(transaction=True)
def test_sync_removes_what_the_feed_no_longer_lists(shop, celery_worker, photos, tmp_path) -> None:
    ensure_index()
    feed = tmp_path / "shop.tsv"
    feed.write_text(tsv_feed(photos))
    wait_until_settled(import_catalog(feed).product_ids, timeout=120)
    lines = feed.read_text().splitlines()
    feed.write_text("\n".join(line for line in lines if not line.startswith("SKU-3\t")) + "\n")
    report = import_catalog(feed, sync=True)
    assert report.removed == 1 and not Product.objects.filter(pk="SKU-3").exists()
    assert Product.objects.filter(pk="SKU-1").exists()  # listed: kept (and its rejected neighbours do not count)


@pytest.fixture
def writer(db) -> Client:
    user = get_user_model().objects.create_user("feed-bot")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["change_product", "delete_product"]))
    out = StringIO()
    call_command("api_token", "feed-bot", stdout=out)
    return Client(HTTP_AUTHORIZATION=f"Token {out.getvalue().split()[-1]}")


def eventually(check: Callable[[], bool], failure: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, failure
        time.sleep(0.2)


def _json(client: Client, method: str, path: str, body: object) -> object:
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


@pytest.mark.django_db
def test_writes_need_a_token_and_the_permission(shop) -> None:
    body = {"name": "Plain Tee"}
    assert _json(Client(), "put", "/api/v1/products/T-1", body).status_code == 401
    shopper = get_user_model().objects.create_user("shopper")
    out = StringIO()
    call_command("api_token", "shopper", stdout=out)
    client = Client(HTTP_AUTHORIZATION=f"Token {out.getvalue().split()[-1]}")
    assert _json(client, "put", "/api/v1/products/T-1", body).status_code == 403
    assert client.delete("/api/v1/products/T-1").status_code == 403
    shopper.user_permissions.add(Permission.objects.get(codename="change_product"))
    assert _json(client, "put", "/api/v1/products/T-1", body).status_code == 201
    assert client.delete("/api/v1/products/T-1").status_code == 403  # deleting takes its own permission


@pytest.mark.django_db
def test_bad_input_names_the_field_and_writes_nothing(shop, writer) -> None:
    bad = {"price": -5, "sale_price": "abc", "link": "javascript:alert(1)", "name": "x" * 10_000,
           "image_link": "file:///etc/passwd", "availability": "sometimes", "colour": "Red"}
    assert _json(writer, "put", "/api/v1/products/OK-1", {"name": "Tee", "availability": "Out-of-stock"}).json()[
        "availability"] == "out_of_stock"
    for field, value in bad.items():
        response = _json(writer, "put", "/api/v1/products/BAD-1", {"name": "Tee", field: value})
        assert response.status_code == 400 and field in response.json(), (field, response.content)
    assert _json(writer, "put", "/api/v1/products/BAD-1", {"price": 5}).json() == {"name": ["This field is required."]}
    assert not Product.objects.filter(pk="BAD-1").exists()
    assert _json(writer, "patch", "/api/v1/products/NOPE", {"price": 5}).status_code == 404
    assert writer.delete("/api/v1/products/NOPE").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_write_is_searchable_within_seconds_and_a_price_change_re_embeds_nothing(shop, celery_worker,
                                                                                  writer) -> None:
    ensure_index()
    created = _json(writer, "put", "/api/v1/products/W-1", {
        "name": "Quilted Puffer Jacket", "description": "Packs into its own kazoo-shaped pouch.", "price": 2500,
        "availability": "in_stock", "gender": "Women", "article_type": "Jackets"})
    assert created.status_code == 201 and created.json()["id"] == "W-1" and created.json()["price"] == 2500.0
    assert _json(writer, "put", "/api/v1/products/W-2", {"name": "Rain Boots"}).status_code == 201
    client = Client()

    def first_hit() -> dict:
        return (client.get("/api/v1/search", {"q": "kazoo"}).json()["results"] or [{}])[0]

    eventually(lambda: first_hit().get("id") == "W-1", "not searchable within 10 s")
    entry = IndexEntry.objects.get(product_id="W-1", kind="text")
    patched = _json(writer, "patch", "/api/v1/products/W-1", {"sale_price": "1999.99", "availability": "backorder"})
    assert patched.status_code == 200 and patched.json()["sale_price"] == 1999.99
    assert patched.json()["name"] == "Quilted Puffer Jacket"  # the rest as it was
    eventually(lambda: first_hit().get("sale_price") == 1999.99, "the new price was not in search within 10 s")
    assert first_hit()["availability"] == "backorder"
    again = IndexEntry.objects.get(product_id="W-1", kind="text")
    assert (again.state, again.updated_at) == ("indexed", entry.updated_at)  # not embedded again
    replaced = _json(writer, "put", "/api/v1/products/W-1", {"name": "Quilted Puffer Jacket"})
    assert replaced.status_code == 200 and replaced.json()["price"] is None  # a PUT replaces it whole
    assert writer.delete("/api/v1/products/W-1").status_code == 204
    eventually(lambda: first_hit().get("id") != "W-1", "still in search 10 s after its deletion")


@pytest.mark.django_db
def test_bulk_writes_every_good_line_and_answers_each_bad_one(shop, writer) -> None:
    Product.objects.create(id="OLD-1", name="Old Stock")
    lines = [json.dumps({"id": "B-1", "name": "Canvas Tote", "price": 15}), "",
             json.dumps({"id": "B-2", "name": "Denim Jacket", "availability": "in stock"}),
             "{not json", json.dumps({"id": "B 3", "name": "Spaced id"}),
             json.dumps({"id": "B-4", "price": 3}), json.dumps({"delete": "OLD-1"}),
             json.dumps({"id": "B-1", "name": "Canvas Tote", "price": 16})]
    response = writer.post("/api/v1/products/bulk", "\n".join(lines) + "\n", content_type="application/x-ndjson")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["created"], answer["updated"], answer["deleted"]) == (2, 0, 1)
    assert [(e["line"], e["id"]) for e in answer["errors"]] == [(4, ""), (5, "B 3"), (6, "B-4")]
    assert "name" in answer["errors"][2]["detail"]
    assert Product.objects.get(pk="B-1").price == Decimal("16.00") and not Product.objects.filter(pk="OLD-1").exists()
    assert writer.post("/api/v1/products/bulk", "{}", content_type="application/json").status_code == 415
    too_many = "\n".join(json.dumps({"id": f"M-{n}", "name": "Many"}) for n in range(10_001))
    assert writer.post("/api/v1/products/bulk", too_many, content_type="application/x-ndjson").status_code == 413
    assert not Product.objects.filter(pk="M-1").exists()


@pytest.mark.django_db(transaction=True)
def test_staff_upload_a_feed_in_the_admin_and_sync_it(shop, celery_worker, staff, photos, tmp_path) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from catalog.models import ImportRun

    shop.FINDER_UPLOAD_DIR = tmp_path / "uploads"
    ensure_index()
    Product.objects.create(id="GONE-1", name="Discontinued Scarf")
    feed = xml_feed(photos).encode()
    response = staff.post("/admin/catalog/importrun/add/", {
        "feed": SimpleUploadedFile("products.xml", feed, "application/xml"), "sync": "on"})
    assert response.status_code == 302
    run = ImportRun.objects.get()
    progress = wait_for_import(staff, run)
    assert (progress["state"], progress["created"], progress["rejected_rows"]) == ("done", 2, 1), progress
    run.refresh_from_db()
    assert run.removed == 1 and not Product.objects.filter(pk="GONE-1").exists()
    assert run.rejected[0]["id"] == "X3" and "link" in run.rejected[0]["reason"]
    page = Client().get("/").content.decode()
    assert 'aria-label="Price bands"' in page and "500 to 1000" in page  # the tie, at 799


@pytest.mark.django_db(transaction=True)
def test_a_photo_from_a_link_comes_and_goes_with_its_link(shop, celery_worker, photos, writer) -> None:
    ensure_index()
    link = f"{photos}/sku-1.jpg"
    assert _json(writer, "put", "/api/v1/products/P-1", {"name": "Linen Dress", "image_link": link}).status_code == 201
    eventually(lambda: IndexEntry.objects.filter(product_id="P-1", kind="image", state="indexed").exists(),
               "the photo was not fetched and embedded", timeout=30)
    client = Client()
    assert client.get("/api/v1/products/P-1/similar", {"by": "image"}).status_code == 200
    photo = Product.objects.get(pk="P-1").image.name
    # The same link again fetches nothing; a link that goes takes its photo and image vector with it.
    assert _json(writer, "patch", "/api/v1/products/P-1", {"image_link": link, "price": 10}).status_code == 200
    assert Product.objects.get(pk="P-1").image.name == photo
    assert _json(writer, "patch", "/api/v1/products/P-1", {"image_link": ""}).json()["image_url"] is None
    eventually(lambda: client.get("/api/v1/products/P-1/similar", {"by": "image"}).status_code == 409,
               "the image vector outlived its photo")
    assert not IndexEntry.objects.filter(product_id="P-1", kind="image").exists()
