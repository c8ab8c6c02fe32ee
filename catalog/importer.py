"""Reading a catalog in the public "Fashion Product Images" layout, tolerant of real files.

A catalog is a folder or a .zip holding ``styles.csv`` and ``images/<id>.jpg``. Real files
are never clean: rows with unquoted commas in the name (too many fields), a UTF-8 BOM,
unknown columns, blank optional values, images missing or corrupt. This module turns them
into clean rows and precise rejections; it writes nothing (see :mod:`catalog.services`).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from catalog.attributes import ATTRIBUTES, FIELDS
from catalog.brands import brand_from_name
from catalog.images import MAX_IMAGE_BYTES, check_file_size

#: CSV column -> Product field, for every column we read: the attributes' and the rest.
COLUMNS = {
    "id": "id",
    **{attribute.column: attribute.field for attribute in ATTRIBUTES},
    "year": "year",
    "productDisplayName": "name",
    "latitude": "latitude",
    "longitude": "longitude",
}
REQUIRED = ("id", *(attribute.column for attribute in ATTRIBUTES if attribute.required), "productDisplayName")
MAX_LENGTHS = {"name": 255, **{attribute.field: attribute.max_length for attribute in ATTRIBUTES}}
DEFAULT_MAX_LENGTH = 64
#: The largest id both databases store (a signed 64-bit integer).
MAX_ID = 2**63 - 1
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
#: Limits on what a .zip may declare inside it, checked before anything is decompressed: a
#: zip bomb (a few kilobytes that inflate to gigabytes, or millions of entries) is refused whole.
MAX_ZIP_ENTRIES = 500_000
MAX_CSV_BYTES = 2_000_000_000
MAX_ZIP_TOTAL_BYTES = 50_000_000_000
#: The longest line a styles.csv may hold, in characters: a row is a few hundred. A longer one is
#: rejected without being read into memory whole (a 2 GB file may be one line).
MAX_LINE_CHARS = 100_000
#: Control characters (NUL, escape, newlines...) have no place in a catalog value; PostgreSQL
#: refuses NUL outright.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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
    too_long: list[bool] = []  # an entry for each physical line cut off since the last record
    reader = csv.reader(_bounded_lines(stream, too_long))
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
        if too_long:
            yield Rejected(start, f"the line is longer than {MAX_LINE_CHARS:,} characters")
            too_long.clear()
            continue
        if not any(field.strip() for field in record):
            continue
        yield _row(start, record, header, positions)


def _bounded_lines(stream: io.TextIOBase, too_long: list[int]) -> Iterator[str]:
    """The lines of ``stream``; one longer than :data:`MAX_LINE_CHARS` is read past in pieces,
    never whole, and stands as an empty line, noted in ``too_long``."""
    while line := stream.readline(MAX_LINE_CHARS + 1):
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            while (rest := stream.readline(MAX_LINE_CHARS)) and not rest.endswith("\n"):
                pass
            too_long.append(True)
            line = "\n"
        yield line


def _row(line: int, record: list[str], header: list[str], positions: dict[str, int]) -> Row | Rejected:
    # As the report shows it: a cell's control characters written out (PostgreSQL stores no NUL).
    product_id = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in
                         (record[positions["id"]].strip() if len(record) > positions["id"] else "")[:64])
    if len(record) != len(header):
        return Rejected(line, f"expected {len(header)} fields, found {len(record)} "
                              "(an unquoted comma in a value?)", product_id)
    if not _whole_number(product_id, 1, MAX_ID):
        return Rejected(line, f"id {product_id[:30]!r} is not a whole number from 1 to {MAX_ID}", product_id[:30])
    values: dict[str, object] = {}
    for column, field in COLUMNS.items():
        raw = record[positions[column]].strip() if column in positions else ""
        if column in REQUIRED and not raw:
            return Rejected(line, f"{column} is empty", product_id)
        if len(raw) > MAX_LENGTHS.get(field, DEFAULT_MAX_LENGTH):
            return Rejected(line, f"{column} is longer than {MAX_LENGTHS.get(field, DEFAULT_MAX_LENGTH)} characters",
                            product_id)
        if CONTROL.search(raw):
            return Rejected(line, f"{column} holds a control character", product_id)
        if "\ufffd" in raw:
            return Rejected(line, f"{column} is not UTF-8 text", product_id)
        if field in FIELDS and "|" in raw:
            return Rejected(line, f"{column} holds '|', which separates tags", product_id)
        values[field] = raw
    values["id"] = int(product_id)
    values["brand"] = values["brand"] or brand_from_name(str(values["name"]))[:64]
    year = values["year"]
    if year and not _whole_number(str(year), 1900, 2100):
        return Rejected(line, f"year {year!r} is not a year from 1900 to 2100", product_id)
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


def _whole_number(text: str, low: int, high: int) -> bool:
    """Whether ``text`` is ASCII digits (``'²'.isdigit()`` is true too) for a number in range."""
    return text.isascii() and text.isdigit() and len(text) <= len(str(high)) and low <= int(text) <= high


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
        if path.is_dir():
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
            raise CatalogError(f"{path} is neither a folder nor a .zip file")

    def __enter__(self) -> CatalogSource:
        return self

    def __exit__(self, *exc: object) -> None:
        for archive in (self._zip, self._images):
            if archive:
                archive.close()

    def rows(self) -> Iterator[Row | Rejected]:
        """Every row of styles.csv, decoded as it streams; undecodable bytes reject their row."""
        member = str(self._root / "styles.csv")
        if self._zip is None:
            binary: io.BufferedIOBase = (self.path / member).open("rb")
        else:
            binary = self._zip.open(self._names[member])
        with binary, io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="") as text:
            yield from parse_styles(text)

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
