"""Reading a catalog in the public "Fashion Product Images" layout, tolerant of real files.

A catalog is a folder or a .zip holding ``styles.csv`` and ``images/<id>.jpg``. Real files
are never clean: rows with unquoted commas in the name (too many fields), a UTF-8 BOM,
unknown columns, blank optional values, images missing or corrupt. This module turns them
into clean rows and precise rejections; it writes nothing (see :mod:`catalog.services`).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: CSV column -> Product field, for every column we read.
COLUMNS = {
    "id": "id",
    "gender": "gender",
    "masterCategory": "master_category",
    "subCategory": "sub_category",
    "articleType": "article_type",
    "baseColour": "base_colour",
    "season": "season",
    "year": "year",
    "usage": "usage",
    "productDisplayName": "name",
    "latitude": "latitude",
    "longitude": "longitude",
}
REQUIRED = ("id", "gender", "masterCategory", "subCategory", "articleType", "productDisplayName")
MAX_LENGTHS = {"gender": 32, "season": 32, "name": 255}
DEFAULT_MAX_LENGTH = 64
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


class CatalogError(ValueError):
    """The catalog as a whole cannot be read (no styles.csv, a required column missing...)."""


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, object]


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str
    product_id: str = ""


def parse_styles(stream: io.TextIOBase) -> Iterator[Row | Rejected]:
    """Yield each data row of a styles.csv as a :class:`Row` or a :class:`Rejected`.

    Line numbers are those a person sees in an editor (the header is line 1), and count the
    physical start of each record even when a quoted field spans lines.
    """
    reader = csv.reader(stream)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise CatalogError("styles.csv is empty") from None
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CatalogError(f"styles.csv lacks the required column(s): {', '.join(missing)}")
    positions = {name: header.index(name) for name in COLUMNS if name in header}
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Rejected(line, f"unreadable CSV: {exc}")
            line = reader.line_num + 1
            continue
        start, line = line, reader.line_num + 1
        if not any(field.strip() for field in record):
            continue
        yield _row(start, record, header, positions)


def _row(line: int, record: list[str], header: list[str], positions: dict[str, int]) -> Row | Rejected:
    product_id = record[positions["id"]].strip() if len(record) > positions["id"] else ""
    if len(record) != len(header):
        return Rejected(line, f"expected {len(header)} fields, found {len(record)} "
                              "(an unquoted comma in a value?)", product_id)
    if not product_id.isdigit():
        return Rejected(line, f"id {product_id!r} is not a positive whole number", product_id)
    values: dict[str, object] = {}
    for column, field in COLUMNS.items():
        raw = record[positions[column]].strip() if column in positions else ""
        if column in REQUIRED and not raw:
            return Rejected(line, f"{column} is empty", product_id)
        if len(raw) > MAX_LENGTHS.get(field, DEFAULT_MAX_LENGTH):
            return Rejected(line, f"{column} is longer than {MAX_LENGTHS.get(field, DEFAULT_MAX_LENGTH)} characters",
                            product_id)
        values[field] = raw
    values["id"] = int(product_id)
    year = values["year"]
    if year and not (isinstance(year, str) and year.isdigit() and 1900 <= int(year) <= 2100):
        return Rejected(line, f"year {year!r} is not a year", product_id)
    values["year"] = int(year) if year else None
    for field, bound in (("latitude", 90.0), ("longitude", 180.0)):
        raw = values[field]
        try:
            values[field] = float(raw) if raw else None
        except ValueError:
            return Rejected(line, f"{field} {raw!r} is not a number", product_id)
        if values[field] is not None and not -bound <= values[field] <= bound:
            return Rejected(line, f"{field} {raw!r} is out of range", product_id)
    if (values["latitude"] is None) != (values["longitude"] is None):
        return Rejected(line, "latitude and longitude go together", product_id)
    return Row(line, values)


class CatalogSource:
    """A catalog folder or .zip: its styles.csv and its images, by product id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._images: zipfile.ZipFile | None = None
        if path.is_dir():
            styles = path / "styles.csv"
            if not styles.is_file():
                raise CatalogError(f"{path} has no styles.csv")
            self._root = PurePosixPath()
        elif zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            candidates = sorted((PurePosixPath(name) for name in self._zip.namelist()
                                 if PurePosixPath(name).name == "styles.csv"), key=lambda p: len(p.parts))
            if not candidates:
                raise CatalogError(f"{path.name} holds no styles.csv")
            self._root = candidates[0].parent
            self._names = set(self._zip.namelist())
        else:
            raise CatalogError(f"{path} is neither a folder nor a .zip file")

    def __enter__(self) -> CatalogSource:
        return self

    def __exit__(self, *exc: object) -> None:
        for archive in (self._zip, self._images):
            if archive:
                archive.close()

    def rows(self) -> Iterator[Row | Rejected]:
        raw = self._read(self._root / "styles.csv")
        assert raw is not None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CatalogError(f"styles.csv is not UTF-8 text ({exc})") from exc
        yield from parse_styles(io.StringIO(text, newline=""))

    def image(self, product_id: int) -> bytes | None:
        """The image file for a product, or None when there is none."""
        for extension in IMAGE_EXTENSIONS:
            data = self._read(self._root / "images" / f"{product_id}{extension}")
            if data is not None:
                return data
        return None

    def _images_zip(self) -> zipfile.ZipFile | None:
        """A folder's ``images.zip``, for a catalog uploaded as a CSV plus a zip of images."""
        if self._zip is None and self._images is None and (self.path / "images.zip").is_file():
            self._images = zipfile.ZipFile(self.path / "images.zip")
            self._image_names = {PurePosixPath(name).name: name for name in self._images.namelist()}
        return self._images

    def _read(self, member: PurePosixPath) -> bytes | None:
        if self._zip is None:
            path = self.path / member
            if path.is_file():
                return path.read_bytes()
            images = self._images_zip() if member.parent.name == "images" else None
            if images is not None and member.name in self._image_names:
                return images.read(self._image_names[member.name])
            return None
        name = str(member)
        return self._zip.read(name) if name in self._names else None
