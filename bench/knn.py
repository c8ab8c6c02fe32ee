"""KNN latency and recall@12 against exact search: Redis FLAT and HNSW, an in-process hnswlib
and numpy brute force, on the same vectors in the same run.

Two data sets: the demo catalog's real embeddings (each index type and metric), and synthetic
vectors of 384, 1280 and 2048 dimensions (COSINE, FLAT and HNSW). Synthetic vectors are drawn
around a hierarchy of cluster centres (groups of similar products within departments), as
real embeddings are, rather than uniformly on the sphere, where no neighbour is nearer than any
other; their queries are vectors of the same distribution that are not in the index. The demo
catalog's queries are products' own vectors, as "similar products" asks. Latency is one client's
round trip, query parsing included, as the web app sees it.
"""

from __future__ import annotations

import time
from typing import Any

import hnswlib
import numpy as np
import redis
from redisvl.index import SearchIndex
from redisvl.query import VectorQuery

from search.store.redisearch import index_info
from search.store.schema import VectorIndexSpec, vector_bytes

K = 12
FIELD = "vector"


def clustered(count: int, dims: int, seed: int) -> np.ndarray:
    """``count`` unit vectors around 100 departments x 50 product groups."""
    rng = np.random.default_rng(seed)
    departments = rng.standard_normal((100, dims))
    groups = departments[rng.integers(0, 100, 5000)] + 0.8 * rng.standard_normal((5000, dims))
    vectors = groups[rng.integers(0, 5000, count)] + 0.6 * rng.standard_normal((count, dims))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """The true top 12 of each query (by cosine), and numpy's latency for each."""
    found, latencies = [], []
    for query in queries:
        started = time.perf_counter()
        scores = vectors @ query
        top = np.argpartition(-scores, K)[:K]
        found.append(top[np.argsort(-scores[top])])
        latencies.append((time.perf_counter() - started) * 1000)
    return np.array(found), latencies


def _recall(found: list[np.ndarray], exact: np.ndarray, vectors: np.ndarray, queries: np.ndarray) -> float:
    """Share of the true top 12 returned; a tie with the 12th counts as a hit."""
    hits = 0
    for got, truth, query in zip(found, exact, queries, strict=True):
        threshold = float(vectors[truth[-1]] @ query) - 1e-4
        hits += sum(float(vectors[i] @ query) >= threshold for i in got[:K])
    return hits / (len(queries) * K)


def _stats(name: str, latencies: list[float], recall: float, **extra: Any) -> dict[str, Any]:
    return {"engine": name, "recall_at_12": round(recall, 4), "p50_ms": round(float(np.percentile(latencies, 50)), 3),
            "p99_ms": round(float(np.percentile(latencies, 99)), 3), **extra}


def load(client: redis.Redis, prefix: str, vectors: np.ndarray, vector_type: str) -> None:
    pipe = client.pipeline(transaction=False)
    for row, vector in enumerate(vectors):
        pipe.hset(f"{prefix}{row}", FIELD, vector_bytes(vector, vector_type))
        if row % 2000 == 1999:
            pipe.execute()
    pipe.execute()


def redis_index(client: redis.Redis, prefix: str, spec: VectorIndexSpec, vectors: np.ndarray,
                queries: np.ndarray, exact: np.ndarray, vector_type: str) -> dict[str, Any]:
    """Index the documents under ``prefix`` with ``spec``; build time, recall and latency."""
    name = f"bench-knn-{prefix}-{abs(hash(str(spec)))}"
    schema = {"index": {"name": name, "prefix": prefix, "storage_type": "hash"},
              "fields": [{"name": FIELD, "type": "vector", "attrs": spec.attrs(vectors.shape[1], vector_type)}]}
    started = time.perf_counter()
    SearchIndex.from_dict(schema, redis_client=client).create()
    while index_info(client, name)["percent_indexed"] < 1:
        time.sleep(0.05)
    build_s = time.perf_counter() - started
    found, latencies = [], []
    for query in queries:
        request = VectorQuery(vector=vector_bytes(query, vector_type), vector_field_name=FIELD, return_fields=[],
                              num_results=K, dtype=vector_type.lower())
        started = time.perf_counter()
        docs = client.ft(name).search(request, request.params).docs
        latencies.append((time.perf_counter() - started) * 1000)
        found.append(np.array([int(doc.id[len(prefix):]) for doc in docs]))
    memory_mb = index_info(client, name)["vector_index_sz_mb"]
    client.ft(name).dropindex(delete_documents=False)
    return _stats(f"redis {spec}", latencies, _recall(found, exact, vectors, queries), build_s=round(build_s, 1),
                  vector_index_mb=round(memory_mb, 1))


def hnswlib_index(vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray, m: int, ef_construction: int,
                  ef: int) -> dict[str, Any]:
    started = time.perf_counter()
    index = hnswlib.Index(space="cosine", dim=vectors.shape[1])
    index.init_index(max_elements=len(vectors), M=m, ef_construction=ef_construction, random_seed=0)
    index.add_items(vectors, np.arange(len(vectors)))
    index.set_ef(ef)
    build_s = time.perf_counter() - started
    index.set_num_threads(1)
    found, latencies = [], []
    for query in queries:
        started = time.perf_counter()
        labels, _ = index.knn_query(query, k=K)
        latencies.append((time.perf_counter() - started) * 1000)
        found.append(labels[0])
    return _stats(f"hnswlib M={m},EF_CONSTRUCTION={ef_construction},EF={ef}", latencies,
                  _recall(found, exact, vectors, queries), build_s=round(build_s, 1))


def compare(client: redis.Redis, label: str, vectors: np.ndarray, queries: np.ndarray, specs: list[str],
            vector_type: str) -> list[dict[str, Any]]:
    """Every engine on one data set; each row says how many vectors, of what size."""
    exact, numpy_latencies = exact_neighbours(vectors, queries)
    prefix = f"knn:{label}:{vectors.shape[1]}:"
    load(client, prefix, vectors, vector_type)
    rows = [_stats("numpy brute force", numpy_latencies, 1.0)]
    for text in specs:
        spec = VectorIndexSpec.parse(text)
        rows.append(redis_index(client, prefix, spec, vectors, queries, exact, vector_type))
        if spec.algorithm == "HNSW" and spec.metric == "COSINE":
            params = dict(spec.params)
            rows.append(hnswlib_index(vectors, queries, exact, int(params.get("M", 16)),
                                      int(params.get("EF_CONSTRUCTION", 200)), int(params.get("EF_RUNTIME", 10))))
    for start in range(0, len(vectors), 5000):
        client.delete(*(f"{prefix}{row}" for row in range(start, min(start + 5000, len(vectors)))))
    return [{"data": label, "vectors": len(vectors), "dims": int(vectors.shape[1]), "vector_type": vector_type,
             **row} for row in rows]
