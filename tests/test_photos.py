"""Photos on disk agree with the database: each under a name of its own, written whole,
switched with its row, and removed with its product or once nothing refers to it."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog.models import Product
from catalog.services import delete_products, import_catalog, remove_stale_files
from search.lifecycle import ensure_index
from tests.support import demo_rows, wait_until_settled, write_catalog


def _jpeg(colour: str, size: tuple[int, int] = (60, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def _form(product: Product, **changes: object) -> dict[str, object]:
    fields = ["gender", "master_category", "sub_category", "article_type", "base_colour", "season", "year",
              "usage", "name", "latitude", "longitude"]
    return {**{name: getattr(product, name) if getattr(product, name) is not None else "" for name in fields},
            "id": product.id, **changes}


@pytest.mark.django_db(transaction=True)
def test_an_admin_photo_named_like_another_product_never_overwrites_it(search_settings, celery_worker, staff,
                                                                       tmp_path) -> None:
    Product.objects.all().delete()
    ensure_index()
    first, second = demo_rows(2)
    folder = write_catalog(tmp_path / "catalog", [first, second])
    wait_until_settled(import_catalog(folder).product_ids)
    one, other = Product.objects.get(id=first["id"]), Product.objects.get(id=second["id"])
    assert one.image.name != f"products/{one.id}.jpg"  # a name of its own: id and digest
    # Staff attach a photo called "<the first product's id>.jpg" to the second product.
    response = staff.post(f"/admin/catalog/product/{other.id}/change/", _form(
        other, image=SimpleUploadedFile(f"{one.id}.jpg", _jpeg("red"), "image/jpeg")))
    assert response.status_code == 302, response.content[:500]
    other.refresh_from_db()
    assert other.image.name.startswith(f"products/{other.id}-")
    red = Image.open(other.image.path).getpixel((5, 5))
    assert red[0] > 200 and red[1] < 50
    # The first product is imported again, with a new photo: the second keeps its own.
    again = write_catalog(tmp_path / "again", [first])
    (again / "images" / f"{one.id}.jpg").write_bytes(_jpeg("blue"))
    wait_until_settled(import_catalog(again).product_ids)
    one.refresh_from_db()
    assert Image.open(one.image.path).getpixel((5, 5))[2] > 200
    assert Image.open(other.image.path).getpixel((5, 5))[0] > 200
    # The photo the first product had before is gone from disk; nothing else is.
    files = {path.name for path in (Path(search_settings.MEDIA_ROOT) / "products").iterdir()}
    assert files == {Path(one.image.name).name, Path(other.image.name).name}


@pytest.mark.django_db(transaction=True)
def test_a_hostile_admin_photo_is_refused_with_a_message(search_settings, celery_worker, staff, tmp_path) -> None:
    Product.objects.all().delete()
    ensure_index()
    (row,) = demo_rows(1)
    wait_until_settled(import_catalog(write_catalog(tmp_path / "catalog", [row])).product_ids)
    product = Product.objects.get(id=row["id"])
    strip = io.BytesIO()
    Image.new("L", (12_000, 400), 255).save(strip, "PNG")
    response = staff.post(f"/admin/catalog/product/{product.id}/change/", _form(
        product, image=SimpleUploadedFile("banner.png", strip.getvalue(), "image/png")))
    assert response.status_code == 200
    assert "That photo cannot be used: the image is too large" in response.content.decode()
    product.refresh_from_db()
    assert Path(product.image.path).is_file() and product.image.name.startswith(f"products/{product.id}-")


@pytest.mark.django_db(transaction=True)
def test_deleting_products_removes_their_photos(search_settings, celery_worker, tmp_path) -> None:
    Product.objects.all().delete()
    ensure_index()
    report = import_catalog(write_catalog(tmp_path / "catalog", demo_rows(3)))
    wait_until_settled(report.product_ids)
    paths = [Path(Product.objects.get(id=pid).image.path) for pid in report.product_ids]
    assert all(path.is_file() for path in paths)
    delete_products(Product.objects.filter(id=report.product_ids[0]))
    assert [path.is_file() for path in paths] == [False, True, True]


@pytest.mark.django_db
def test_orphaned_photos_are_removed_once_nothing_can_refer_to_them(search_settings) -> None:
    kept = Product.objects.create(id=8_200_001, gender="Men", master_category="Apparel", sub_category="Topwear",
                                  article_type="Tshirts", name="Kept")
    kept.image.name = default_storage.save("products/8200001-0123456789abcdef.jpg", io.BytesIO(_jpeg("red")))
    kept.save()
    orphan = Path(default_storage.save("products/8200002-0123456789abcdef.jpg", io.BytesIO(_jpeg("blue"))))
    fresh = Path(default_storage.save("products/8200003-0123456789abcdef.jpg", io.BytesIO(_jpeg("green"))))
    root = Path(search_settings.MEDIA_ROOT)
    two_hours_ago = time.time() - 7200
    for name in (kept.image.name, orphan):
        os.utime(root / name, (two_hours_ago, two_hours_ago))
    assert remove_stale_files()["photos"] == 1
    assert (root / kept.image.name).is_file() and not (root / orphan).is_file()
    assert (root / fresh).is_file()  # written in the last hour: an import may be about to use it


def test_a_photo_is_written_whole_or_not_at_all(settings, tmp_path) -> None:
    """No reader ever sees half a file: it is written beside its name, then renamed."""
    settings.MEDIA_ROOT = tmp_path

    class Failing(io.BytesIO):
        def read(self, *args: object) -> bytes:
            raise OSError("disk full")

    with pytest.raises(OSError):
        default_storage.save("products/1-0123456789abcdef.jpg", Failing(b"x"))
    assert not list((tmp_path / "products").iterdir())
