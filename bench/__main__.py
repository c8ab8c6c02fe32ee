"""The benchmark suite: ``make bench`` (or ``python -m bench``).

Every comparison is measured in the same run, on this machine, and reported as a ratio:

- embedding: image and text throughput, the finder's runtime against eager PyTorch;
- knn: Redis FLAT and HNSW against hnswlib and numpy, on the demo catalog's embeddings and on
  100,000 synthetic vectors of 384, 1280 and 2048 dimensions;
- map: the catalog map's layout of 2,946 and 44,000 synthetic vectors;
- import: the public metadata file's 44,446 rows, without photos, imported by a real finder:
  seconds until every product is searchable by text; as its styles.csv, and as a Merchant Center feed;
- site: a real finder (``runfinder``) from launch to the demo catalog fully searchable, Redis
  memory per product, Redis round trips per request, ``/similar`` and ``/search`` under 16
  concurrent clients, and, a keystroke at a time, autocomplete and the instant-search fragment;
  with wrk (where installed), ``/similar`` page and API against a do-nothing floor view, server CPU
  per request, uniform and Zipf-skewed product popularity; the search API plain, with facets, with
  a rule on every query, and with both;
  then started again with search analytics off, ``/search`` once more;
- writes: the similar page under 16 clients while 10 product writes a second arrive through the
  API, and the bulk write API's products a second (text only).

Writes ``results.json`` and ``results.md`` (the table the README shows) into ``--out``.
``--quick`` runs everything on tiny inputs: what the test suite does to keep this code working.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finder.settings.local")
django.setup()

import numpy as np  # noqa: E402
import redis  # noqa: E402
import torch  # noqa: E402
from django.conf import settings  # noqa: E402
from PIL import Image  # noqa: E402

from bench import embedding, knn, site, writes, wrk  # noqa: E402
from bench.report import markdown  # noqa: E402
from devserver.redis_server import EmbeddedRedis  # noqa: E402
from search.embedding.image import image_embedder  # noqa: E402
from search.embedding.text import text_embedder  # noqa: E402
from search.store.schema import configured_vector_type  # noqa: E402

DEMO = Path(settings.BASE_DIR) / "data" / "demo-catalog"
SPECS = ["FLAT:L2", "FLAT:IP", "FLAT:COSINE", "HNSW:L2:M=16,EF_CONSTRUCTION=200,EF_RUNTIME=100",
         "HNSW:IP:M=16,EF_CONSTRUCTION=200,EF_RUNTIME=100", "HNSW:COSINE:M=16,EF_CONSTRUCTION=200,EF_RUNTIME=100"]


def machine() -> dict[str, Any]:
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "python": platform.python_version(), "torch": torch.__version__}


def demo_catalog(quick: bool, scratch: Path) -> Path:
    """The demo catalog, or (quick) a copy of its first 24 products in ``scratch``."""
    if not quick:
        return DEMO
    folder = scratch / "catalog"
    folder.mkdir()
    with (DEMO / "styles.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [row for _, row in zip(range(24), reader, strict=False)]
        fields = reader.fieldnames or []
    (folder / "images").mkdir()
    with (folder / "styles.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        shutil.copy(DEMO / "images" / f"{row['id']}.jpg", folder / "images")
    return folder


def knn_section(catalog: Path, synthetic: int, queries: int) -> list[dict[str, Any]]:
    with (catalog / "styles.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    text = text_embedder().embed([row["productDisplayName"] for row in rows])
    images = [Image.open(catalog / "images" / f"{row['id']}.jpg") for row in rows]
    image = np.concatenate([image_embedder().embed(images[i:i + 256]) for i in range(0, len(images), 256)])
    vector_type = configured_vector_type()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        server = EmbeddedRedis.start(Path(folder))
        try:
            client = redis.Redis.from_url(server.url, protocol=2)
            rng = np.random.default_rng(0)
            for vectors in (text, image):
                # Demo size: each product's vector queries all the others (itself included).
                chosen = vectors[rng.choice(len(vectors), min(queries, len(vectors)), replace=False)]
                results += knn.compare(client, "demo catalog", vectors, chosen, SPECS, vector_type)
            for dims in (384, 1280, 2048):
                vectors = knn.clustered(synthetic + queries, dims, seed=dims)
                results += knn.compare(client, "synthetic", vectors[:synthetic], vectors[synthetic:], SPECS[2::3],
                                       vector_type)
        finally:
            server.stop()
    return results


def site_section(catalog: Path, http_seconds: float, clients: int) -> dict[str, Any]:
    expected = sum(1 for _ in (catalog / "images").glob("*.jpg"))
    folder = Path(tempfile.mkdtemp(prefix="bench-site-", dir=settings.VAR_DIR))
    try:
        with site.RunningSite(folder, catalog, env=_database()) as running:
            serving_s = running.wait_until_serving()
            indexed_s = running.wait_until_indexed(expected)
            client = running.redis()
            ids = [row["id"] for row in csv.DictReader((catalog / "styles.csv").open(newline=""))]
            queries = [q["q"] for q in json.loads((DEMO.parent / "shopper-queries.json").read_text())]
            similar = site.similar_paths(ids)
            search = site.search_paths(queries)
            result: dict[str, Any] = {"database": running.env.get("DATABASE_URL", "sqlite").split(":")[0],
                                      "products": expected, "serving_s": round(serving_s, 1),
                                      "fully_searchable_s": round(indexed_s, 1)}
            # Pages as shoppers ask them (first asks and repeats, as they come), and the API's
            # first asks at two answer sizes: its Redis commands must not grow with the results.
            result["round_trips"] = {name: site.round_trips(running, client, pick)
                                     for name, pick in (("similar", similar), ("search", search),
                                                        ("api_k12", site.api_similar_paths(ids, 12)),
                                                        ("api_k96", site.api_similar_paths(ids, 96)))}
            memory_before = running.memory_mb()
            for name, pick in (("similar", similar), ("search", search)):
                load = site.load.run_load(running.base_url, pick, clients, http_seconds, *site.SHOPPER)
                result[f"http_{name}"] = load.summary() | {"error_samples": load.errors[:5]}
                # One shopper at a time: what a request costs when it does not queue behind others.
                alone = site.load.run_load(running.base_url, pick, 1, http_seconds / 3, *site.SHOPPER)
                result[f"http_{name}_alone"] = alone.summary()
            # As a shopper types: autocomplete and the instant-search fragment, a keystroke at a time.
            for name, pick, headers in (("suggest", site.suggest_paths(queries), None),
                                        ("keystroke", site.keystroke_paths(queries), site.FRAGMENT)):
                typing = site.load.run_load(running.base_url, pick, 1, http_seconds / 3, *site.SHOPPER,
                                            headers=headers)
                result[f"http_{name}_alone"] = typing.summary()
            if wrk.available():
                result["wrk"] = wrk.similar_section(running, ids, clients, http_seconds)
                result["steering"] = wrk.search_section(running, queries, ids, clients, http_seconds)
            result["process_memory_mb"] = {"before": memory_before, "after": running.memory_mb()}
            result["redis_memory"] = site.memory_per_product(client, expected)
        # The same finder on the same data, started again with search analytics off: what
        # recording each search costs the search path.
        with site.RunningSite(folder, catalog, env={**_database(), "FINDER_ANALYTICS": "0"}) as quiet:
            quiet.wait_until_serving()
            quiet.wait_until_indexed(expected)
            off = site.load.run_load(quiet.base_url, search, 1, http_seconds / 3, *site.SHOPPER).summary()
        result["analytics"] = {"on": result["http_search_alone"], "off": off}
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _database() -> dict[str, str]:
    """The site section's database: its own SQLite file, or the one ``BENCH_DATABASE_URL`` names
    (PostgreSQL, as in production), which should start empty: the run fills it."""
    url = os.environ.get("BENCH_DATABASE_URL", "")
    return {"DATABASE_URL": url} if url else {}


def map_section(sizes: list[int]) -> list[dict[str, Any]]:
    """The catalog map's layout (t-SNE on 50 principal components) of synthetic catalogs: 384-d
    vectors around 40 centres, as a catalog's product types cluster."""
    from search.mapping import layout

    rows = []
    for size in sizes:
        rng = np.random.default_rng(size)
        centres = rng.standard_normal((40, 384)) * 3
        vectors = (centres[rng.integers(0, 40, size)] + rng.standard_normal((size, 384))).astype(np.float32)
        started = time.perf_counter()
        _, method = layout(vectors, "tsne")
        seconds = round(time.perf_counter() - started, 1)
        rows.append({"vectors": size, "dims": 384, "method": method, "seconds": seconds})
    return rows


