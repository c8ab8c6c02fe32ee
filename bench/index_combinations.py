"""Recall@12 and latency of each index type and metric (FLAT/HNSW x L2/IP/COSINE), per vector
field, on the demo catalog's real embeddings. Same data, same run, one embedded Redis.

    .venv/bin/python -m bench.index_combinations [--queries 200]

Embeddings are cached in var/bench/demo-embeddings.npz (computing the image ones takes a few
minutes on a CPU). Writes bench/index_combinations.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

import django
import numpy as np

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finder.settings")
django.setup()

from django.conf import settings  # noqa: E402
from PIL import Image  # noqa: E402
from redisvl.index import SearchIndex  # noqa: E402
from redisvl.query import VectorQuery  # noqa: E402

from search import embedders  # noqa: E402
from search.redis_server import EmbeddedRedis  # noqa: E402
from search.schema import IMAGE_VECTOR, TEXT_VECTOR, IndexLayout, VectorIndexSpec  # noqa: E402
from search.selectors import index_info  # noqa: E402

DEMO = Path(settings.BASE_DIR) / "data" / "demo-catalog"
CACHE = Path(settings.VAR_DIR) / "bench" / "demo-embeddings.npz"
SPECS = ["FLAT:L2", "FLAT:IP", "FLAT:COSINE", "HNSW:L2:M=16,EF_CONSTRUCTION=200,EF_RUNTIME=100",
         "HNSW:IP:M=16,EF_CONSTRUCTION=200,EF_RUNTIME=100", "HNSW:COSINE:M=16,EF_CONSTRUCTION=200,EF_RUNTIME=100"]
K = 12


def demo_embeddings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if CACHE.exists():
        cached = np.load(CACHE)
        return cached["ids"], cached["text"], cached["image"]
    with (DEMO / "styles.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [". ".join(v for v in (r["productDisplayName"], r["gender"], r["articleType"], r["baseColour"],
                                   r["usage"]) if v and v != "NA") for r in rows]
    text = embedders.text_embedder().embed(texts)
    image_model = embedders.image_embedder()
    image = np.concatenate([
        image_model.embed([Image.open(DEMO / "images" / f"{r['id']}.jpg") for r in rows[i:i + 32]])
        for i in range(0, len(rows), 32)])
    ids = np.array([int(r["id"]) for r in rows])
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, ids=ids, text=text, image=image)
    return ids, text, image


def measure(client, field: str, spec_text: str, ids: np.ndarray, vectors: np.ndarray, queries: int) -> dict:
    spec = VectorIndexSpec.parse(spec_text)
    layout = IndexLayout(f"bench-{field}", vectors.shape[1], spec, spec)
    started = time.perf_counter()
    SearchIndex(layout.schema(), redis_client=client).create()
    while index_info(client, layout.index_name)["percent_indexed"] < 1:
        time.sleep(0.01)
    build_s = time.perf_counter() - started
    position = {int(pid): i for i, pid in enumerate(ids)}
    rows = np.random.default_rng(0).choice(len(ids), queries, replace=False)
    hits, latencies = 0, []
    for row in rows:
        exact = vectors @ vectors[row]
        threshold = np.sort(exact)[::-1][K - 1] - 1e-5
        query = VectorQuery(vector=vectors[row].tobytes(), vector_field_name=field, return_fields=[], num_results=K)
        t = time.perf_counter()
        docs = client.ft(layout.index_name).search(query, query.params).docs
        latencies.append((time.perf_counter() - t) * 1000)
        hits += sum(exact[position[int(d.id.rsplit(":", 1)[1])]] >= threshold for d in docs)
    info = index_info(client, layout.index_name)
    client.ft(layout.index_name).dropindex(delete_documents=False)
    return {"field": field, "dims": int(vectors.shape[1]), "index": str(spec), "documents": len(ids),
            "recall_at_12": hits / (queries * K), "p50_ms": float(np.percentile(latencies, 50)),
            "p99_ms": float(np.percentile(latencies, 99)), "build_s": build_s,
            "vector_index_mb": info["vector_index_sz_mb"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    ids, text, image = demo_embeddings()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        server = EmbeddedRedis.start(Path(folder))
        try:
            import redis

            client = redis.Redis.from_url(server.url, protocol=2)
            for field, vectors in ((TEXT_VECTOR, text), (IMAGE_VECTOR, image)):
                layout = IndexLayout(f"bench-{field}", vectors.shape[1], VectorIndexSpec("FLAT", "L2"),
                                     VectorIndexSpec("FLAT", "L2"))
                pipe = client.pipeline(transaction=False)
                for pid, vector in zip(ids, vectors, strict=True):
                    pipe.hset(layout.doc_key(int(pid)), mapping={"id": int(pid), field: vector.tobytes()})
                pipe.execute()
                results += [measure(client, field, spec, ids, vectors, args.queries) for spec in SPECS]
        finally:
            server.stop()
    Path(__file__).with_name("index_combinations.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| field | dims | index | recall@12 | p50 ms | p99 ms | build s | vector index MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['field']} | {r['dims']} | `{r['index']}` | {r['recall_at_12']:.3f} | {r['p50_ms']:.2f} | "
              f"{r['p99_ms']:.2f} | {r['build_s']:.2f} | {r['vector_index_mb']:.1f} |")


if __name__ == "__main__":
    main()
