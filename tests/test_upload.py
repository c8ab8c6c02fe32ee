"""Catalog upload in the admin: a .zip, or a CSV with a .zip of images; a report per upload;
live progress; size limits; and the whole thing in a browser."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog.models import ImportRun, Product
from search.lifecycle import ensure_index
from tests.support import DEMO, HOSTILE, REASONS, demo_rows, wait_for_import, write_catalog, zipped


@pytest.fixture
def uploads(search_settings, tmp_path):
    search_settings.FINDER_UPLOAD_DIR = tmp_path / "uploads"
    return search_settings


@pytest.mark.django_db(transaction=True)
def test_a_zip_upload_is_imported_with_a_report_and_progress(uploads, celery_worker, staff, tmp_path) -> None:
    Product.objects.all().delete()
    ensure_index()
    rows = demo_rows(10)
    folder = write_catalog(tmp_path / "catalog", rows, ["123,Men,Apparel"])
    response = staff.post("/admin/catalog/importrun/add/",
                          {"archive": SimpleUploadedFile("shop.zip", zipped(folder), "application/zip")})
    assert response.status_code == 302
    run = ImportRun.objects.get()
    progress = wait_for_import(staff, run)
    assert progress["state"] == "done", progress
    assert (progress["total"], progress["indexed"], progress["failed"], progress["rejected_rows"]) == (10, 10, 0, 1)
    page = staff.get(f"/admin/catalog/importrun/{run.pk}/change/").content.decode()
    assert "Line" in page and ">12<" in page and "expected 10 fields, found 3" in page

    # The same upload again changes nothing.
    staff.post("/admin/catalog/importrun/add/",
               {"archive": SimpleUploadedFile("shop.zip", zipped(folder), "application/zip")})
    again = ImportRun.objects.order_by("-pk").first()
    wait_for_import(staff, again)
    again.refresh_from_db()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 10)


@pytest.mark.django_db(transaction=True)
def test_a_csv_with_a_zip_of_images(uploads, celery_worker, staff, tmp_path) -> None:
    Product.objects.all().delete()
    ensure_index()
    rows = demo_rows(6)
    folder = write_catalog(tmp_path / "catalog", rows)
    images = io.BytesIO()
    with zipfile.ZipFile(images, "w") as archive:
        for row in rows[:5]:
            archive.write(DEMO / "images" / f"{row['id']}.jpg", f"images/{row['id']}.jpg")
    response = staff.post("/admin/catalog/importrun/add/", {
        "styles": SimpleUploadedFile("styles.csv", (folder / "styles.csv").read_bytes(), "text/csv"),
        "images": SimpleUploadedFile("images.zip", images.getvalue(), "application/zip"),
    })
    assert response.status_code == 302
    run = ImportRun.objects.get()
    assert wait_for_import(staff, run)["indexed"] == 6
    run.refresh_from_db()
    assert [p["id"] for p in run.image_problems] == [rows[5]["id"]]
    assert Product.objects.exclude(image="").count() == 5


@pytest.mark.django_db
def test_bad_uploads_get_clear_messages(uploads, staff, settings) -> None:
    both = staff.post("/admin/catalog/importrun/add/", {})
    assert "Upload one of: a .zip catalog, a product feed" in both.content.decode()
    wrong = staff.post("/admin/catalog/importrun/add/", {"archive": SimpleUploadedFile("x.exe", b"MZ")})
    assert "File extension" in wrong.content.decode()
    settings.FINDER_MAX_UPLOAD_BYTES = 1000
    big = staff.post("/admin/catalog/importrun/add/", {"archive": SimpleUploadedFile("x.zip", b"0" * 5000)})
    assert big.status_code == 413 and "The upload is too large: at most 0.001 MB" in big.content.decode()
    assert not ImportRun.objects.exists()


@pytest.mark.django_db
def test_uploads_are_for_staff_only(uploads) -> None:
    user = get_user_model().objects.create_user("shopper", password="a-long-Passphrase-42")
    client = Client()
    client.force_login(user)
    assert client.get("/admin/catalog/importrun/add/").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_a_hostile_catalog_imports_its_good_rows_and_reports_every_bad_one(uploads, celery_worker, staff,
                                                                          tmp_path) -> None:
    """Through the admin and the real worker, into the real database (SQLite and PostgreSQL):
    odd digits, huge ids, NULs, control characters, tag separators, a strip of a photo."""
    from PIL import Image

    Product.objects.all().delete()
    ensure_index()
    rows = demo_rows(6)
    folder = write_catalog(tmp_path / "catalog", rows, list(HOSTILE.values()))
    strip = io.BytesIO()
    Image.new("L", (12_000, 400), 255).save(strip, "PNG")
    (folder / "images" / f"{rows[0]['id']}.jpg").unlink()
    (folder / "images" / f"{rows[0]['id']}.png").write_bytes(strip.getvalue())
    staff.post("/admin/catalog/importrun/add/",
               {"archive": SimpleUploadedFile("shop.zip", zipped(folder), "application/zip")})
    run = ImportRun.objects.get()
    progress = wait_for_import(staff, run)
    assert progress["state"] == "done", progress
    assert (progress["total"], progress["indexed"], progress["rejected_rows"]) == (6, 6, len(HOSTILE))
    run.refresh_from_db()
    lines = (folder / "styles.csv").read_text().split("\n")
    for rejected in run.rejected:
        assert REASONS[rejected["id"]] in rejected["reason"]
        assert lines[rejected["line"] - 1].startswith(rejected["id"])
    assert [(p["id"], "too large" in p["reason"]) for p in run.image_problems] == [(rows[0]["id"], True)]
    page = staff.get(f"/admin/catalog/importrun/{run.pk}/change/").content.decode()
    assert "separates tags" in page and "control character" in page


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_failure_ends_the_run_as_failed_never_stuck(uploads, celery_worker, staff, tmp_path) -> None:
    """A zip damaged in transit (its CSV fails its checksum while it is read): the run ends
    FAILED with the reason, rather than "Reading the file" forever."""
    folder = write_catalog(tmp_path / "catalog", demo_rows(3))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
        zipped.write(folder / "styles.csv", "styles.csv")
    damaged = bytearray(archive.getvalue())
    damaged[damaged.index(b"Men,") + 1] ^= 0x20  # one bit of the stored CSV flipped
    staff.post("/admin/catalog/importrun/add/",
               {"archive": SimpleUploadedFile("shop.zip", bytes(damaged), "application/zip")})
    run = ImportRun.objects.get()
    progress = wait_for_import(staff, run)
    assert progress["state"] == "failed"
    assert "unexpected error" in progress["error"] and "CRC" in progress["error"]
    # Delivered again (as after a crash), a finished run is left as it is.
    from catalog.tasks import import_upload

    import_upload.delay(run.pk)
    time.sleep(1)
    run.refresh_from_db()
    assert run.state == ImportRun.State.FAILED and not Product.objects.filter(id__in=run.product_ids).exists()


@pytest.mark.django_db
def test_uploads_past_their_retention_are_removed(uploads, settings, tmp_path) -> None:
    import os

    from catalog.services import remove_stale_files

    settings.FINDER_UPLOAD_RETENTION_DAYS = 7
    old, recent = Path(settings.FINDER_UPLOAD_DIR) / "1", Path(settings.FINDER_UPLOAD_DIR) / "2"
    for folder in (old, recent):
        folder.mkdir(parents=True)
        (folder / "catalog.zip").write_bytes(b"PK")
    eight_days_ago = time.time() - 8 * 86400
    os.utime(old, (eight_days_ago, eight_days_ago))
    assert remove_stale_files()["uploads"] == 1
    assert not old.exists() and (recent / "catalog.zip").exists()