def import_section(rows: int) -> dict[str, Any]:
    """The first ``rows`` rows of the public metadata file, without photos, imported by a real
    finder at launch: seconds until every product is searchable by text, and until it serves; as
    the public set's styles.csv, and as a Merchant Center feed (``feed``)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-import-", dir=settings.VAR_DIR))
    try:
        catalog = folder / "catalog"
        (catalog / "images").mkdir(parents=True)
        with (DEMO.parent / "styles-full.csv").open(newline="") as source:
            (catalog / "styles.csv").write_text("".join(line for _, line in zip(range(rows + 1), source, strict=False)))
        feed = folder / "feed.tsv"
        writes.styles_as_feed(DEMO.parent / "styles-full.csv", feed, rows)
        result: dict[str, Any] = {}
        for name, path in (("csv", catalog), ("feed", feed)):
            with site.RunningSite(folder / name, path) as running:
                serving_s = running.wait_until_serving(timeout=3600)
                searchable_s = running.wait_until_indexed(1, timeout=3600)
                counts = running.status()
            figures = {"products": counts["products"], "failed": counts.get("failed", 0),
                       "serving_s": round(serving_s, 1), "searchable_by_text_s": round(searchable_s, 1)}
            result.update({"rows": rows, **figures} if name == "csv" else {"feed": figures})
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def writes_section(catalog: Path, http_seconds: float, clients: int, bulk_products: int,
                   env: dict[str, str] | None = None) -> dict[str, Any]:
    """A finder on the demo catalog (with ``env``): the similar page under load, alone and while 10
    writes a second arrive through the API; then a bulk write of ``bulk_products`` products (text only)."""
    expected = sum(1 for _ in (catalog / "images").glob("*.jpg"))
    folder = Path(tempfile.mkdtemp(prefix="bench-writes-", dir=settings.VAR_DIR))
    try:
        with site.RunningSite(folder, catalog, env={**_database(), **(env or {})}) as running:
            running.wait_until_serving()
            running.wait_until_indexed(expected)
            ids = [row["id"] for row in csv.DictReader((catalog / "styles.csv").open(newline=""))]
            pages = writes.pages_under_writes(running, ids, clients, http_seconds)
            return {"pages": pages, "bulk": writes.bulk(running, DEMO.parent / "styles-full.csv", bulk_products,
                                                        skip=0)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs: checks that the code runs")
    parser.add_argument("--sections", default="embedding,knn,map,import,site,writes", help="comma-separated")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        results = run(sections, args.quick, demo_catalog(args.quick, Path(scratch)))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (args.out / "results.md").write_text(table)
    print(table)


def run(sections: set[str], quick: bool, catalog: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "quick": quick,
                               "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    if "embedding" in sections:
        print("embedding throughput…", flush=True)
        results["embedding"] = embedding.run(catalog, images=16 if quick else 512, texts=32 if quick else 2946)
    if "knn" in sections:
        print("KNN…", flush=True)
        results["knn"] = knn_section(catalog, synthetic=2000 if quick else 100_000, queries=10 if quick else 200)
    if "map" in sections:
        print("the catalog map…", flush=True)
        results["map"] = map_section([500] if quick else [2946, 44_000])
    if "import" in sections:
        print("a text-only import…", flush=True)
        results["import"] = import_section(300 if quick else 44_446)
    if "site" in sections:
        print("the finder, end to end…", flush=True)
        results["site"] = site_section(catalog, http_seconds=3 if quick else 30, clients=2 if quick else 16)
    if "writes" in sections:
        print("the catalog's writes…", flush=True)
        results["writes"] = writes_section(catalog, http_seconds=3 if quick else 30, clients=2 if quick else 16,
                                           bulk_products=50 if quick else 5000)
    return results


if __name__ == "__main__":
    main()
