"""The shop's catalog arriving: a Merchant Center feed imported, the bulk write API, and pages
under load while writes keep coming.

- ``styles_as_feed``: the public metadata file's rows written as a tab-separated Merchant Center
  feed (no photos, no prices: the public set has none, and nothing is invented), for the feed's
  import to be timed against the CSV's;
- ``bulk``: products a second through ``POST /api/v1/products/bulk`` (text only), from the request
  to its answer, and until every one is searchable by text;
- ``pages_under_writes``: the similar page under ``clients`` clients alone, then while 10 product
  writes a second arrive through the API (a price and stock change: nothing re-embedded).
"""

from __future__ import annotations

import csv
import json
import random
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import load, site

FEED_HEADER = ("id", "title", "brand", "gender", "age_group", "color", "product_type", "availability")
GENDERS = {"Men": ("male", "adult"), "Women": ("female", "adult"), "Boys": ("male", "kids"),
           "Girls": ("female", "kids"), "Unisex": ("unisex", "adult")}


def styles_as_feed(source: Path, target: Path, rows: int) -> int:
    """The first ``rows`` rows of a styles.csv as a tab-separated feed; how many it holds."""
    written = 0
    with source.open(newline="", encoding="utf-8") as handle, target.open("w", encoding="utf-8") as out:
        out.write("\t".join(FEED_HEADER) + "\n")
        for row in csv.reader(handle):
            if written == rows or row[0] == "id":
                continue
            if len(row) != 10:  # the file's own malformed rows: a feed would not carry them either
                continue
            product_id, gender, master, sub, article, colour, _, _, _, name = row
            said, age = GENDERS.get(gender, ("", ""))
            cells = (product_id, name, "", said, age, colour, f"{master} > {sub} > {article}", "in stock")
            out.write("\t".join(cell.replace("\t", " ") for cell in cells) + "\n")
            written += 1
    return written


def _api(running: site.RunningSite, method: str, path: str, body: bytes, content_type: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{running.base_url}{path}", data=body, method=method, headers={
        "Authorization": f"Token {running.writer_token}", "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or b"{}")


def bulk(running: site.RunningSite, source: Path, count: int, skip: int) -> dict[str, Any]:
    """``count`` products of the metadata file (after its first ``skip``), text only, in one bulk
    request: seconds to its answer and until every product is searchable by text."""
    lines = []
    with source.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if len(lines) == count + skip:
                break
            if None in row or None in row.values():
                continue
            lines.append(json.dumps({"id": f"bulk-{row['id']}", "name": row["productDisplayName"],
                                     "gender": row["gender"], "master_category": row["masterCategory"],
                                     "sub_category": row["subCategory"], "article_type": row["articleType"],
                                     "base_colour": row["baseColour"], "usage": row["usage"]}))
    lines = lines[skip:]
    before = running.status()["products"]
    started = time.monotonic()
    answer = _api(running, "POST", "/api/v1/products/bulk", "\n".join(lines).encode(), "application/x-ndjson")
    answered = time.monotonic() - started
    deadline = started + 1800
    while (counts := running.status())["pending"] or counts["products"] < before + answer["created"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the bulk products were not searchable: {counts}")
        time.sleep(0.2)
    searchable = time.monotonic() - started
    return {"products": len(lines), "created": answer["created"], "errors": len(answer["errors"]),
            "answered_s": round(answered, 2), "written_per_s": round(len(lines) / answered, 1),
            "searchable_s": round(searchable, 2), "searchable_per_s": round(len(lines) / searchable, 1)}


def pages_under_writes(running: site.RunningSite, ids: list[str], clients: int, seconds: float,
                       writes_per_s: float = 10.0) -> dict[str, Any]:
    """The similar page under ``clients`` clients, alone and while ``writes_per_s`` product writes a
    second arrive (PATCH of a price and stock: the documents rewritten, nothing embedded)."""
    pick = site.similar_paths(ids)
    alone = load.run_load(running.base_url, pick, clients, seconds, *site.SHOPPER).summary()
    stop = threading.Event()
    written: list[float] = []
    writers = 4  # a write waits behind the pages too: several keep the rate

    def write(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            began = time.monotonic()
            body = json.dumps({"price": rng.randint(100, 5000), "availability": rng.choice(("in_stock", "backorder"))})
            _api(running, "PATCH", f"/api/v1/products/{rng.choice(ids)}", body.encode(), "application/json")
            written.append(time.monotonic() - began)
            stop.wait(max(0.0, writers / writes_per_s - (time.monotonic() - began)))

    threads = [threading.Thread(target=write, args=(seed,), daemon=True) for seed in range(writers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        during = load.run_load(running.base_url, pick, clients, seconds, *site.SHOPPER).summary()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    elapsed = time.monotonic() - started
    return {"alone": alone, "with_writes": during, "writes": len(written),
            "writes_per_s": round(len(written) / elapsed, 1),
            "write_ms_p50": round(sorted(written)[len(written) // 2] * 1000, 1) if written else None}
