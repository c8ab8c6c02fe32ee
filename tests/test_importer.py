"""Reading catalog files as they really come: the public metadata file, BOMs, zips, bad rows."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

from catalog.importer import CatalogError, CatalogSource, Rejected, Row, parse_styles
from tests.support import GOOD, HOSTILE, REASONS

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
                  + "a/c,Men,Apparel,Topwear,Tshirts,White,Summer,2011,Casual,Bad id\n"
                  + "3,Men,Apparel,Topwear,Tshirts,White,Summer,twenty,Casual,Bad year\n"
                  + "4,,Apparel,Topwear,Tshirts,White,Summer,2011,Casual,No gender\n"
                  + "\n"
                  + '5,Women,Apparel,Topwear,Tops,Red,Summer,,Casual,"A top, quoted"\n')
    assert isinstance(items[0], Row) and items[0].values["year"] == 2011
    assert [(i.line, i.product_id) for i in items[1:4]] == [(3, "a/c"), (4, "3"), (5, "4")]
    assert "must be 1 to 64 letters, digits" in items[1].reason
    assert "must be a number" in items[2].reason
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
        assert row.product_id == "7" and row.values["name"] == "Red Top"
        assert source.image("7") == image.getvalue()
        assert source.image("8") is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_importing_the_public_metadata_file_imports_exactly_the_well_formed_rows(search_settings, tmp_path) -> None:
    """All 44,446 rows through the real command, into the real database; no worker takes the
    44,424 embedding batches it queues (they go to a queue of this test's own)."""
    import subprocess
    import sys

    from catalog.models import Product
    from search.store.connection import get_client
    from tests.support import subprocess_env

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
        assert not Product.objects.filter(id=product_id).exists()
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
    assert Product.objects.get(id="8000001").name == "Second Tee"


# Hostile rows: each rejected with its line and reason; the good rows around them imported.
def hostile_csv() -> str:
    lines = [f"8100100,{GOOD}A good tee"]
    for row in HOSTILE.values():
        lines.extend([row, f"{8100101 + len(lines)},{GOOD}Another good tee"])
    return HEADER + "\n".join(lines) + "\n"


def test_hostile_rows_are_each_rejected_with_line_and_reason() -> None:
    items = parse(hostile_csv())
    rejected = {item.product_id: item for item in items if isinstance(item, Rejected)}
    assert set(rejected) == set(HOSTILE)
    for product_id, reason in REASONS.items():
        assert reason in rejected[product_id].reason, (product_id, rejected[product_id].reason)
    lines = hostile_csv().split("\n")
    assert all(lines[item.line - 1].startswith(product_id) for product_id, item in rejected.items())
    assert sum(isinstance(item, Row) for item in items) == len(HOSTILE) + 1


@pytest.mark.django_db
def test_a_hostile_catalog_imports_its_good_rows_into_the_database(search_settings, tmp_path) -> None:
    """Into the real database (SQLite and PostgreSQL: a NUL or a 24-digit id once raised there)."""
    from catalog.models import Product
    from catalog.services import import_catalog

    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "styles.csv").write_text(hostile_csv())
    report = import_catalog(folder)
    assert report.created == len(HOSTILE) + 1 and len(report.rejected) == len(HOSTILE)
    assert Product.objects.filter(name__contains="good tee").count() == len(HOSTILE) + 1


def test_bytes_that_are_not_utf8_reject_their_row_only(tmp_path: Path) -> None:
    folder = tmp_path / "latin1"
    folder.mkdir()
    (folder / "styles.csv").write_bytes((HEADER + f"1,{GOOD}Plain\n").encode()
                                        + f"2,{GOOD}Caf\xe9\n".encode("latin-1") + f"3,{GOOD}Fine\n".encode())
    with CatalogSource(folder) as source:
        items = list(source.rows())
    assert [type(item) for item in items] == [Row, Rejected, Row]
    assert "not UTF-8" in items[1].reason and items[1].line == 3


def _zip_with(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def test_zip_bombs_are_refused_before_anything_is_inflated(tmp_path: Path, monkeypatch) -> None:
    import catalog.importer as importer

    # Limits lowered so that the test's bombs stay small on disk: a few kilobytes that would
    # inflate far past them, and more entries than allowed.
    monkeypatch.setattr(importer, "MAX_CSV_BYTES", 5_000_000)
    monkeypatch.setattr(importer, "MAX_IMAGE_BYTES", 1_000_000)
    monkeypatch.setattr(importer, "MAX_ZIP_ENTRIES", 100)
    big_csv = _zip_with(tmp_path / "csv.zip", {"styles.csv": HEADER.encode() + b"0" * 20_000_000})
    assert big_csv.stat().st_size < 100_000
    with pytest.raises(CatalogError, match=r"styles.csv would unpack to 20,000,\d+ bytes .*zip bomb"):
        CatalogSource(big_csv)
    big_image = _zip_with(tmp_path / "image.zip", {"styles.csv": HEADER.encode(), "images/1.jpg": b"\0" * 5_000_000})
    with pytest.raises(CatalogError, match=r"images/1\.jpg would unpack"):
        CatalogSource(big_image)
    many = _zip_with(tmp_path / "many.zip", {"styles.csv": HEADER.encode(),
                                             **{f"images/{n}.jpg": b"" for n in range(150)}})
    with pytest.raises(CatalogError, match="151 entries"):
        CatalogSource(many)


STREAMING = """
import resource, sys
from pathlib import Path
from catalog.importer import CatalogSource, Row

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

before = peak_mb()
with CatalogSource(Path(sys.argv[1])) as source:
    rows = sum(isinstance(item, Row) for item in source.rows())
print(rows, peak_mb() - before)
"""


@pytest.mark.slow
def test_a_large_csv_in_a_zip_is_read_as_a_stream(tmp_path: Path) -> None:
    """A 100 MB styles.csv (a 1 MB zip) is parsed in a process whose peak memory barely moves
    (it held the file three times over before: bytes, text and a StringIO)."""
    import subprocess
    import sys

    row = f"{GOOD}A plain white tee shirt for summer days in cotton with a regular fit and a crew neck\n"
    count = 100_000_000 // (len(row) + 8)
    archive = tmp_path / "large.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped, zipped.open("styles.csv", "w") as out:
        out.write(HEADER.encode())
        for start in range(1, count + 1, 10_000):
            out.write("".join(f"{n},{row}" for n in range(start, min(start + 10_000, count + 1))).encode())
    result = subprocess.run([sys.executable, "-c", STREAMING, str(archive)], capture_output=True, text=True,
                            cwd=settings.BASE_DIR, check=True)
    rows, grown_mb = result.stdout.split()
    assert int(rows) == count
    assert float(grown_mb) < 40, f"parsing grew the process by {float(grown_mb):.0f} MB"


def test_a_line_too_long_is_rejected_without_being_read_whole() -> None:
    """A row of millions of commas once became a list of millions of fields: the memory one line may
    take is bounded, and the rows after it are read as usual."""
    huge = "6" + "," * 3_000_000 + "\n"
    items = parse(HEADER + "1,Men,Apparel,Topwear,Tshirts,White,Summer,2011,Casual,Plain Tee\n" + huge
                  + "7,Men,Apparel,Topwear,Tshirts,Blue,Summer,2011,Casual,After it\n")
    assert isinstance(items[0], Row) and isinstance(items[2], Row) and items[2].line == 4
    assert isinstance(items[1], Rejected) and items[1].line == 3 and "longer than 100,000" in items[1].reason
