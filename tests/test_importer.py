"""Reading catalog files as they really come: the public metadata file, BOMs, zips, bad rows."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

from catalog.importer import CatalogError, CatalogSource, Rejected, Row, parse_styles

HEADER = "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName\n"
FULL = Path(settings.BASE_DIR) / "data" / "styles-full.csv"
DEMO_IMAGES = Path(settings.BASE_DIR) / "data" / "demo-catalog" / "images"


def parse(text: str) -> list[Row | Rejected]:
    return list(parse_styles(io.StringIO(text, newline="")))


def test_the_public_metadata_file_keeps_every_well_formed_row_and_reports_the_22_others() -> None:
    with FULL.open(encoding="utf-8-sig", newline="") as handle:
        items = list(parse_styles(handle))
    rejected = [item for item in items if isinstance(item, Rejected)]
    rows = [item for item in items if isinstance(item, Row)]
    assert len(rejected) == 22
    assert len(rows) == 44_446 - 22
    assert all("found 11" in r.reason or "found 12" in r.reason for r in rejected)
    # The line numbers are the file's own: each names a line that holds that id.
    lines = FULL.read_text(encoding="utf-8").splitlines()
    assert all(lines[r.line - 1].startswith(r.product_id + ",") for r in rejected)
    # The literal NA is a value, not a hole.
    assert any(row.values["usage"] == "NA" for row in rows)


def test_row_problems_are_reported_with_line_and_reason() -> None:
    items = parse(HEADER
                  + "1,Men,Apparel,Topwear,Tshirts,White,Summer,2011,Casual,Plain Tee\n"
                  + "abc,Men,Apparel,Topwear,Tshirts,White,Summer,2011,Casual,Bad id\n"
                  + "3,Men,Apparel,Topwear,Tshirts,White,Summer,twenty,Casual,Bad year\n"
                  + "4,,Apparel,Topwear,Tshirts,White,Summer,2011,Casual,No gender\n"
                  + "\n"
                  + '5,Women,Apparel,Topwear,Tops,Red,Summer,,Casual,"A top, quoted"\n')
    assert isinstance(items[0], Row) and items[0].values["year"] == 2011
    assert [(i.line, i.product_id) for i in items[1:4]] == [(3, "abc"), (4, "3"), (5, "4")]
    assert "not a whole number" in items[1].reason
    assert "not a year" in items[2].reason
    assert "gender is empty" in items[3].reason
    assert isinstance(items[4], Row) and items[4].line == 7
    assert items[4].values["name"] == "A top, quoted" and items[4].values["year"] is None


def test_a_missing_required_column_rejects_the_file() -> None:
    with pytest.raises(CatalogError, match="articleType"):
        parse("id,gender,masterCategory,subCategory,productDisplayName\n1,Men,Apparel,Topwear,Tee\n")


def test_zip_with_a_bom_unknown_columns_and_a_nested_folder(tmp_path: Path) -> None:
    archive = tmp_path / "catalog.zip"
    image = io.BytesIO()
    Image.new("RGB", (30, 40), "red").save(image, "JPEG")
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("shop/styles.csv", "\ufeff" + HEADER.strip() + ",colourHex\n"
                        + "7,Women,Apparel,Topwear,Tops,Red,Summer,2012,Casual,Red Top,#f00\n")
        zipped.writestr("shop/images/7.jpg", image.getvalue())
    with CatalogSource(archive) as source:
        (row,) = list(source.rows())
        assert row.values["id"] == 7 and row.values["name"] == "Red Top"
        assert source.image(7) == image.getvalue()
        assert source.image(8) is None


@pytest.mark.django_db(transaction=True)
def test_importing_the_public_metadata_file_imports_exactly_the_well_formed_rows(search_settings, tmp_path) -> None:
    """All 44,446 rows through the real command, into the real database; no worker takes the
    44,424 embedding batches it queues (they go to a queue of this test's own)."""
    import subprocess
    import sys

    from catalog.models import Product
    from search.connection import get_client
    from tests.conftest import subprocess_env

    Product.objects.all().delete()
    folder = tmp_path / "full"
    folder.mkdir()
    (folder / "styles.csv").write_bytes(FULL.read_bytes())
    done = subprocess.run([sys.executable, "manage.py", "import_catalog", str(folder)], cwd=settings.BASE_DIR,
                          env=subprocess_env(tmp_path, "styles-full"), capture_output=True, text=True, check=True)
    get_client().delete("styles-full")
    assert Product.objects.count() == 44_446 - 22
    assert "created 44424, updated 0, unchanged 0" in done.stdout
    assert "rejected rows: 22" in done.stdout
    lines = FULL.read_text(encoding="utf-8").splitlines()
    for reported in (line for line in done.stdout.splitlines() if "expected 10 fields" in line):
        number, product_id = int(reported.split()[1]), reported.split("(id ")[1].split(")")[0]
        assert lines[number - 1].startswith(f"{product_id},")
        assert not Product.objects.filter(id=int(product_id)).exists()
    assert Product.objects.filter(usage="NA").exists()


@pytest.mark.django_db
def test_a_duplicate_id_in_one_file_last_row_wins_and_is_reported(search_settings, tmp_path) -> None:
    from catalog.models import Product
    from catalog.services import import_catalog

    folder = tmp_path / "dupes"
    folder.mkdir()
    (folder / "styles.csv").write_text(HEADER
                                       + "8000001,Men,Apparel,Topwear,Tshirts,White,Summer,2011,Casual,First Tee\n"
                                       + "8000002,Women,Apparel,Topwear,Tops,Red,Summer,2012,Casual,Red Top\n"
                                       + "8000001,Men,Apparel,Topwear,Tshirts,Black,Summer,2011,Casual,Second Tee\n")
    report = import_catalog(folder)
    assert report.created == 2
    assert [(r.line, r.product_id, r.reason) for r in report.rejected] == [
        (2, "8000001", "duplicate id, replaced by line 4")]
    assert Product.objects.get(id=8000001).name == "Second Tee"
