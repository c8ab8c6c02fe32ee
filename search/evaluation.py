"""Measuring search against the truth: the index's recall against exact search, and the
relevance (precision@k) of similar products and of the search box."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis
from django.core.cache import cache
from django.utils import timezone
from redisvl.query import VectorQuery

from catalog.models import Product
from finder.celery import app
from search.kinds import KINDS, By
from search.query.box import Mode, search_products
from search.query.filters import Filters, name_words
from search.query.similar import similar_products
from search.store.connection import SearchUnavailable, get_client, search_errors
from search.store.schema import alias
from search.store.versions import live_index

#: How long the last recall check's result is kept to be shown.
RECALL_KEPT_SECONDS = 86_400


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
        for field in (kind.field for kind in KINDS):
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.hget(key, field)
            raw = [(key, value) for key, value in zip(keys, pipe.execute(), strict=True) if value is not None]
            if not raw:
                continue
            matrix = np.stack([live.vector(value) for _, value in raw])
            names = [key.decode() if isinstance(key, bytes) else key for key, _ in raw]
            position = {name: i for i, name in enumerate(names)}
            chosen = random.Random(seed).sample(range(len(raw)), min(samples, len(raw)))
            hits, index_ms, exact_ms = 0, [], []
            for row in chosen:
                started = time.perf_counter()
                scores = matrix @ matrix[row]
                top = np.argsort(-scores)[:k]
                exact_ms.append((time.perf_counter() - started) * 1000)
                threshold = scores[top[-1]] - 1e-4  # float16 vectors: the index may round differently
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


def _recall_key() -> str:
    return f"recall-check:{alias()}"


def start_recall_check(samples: int) -> None:
    """Queue a recall check for a worker: it costs a brute-force pass over every vector, which
    no web process should spend its time on."""
    cache.set(_recall_key(), {"state": "running", "at": timezone.now()}, RECALL_KEPT_SECONDS)
    app.send_task("search.tasks.check_recall", (samples,))


def run_recall_check(samples: int) -> None:
    """Run a recall check and keep its reports (or why it failed) for :func:`last_recall_check`."""
    try:
        outcome = {"state": "done", "reports": recall_check(samples=samples)}
    except (SearchUnavailable, redis.ResponseError) as exc:
        outcome = {"state": "failed", "error": str(exc)}
    cache.set(_recall_key(), {**outcome, "at": timezone.now()}, RECALL_KEPT_SECONDS)


def last_recall_check() -> dict[str, Any] | None:
    """The latest recall check: its state ("running", "done", "failed"), time, and reports."""
    return cache.get(_recall_key())


@dataclass(frozen=True)
class Precision:
    """Mean precision@k over ``evaluated`` cases (``skipped``: those with nothing relevant)."""

    name: str
    precision: float
    evaluated: int
    skipped: int


def _matches(product: dict[str, Any], expect: dict[str, list[str]]) -> bool:
    """Whether a product has one of the expected values of every expected field; ``name_has``
    expects words in the name (a brand, say)."""
    for field, values in expect.items():
        if field == "name_has":
            if not set(name_words(" ".join(values))) <= set(name_words(str(product.get("name", "")))):
                return False
        elif str(product.get(field, "")).lower() not in {v.lower() for v in values}:
            return False
    return True


def similarity_precision(by: By, samples: int = 200, k: int = 12, seed: int = 0) -> Precision:
    """Precision@k of "similar by ``by``": a result counts when it shares the article type.

    The denominator is k, or fewer when the catalog holds fewer other products of that type.
    """
    type_counts = Counter(Product.objects.filter(status=Product.Status.INDEXED).values_list("article_type", flat=True))
    indexed = Product.objects.filter(status=Product.Status.INDEXED)
    if by is By.IMAGE:
        indexed = indexed.exclude(image="")
    candidates = list(indexed.values_list("id", "article_type"))
    chosen = random.Random(seed).sample(candidates, min(samples, len(candidates)))
    scores, skipped = [], 0
    for product_id, article_type in chosen:
        relevant = min(k, type_counts[article_type] - 1)
        if relevant < 1:
            skipped += 1
            continue
        results = similar_products(product_id, by, Filters(), k=k)
        scores.append(sum(r["article_type"] == article_type for r in results) / relevant)
    return Precision(f"similar by {by}", float(np.mean(scores)) if scores else 0.0, len(scores), skipped)


def search_precision(queries: list[dict[str, Any]], mode: Mode, understanding: bool, k: int = 12,
                     label: str = "") -> Precision:
    """Precision@min(k, relevant) of the search box on shopper ``queries`` ({"q", "expect":
    {field: [values]}}): a result counts when it has one of the expected values of every
    expected field. ``label`` names the set in the report."""
    catalog = list(Product.objects.filter(status=Product.Status.INDEXED).values(
        "name", "gender", "master_category", "sub_category", "article_type", "base_colour", "season", "usage"))
    scores, skipped = [], 0
    for query in queries:
        relevant = min(k, sum(_matches(product, query["expect"]) for product in catalog))
        if relevant < 1:
            skipped += 1
            continue
        found = search_products(query["q"], Filters(), k=k, mode=mode, understanding=understanding)
        scores.append(sum(_matches(r, query["expect"]) for r in found.results) / relevant)
    name = f"search box{f' ({label})' if label else ''}, {mode}" + (
        "" if understanding else ", without query understanding or forgiveness")
    return Precision(name, float(np.mean(scores)) if scores else 0.0, len(scores), skipped)
