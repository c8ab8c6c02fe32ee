"""Google Merchant Center product feeds, the format most shops already publish.

Two forms, told apart by their content, not their name: tab-separated text (a header row of the
specification's attribute names, ``g:`` prefix or not) and XML (RSS 2.0: an ``<item>`` a product,
``title``, ``link`` and ``description`` as RSS's own elements or in the ``g:`` namespace, the
rest in ``g:``). XML is parsed by defusedxml: no entity expansion, no external entities.

Each product becomes a :class:`catalog.rows.Row` of the finder's attributes
(docs/catalog.md lists the mapping):

- ``gender`` and ``age_group`` make the finder's gender: Men, Women, Boys, Girls or Unisex;
- ``product_type``'s path ("Apparel > Tops > T-shirts") makes the category (its first step), the
  product type (its last) and the sub category (the one before the last, when there are three);
- ``price`` and ``sale_price`` ("12.99 USD", "1,299.00 INR") must be in the shop's currency,
  ``FINDER_CURRENCY``: a price in another is refused for that product, with the reason;
- ``availability`` is read as the specification and real feeds spell it ("in stock", "in_stock",
  "Out-of-stock", the old "available for order").
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from django.conf import settings

from catalog.rows import CatalogError, Rejected, Row, clean_row, read_records

FEED_EXTENSIONS = (".tsv", ".txt", ".xml")
GOOGLE = "http://base.google.com/ns/1.0"
#: Merchant Center attribute -> the finder's attribute, where one fills the other directly.
DIRECT = {
    "title": "name",
    "description": "description",
    "link": "link",
    "image_link": "image_link",
    "availability": "availability",
    "brand": "brand",
    "color": "base_colour",
    "google_product_category": "google_product_category",
    "item_group_id": "group",
}
#: What a feed must give each product.
REQUIRED = ("id", "title")
#: (gender, age group) -> the finder's gender; any age but a child's is an adult's.
CHILDREN = ("newborn", "infant", "toddler", "kids", "kid", "child", "children")
GENDERS = {("male", False): "Men", ("female", False): "Women", ("male", True): "Boys", ("female", True): "Girls",
           ("unisex", False): "Unisex", ("unisex", True): "Unisex"}
#: How real feeds spell the specification's genders.
GENDER_SPELLINGS = {"men": "male", "man": "male", "mens": "male", "women": "female", "woman": "female",
                    "womens": "female", "ladies": "female"}
#: Availability values the specification once had, and spellings real feeds use.
AVAILABILITY_SPELLINGS = {"available for order": "in_stock", "limited availability": "in_stock",
                          "instock": "in_stock", "outofstock": "out_of_stock", "pre-order": "preorder",
                          "back-order": "backorder"}
#: "12.99 USD", "USD 12.99", "1,299.00 INR", "15 EUR".
PRICE = re.compile(r"(?:(?P<before>[A-Za-z]{3})\s*)?(?P<number>[0-9][0-9.,\s]*?)\s*(?P<after>[A-Za-z]{3})?")
#: How much of a file is read to tell a feed from something else.
SNIFF_BYTES = 4096


def is_feed(path: Path) -> bool:
    """Whether ``path`` reads as a Merchant Center feed (XML, or tab-separated with an ``id`` column)."""
    with path.open("rb") as handle:
        start = handle.read(SNIFF_BYTES).lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"<"):
        return True
    header = start.split(b"\n", 1)[0].decode("utf-8", "replace")
    return "\t" in header and "id" in _names(header.rstrip("\r").split("\t"))


def _names(header: list[str]) -> list[str]:
    """A header's attribute names as the specification spells them: ``g:price``, ``Price`` and
    ``image link`` are ``price`` and ``image_link``."""
    return ["_".join(name.strip().lower().removeprefix("g:").split()) for name in header]


def read_feed(binary: IO[bytes]) -> Iterator[Row | Rejected]:
    """Every product of a feed, in order: a row, or a rejection with its line (tab-separated) or
    item number (XML) and the reason."""
    start = binary.read(SNIFF_BYTES)
    binary.seek(0)
    if start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        yield from _xml_items(binary)
    else:
        with io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="") as text:
            yield from _tsv_rows(text)


def _tsv_rows(text: io.TextIOBase) -> Iterator[Row | Rejected]:
    """Each product of a tab-separated feed, numbered by its line (:func:`catalog.rows.read_records`)."""
    header, records = read_records(text, "\t", "the feed is empty")
    header = _names(header)
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CatalogError(f"the feed lacks the required column(s): {', '.join(missing)}")
    for item in records:
        if isinstance(item, Rejected):
            yield item
        elif len(item[1]) != len(header):
            yield Rejected(item[0], f"expected {len(header)} tab-separated fields, found {len(item[1])}")
        else:
            yield product(item[0], dict(zip(header, item[1], strict=True)))


def _xml_items(binary: IO[bytes]) -> Iterator[Row | Rejected]:
    """Each ``<item>`` (RSS) or ``<entry>`` (Atom), numbered from 1, read as it streams."""
    number = 0
    try:
        for _, element in ElementTree.iterparse(binary, events=("end",), forbid_dtd=True):
            if _local(element.tag) not in ("item", "entry"):
                continue
            number += 1
            item: dict[str, str] = {}
            for child in element:
                name = _local(child.tag)
                # RSS's own title, link and description, or the g: ones; the g: one wins.
                if child.tag.startswith(f"{{{GOOGLE}}}") or name not in item:
                    item[name] = "".join(child.itertext())
            element.clear()
            yield product(number, item)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise CatalogError(f"the XML feed cannot be read after item {number}: {exc}") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def product(line: int, item: dict[str, str]) -> Row | Rejected:
    """One feed product (attribute -> text) as the finder's attributes."""
    raw_id = item.get("id", "")
    values: dict[str, object] = {field: item[name] for name, field in DIRECT.items() if name in item}
    names = {field: name for name, field in DIRECT.items()}
    if "availability" in values:
        said = " ".join(str(values["availability"]).lower().split())
        values["availability"] = AVAILABILITY_SPELLINGS.get(said, said)
    for name in ("price", "sale_price"):
        if name in item:
            try:
                values[name] = price(item[name])
            except ValueError as exc:
                return Rejected(line, f"{name} {exc}", raw_id.strip()[:64])
    if "gender" in item or "age_group" in item:
        values["gender"] = gender(item.get("gender", ""), item.get("age_group", ""))
    if "product_type" in item:
        values.update(product_type(item["product_type"]))
    return clean_row(line, raw_id, values, names)


