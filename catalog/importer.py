"""Reading a catalog file, tolerant of real files: the public "Fashion Product Images" layout,
or a product feed (:mod:`catalog.feeds`).

A catalog is a folder or a .zip holding ``styles.csv`` and ``images/<id>.jpg``, or a Google
Merchant Center feed whose photos are links. Real files
are never clean: rows with unquoted commas in the name (too many fields), a UTF-8 BOM,
unknown columns, blank optional values, images missing or corrupt. This module turns them
into clean rows and precise rejections; it writes nothing (see :mod:`catalog.services`).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from catalog.attributes import ATTRIBUTES
from catalog.brands import brand_from_name
from catalog.feeds import FEED_EXTENSIONS, is_feed, read_feed
from catalog.images import MAX_IMAGE_BYTES, check_file_size
from catalog.rows import CatalogError, Rejected, Row, clean_row, read_records, shown_id

#: styles.csv column -> the attribute it fills, for every column the public layout has.
COLUMNS = {attribute.column: attribute for attribute in ATTRIBUTES if attribute.column}
REQUIRED = ("id", *(attribute.column for attribute in ATTRIBUTES if attribute.column and attribute.required))
REQUIRED_FIELDS = tuple(attribute.field for attribute in ATTRIBUTES if attribute.column and attribute.required)
#: Limits on what a .zip may declare inside it, checked before anything is decompressed: a
#: zip bomb (a few kilobytes that inflate to gigabytes, or millions of entries) is refused whole.
MAX_ZIP_ENTRIES = 500_000
MAX_CSV_BYTES = 2_000_000_000
MAX_ZIP_TOTAL_BYTES = 50_000_000_000
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


def parse_styles(stream: io.TextIOBase) -> Iterator[Row | Rejected]:
    """Yield each data row of a styles.csv as a :class:`Row` or a :class:`Rejected`, numbered by
    its line (:func:`catalog.rows.read_records`)."""
    header, records = read_records(stream, ",", "styles.csv is empty")
    header = [name.strip() for name in header]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CatalogError(f"styles.csv lacks the required column(s): {', '.join(missing)}")
    positions = {name: header.index(name) for name in (*COLUMNS, "id") if name in header}
    names = {attribute.field: column for column, attribute in COLUMNS.items()}
    for item in records:
        if isinstance(item, Rejected):
            yield item
            continue
        line, record = item
        raw_id = record[positions["id"]] if len(record) > positions["id"] else ""
        if len(record) != len(header):
            yield Rejected(line, f"expected {len(header)} fields, found {len(record)} "
                                 "(an unquoted comma in a value?)", shown_id(raw_id))
            continue
        values = {COLUMNS[column].field: record[position] for column, position in positions.items() if column != "id"}
        yield _styles_row(clean_row(line, raw_id, values, names, REQUIRED_FIELDS))


def _styles_row(row: Row | Rejected) -> Row | Rejected:
    """The public layout's own rules: a brand read from the name when the column is blank, and a
    store location given whole."""
    if isinstance(row, Rejected):
        return row
    values = dict(row.values)
    if "brand" in values or "name" in values:
        values["brand"] = values.get("brand") or brand_from_name(str(values.get("name", "")))[:64]
    if ("latitude" in values or "longitude" in values) and (values.get("latitude") is None) != (
            values.get("longitude") is None):
        return Rejected(row.line, "latitude and longitude go together", row.product_id)
    return Row(row.line, row.product_id, values)


class CatalogSource:
    """A catalog folder or .zip: its styles.csv, streamed, and its images, by product id.

    Nothing is read whole into memory: the CSV is decoded as it is parsed, straight from the
    zip when it is in one, and an image is read only when its product's row comes up. A zip's
    directory is checked against the limits above before any entry is decompressed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._images: zipfile.ZipFile | None = None
        self.feed = path.is_file() and is_feed(path)
        if self.feed:
            self._root = PurePosixPath()
        elif path.is_dir():
            styles = path / "styles.csv"
            if not styles.is_file():
                raise CatalogError(f"{path} has no styles.csv")
            self._root = PurePosixPath()
        elif zipfile.is_zipfile(path):
            self._zip = _open_zip(path)
            self._names = {info.filename: info for info in self._zip.infolist()}
            candidates = sorted((PurePosixPath(name) for name in self._names
                                 if PurePosixPath(name).name == "styles.csv"), key=lambda p: len(p.parts))
            if not candidates:
                self._zip.close()
                raise CatalogError(f"{path.name} holds no styles.csv")
            self._root = candidates[0].parent
        else:
            raise CatalogError(f"{path.name} is neither a folder, a .zip file nor a product feed "
                               f"(tab-separated or XML, {', '.join(FEED_EXTENSIONS)})")

    def __enter__(self) -> CatalogSource:
        return self

    def __exit__(self, *exc: object) -> None:
        for archive in (self._zip, self._images):
            if archive:
                archive.close()

    def rows(self) -> Iterator[Row | Rejected]:
        """Every row of styles.csv or of the feed, decoded as it streams; undecodable bytes reject their row."""
        if self.feed:
            with self.path.open("rb") as binary:
                yield from read_feed(binary)
            return
        member = str(self._root / "styles.csv")
        if self._zip is None:
            binary: io.BufferedIOBase = (self.path / member).open("rb")
        else:
            binary = self._zip.open(self._names[member])
        with binary, io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="") as text:
            yield from parse_styles(text)

    def image(self, product_id: str) -> bytes | None:
        """The image file for a product, or None when there is none (a feed's photos are links,
        fetched later)."""
        if self.feed:
            return None
        for extension in IMAGE_EXTENSIONS:
            data = self._read(self._root / "images" / f"{product_id}{extension}")
            if data is not None:
                return data
        return None

    def _images_zip(self) -> zipfile.ZipFile | None:
        """A folder's ``images.zip``, for a catalog uploaded as a CSV plus a zip of images."""
        if self._zip is None and self._images is None and (self.path / "images.zip").is_file():
            self._images = _open_zip(self.path / "images.zip")
            self._image_names = {PurePosixPath(info.filename).name: info for info in self._images.infolist()}
        return self._images

    def _read(self, member: PurePosixPath) -> bytes | None:
        if self._zip is None:
            path = self.path / member
            if path.is_file():
                check_file_size(path.stat().st_size)
                return path.read_bytes()
            images = self._images_zip() if member.parent.name == "images" else None
            if images is not None and member.name in self._image_names:
                return images.read(self._image_names[member.name])
            return None
        info = self._names.get(str(member))
        return self._zip.read(info) if info is not None else None


def _open_zip(path: Path) -> zipfile.ZipFile:
    """Open a .zip, refusing one whose directory declares absurd sizes or counts.

    The declared sizes can be trusted for bounding memory: :mod:`zipfile` never inflates an
    entry past its declared size (a larger one fails its CRC check instead).
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CatalogError(f"{path.name} is not a readable .zip file ({exc})") from None
    entries = archive.infolist()
    problem = ""
    if len(entries) > MAX_ZIP_ENTRIES:
        problem = f"it holds {len(entries):,} entries (at most {MAX_ZIP_ENTRIES:,})"
    elif sum(info.file_size for info in entries) > MAX_ZIP_TOTAL_BYTES:
        problem = f"it would unpack to more than {MAX_ZIP_TOTAL_BYTES // 1_000_000_000} GB"
    else:
        for info in entries:
            limit = MAX_CSV_BYTES if info.filename.lower().endswith(".csv") else MAX_IMAGE_BYTES
            if info.file_size > limit:
                problem = (f"{info.filename} would unpack to {info.file_size:,} bytes "
                           f"(at most {limit // 1_000_000} MB)")
                break
    if problem:
        archive.close()
        raise CatalogError(f"{path.name} was refused: {problem}. Is it a zip bomb?")
    return archive
