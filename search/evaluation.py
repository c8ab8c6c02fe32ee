"""Measuring the index against the truth: recall of the live index against exact search."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import numpy as np
from redisvl.query import VectorQuery

from search.connection import get_client, search_errors
from search.schema import IMAGE_VECTOR, TEXT_VECTOR, alias
from search.selectors import live_index


@dataclass(frozen=True)
class RecallReport:
    field: str
    spec: str
    documents: int
    samples: int
    k: int
    recall: float
    index_ms_p50: float
    index_ms_p99: float
    exact_ms_p50: float


def recall_check(samples: int = 50, k: int = 12, seed: int = 0) -> list[RecallReport]:
    """For ``samples`` random products, the live index's top-``k`` against exact top-``k``.

    Exact search is brute force in numpy over every vector in the index; a returned product
    counts as a hit when it is in the exact top-k or ties with its last score.
    """
    live = live_index(refresh=True)
    client = get_client()
    reports = []
    with search_errors():
        keys = sorted(client.scan_iter(match=f"{live.doc_prefix}*", count=1000))
        for field in (TEXT_VECTOR, IMAGE_VECTOR):
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.hget(key, field)
            raw = [(key, value) for key, value in zip(keys, pipe.execute(), strict=True) if value is not None]
            if not raw:
                continue
            matrix = np.stack([np.frombuffer(value, dtype=np.float32) for _, value in raw])
            names = [key.decode() if isinstance(key, bytes) else key for key, _ in raw]
            position = {name: i for i, name in enumerate(names)}
            chosen = random.Random(seed).sample(range(len(raw)), min(samples, len(raw)))
            hits, index_ms, exact_ms = 0, [], []
            for row in chosen:
                started = time.perf_counter()
                scores = matrix @ matrix[row]
                top = np.argsort(-scores)[:k]
                exact_ms.append((time.perf_counter() - started) * 1000)
                threshold = scores[top[-1]] - 1e-6
                query = VectorQuery(vector=raw[row][1], vector_field_name=field, return_fields=[], num_results=k)
                started = time.perf_counter()
                found = client.ft(alias()).search(query, query.params).docs
                index_ms.append((time.perf_counter() - started) * 1000)
                hits += sum(1 for doc in found if doc.id in position and scores[position[doc.id]] >= threshold)
            reports.append(RecallReport(
                field=field, spec=str(live.specs[field]), documents=len(raw), samples=len(chosen), k=k,
                recall=hits / (len(chosen) * min(k, len(raw))),
                index_ms_p50=float(np.percentile(index_ms, 50)), index_ms_p99=float(np.percentile(index_ms, 99)),
                exact_ms_p50=float(np.percentile(exact_ms, 50)),
            ))
    return reports