def price(text: str) -> str | None:
    """A feed's price ("12.99 USD", "1,299.00 INR", "15 EUR") as a number in the shop's currency;
    None for a blank. Raises ValueError for another currency or no number."""
    text = text.strip()
    if not text:
        return None
    match = PRICE.fullmatch(text)
    if match is None or (match["before"] and match["after"]):
        raise ValueError(f"{text[:40]!r} is not a price such as “12.99 {settings.FINDER_CURRENCY}”")
    currency = (match["before"] or match["after"] or settings.FINDER_CURRENCY).upper()
    if currency != settings.FINDER_CURRENCY:
        raise ValueError(f"{text[:40]!r} is in {currency}; this shop sells in {settings.FINDER_CURRENCY} "
                         "(FINDER_CURRENCY)")
    number = re.sub(r"\s", "", match["number"])
    if re.fullmatch(r"[0-9]+,[0-9]{1,2}", number):  # a decimal comma: "12,99"
        return number.replace(",", ".")
    return number.replace(",", "")


def gender(said: str, age_group: str) -> str:
    """The finder's gender for a feed's ``gender`` and ``age_group`` ("" when it says none)."""
    said = said.strip().lower()
    return GENDERS.get((GENDER_SPELLINGS.get(said, said), age_group.strip().lower() in CHILDREN), "")


def product_type(path: str) -> dict[str, str]:
    """Category, sub category and product type from a ``product_type`` path."""
    steps = [step.strip() for step in path.split(">") if step.strip()]
    if not steps:
        return {}
    return {"master_category": steps[0], "article_type": steps[-1] if len(steps) > 1 else "",
            "sub_category": steps[-2] if len(steps) > 2 else ""}
