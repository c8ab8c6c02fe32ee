"""What every catalog source yields, a product at a time: a clean :class:`Row` or a precise
:class:`Rejected`, checked by the attribute registry whatever the file's layout."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from catalog.attributes import ALWAYS, BY_FIELD, Invalid, clean_product_id

#: The longest line a styles.csv or a feed may hold, in characters: a row is a few hundred (a
#: feed's, with its description, a few thousand). A longer one is rejected without being read
#: into memory whole (a 2 GB file may be one line).
MAX_LINE_CHARS = 100_000


class CatalogError(ValueError):
    """The catalog as a whole cannot be read (no styles.csv, a required column missing...)."""


@dataclass(frozen=True)
class Row:
    """A product read from a file: its id and the attributes the file gives (others are left as they are)."""

    line: int
    product_id: str
    values: dict[str, object]


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str
    product_id: str = ""


def shown_id(raw: str) -> str:
    """A row's id as a report shows it: control characters written out (PostgreSQL stores no
    NUL), at most 64 characters."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in raw.strip()[:64])


def clean_row(line: int, raw_id: str, values: dict[str, object], names: dict[str, str],
              required: Collection[str] = ALWAYS) -> Row | Rejected:
    """A row whose attributes (by field) are checked by the registry; a rejection naming the
    first bad one by the name the file gives it (``names``: field -> column), or the first of
    the ``required`` fields that is empty."""
    product_id = shown_id(raw_id)
    try:
        product_id = clean_product_id(raw_id)
    except Invalid as exc:
        return Rejected(line, f"id {product_id[:30]!r} {exc}", product_id)
    cleaned: dict[str, object] = {}
    for field, raw in values.items():
        attribute = BY_FIELD[field]
        try:
            cleaned[field] = attribute.clean(raw)
        except Invalid as exc:
            return Rejected(line, f"{names.get(field, field)} {exc}", product_id)
        if field in required and cleaned[field] in ("", None):
            return Rejected(line, f"{names.get(field, field)} is empty", product_id)
    missing = [field for field in required if field not in cleaned]
    if missing:
        return Rejected(line, f"{names.get(missing[0], missing[0])} is missing", product_id)
    return Row(line, product_id, cleaned)


#: A data record of a delimited file: the line it starts on, and its fields.
Record = tuple[int, list[str]]


def read_records(text: io.TextIOBase, delimiter: str, empty: str) -> tuple[list[str], Iterator[Record | Rejected]]:
    """A delimited file's header (raises :class:`CatalogError` with ``empty`` for an empty file),
    and each later record, or a rejection for one that cannot be read or runs longer than
    :data:`MAX_LINE_CHARS`; blank records are skipped.

    Line numbers are those a person sees in an editor (the header is line 1), and count the
    physical start of each record even when a quoted field spans lines.
    """
    too_long: list[bool] = []  # an entry for each physical line cut off since the last record
    reader = csv.reader(bounded_lines(text, too_long), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise CatalogError(empty) from None

    def records() -> Iterator[Record | Rejected]:
        line = reader.line_num + 1
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Rejected(line, f"unreadable line: {exc}")
                line = reader.line_num + 1
                continue
            start, line = line, reader.line_num + 1
            if too_long:
                yield Rejected(start, f"the line is longer than {MAX_LINE_CHARS:,} characters")
                too_long.clear()
            elif any(field.strip() for field in record):
                yield start, record

    return header, records()


def bounded_lines(stream: io.TextIOBase, too_long: list[bool]) -> Iterator[str]:
    """The lines of ``stream``; one longer than :data:`MAX_LINE_CHARS` is read past in pieces,
    never whole, and stands as an empty line, noted in ``too_long``."""
    while line := stream.readline(MAX_LINE_CHARS + 1):
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            while (rest := stream.readline(MAX_LINE_CHARS)) and not rest.endswith("\n"):
                pass
            too_long.append(True)
            line = "\n"
        yield line
