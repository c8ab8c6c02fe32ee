"""Measuring search against the truth: the index's recall against exact search, and the
relevance (precision@k) of similar products and of the search box."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import redis
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from PIL import Image
from redisvl.query import VectorQuery

from search.embedding.image import SAME_PHOTO, image_model, load_image_embedder
from search.embedding.runtime import default_runtime, device
from search.filters import Filters, name_words
from search.kinds import BY_NAME, KINDS, By
from search.looks import catalog_labels, fit
from search.mapping import indexed_vectors
from search.query.looks import CANDIDATES as LOOKS_CANDIDATES
from search.query.recommend import recommended
from search.query.search_box import Mode, read_query, search_products
from search.query.similar import similar_products, similar_to_image
from search.selectors import searchable_products
from search.store.connection import SearchUnavailable, get_client, get_reader, search_errors
from search.store.schema import alias
from search.store.versions import live_index

#: How long the last recall check's result is kept to be shown.
RECALL_KEPT_SECONDS = 86_400
CHECK_RECALL_TASK = "search.tasks.check_recall"


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
    current_app.send_task(CHECK_RECALL_TASK, (samples,))


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


def similarity_precision(by: By, samples: int = 200, k: int = 12, seed: int = 0, within: bool = False) -> Precision:
    """Precision@k of "similar by ``by``": a result counts when it shares the article type.
    ``within``: as a shopper clicks "By image" in the demo, within the product's own gender and
    category (the filters the page keeps).

    The denominator is k, or fewer when the catalog holds fewer other products of that type
    (within those filters).
    """
    indexed = searchable_products()
    keys = ("article_type", "gender", "master_category") if within else ("article_type",)
    type_counts = Counter(indexed.values_list(*keys))
    if by is By.IMAGE:
        indexed = indexed.exclude(image="")
    candidates = list(indexed.values_list("id", *keys))
    chosen = random.Random(seed).sample(candidates, min(samples, len(candidates)))
    scores, skipped = [], 0
    for product_id, *key in chosen:
        relevant = min(k, type_counts[tuple(key)] - 1)
        if relevant < 1:
            skipped += 1
            continue
        filters = Filters(tags={"gender": (key[1],), "category": (key[2],)}) if within else Filters()
        results = similar_products(product_id, by, filters, k=k)
        scores.append(sum(r["article_type"] == key[0] for r in results) / relevant)
    name = f"similar by {by}" + (", within gender and category" if within else "")
    return Precision(name, float(np.mean(scores)) if scores else 0.0, len(scores), skipped)


def photo_search_precision(samples: int = 200, k: int = 12, seed: int = 0) -> Precision:
    """Precision@k of search by photo, as a shopper who photographs a product sees it: each sampled
    product's photo is searched within its gender and category, the product itself left out (a
    shopper's photo is not in the catalog); a result counts when it shares the article type."""
    indexed = searchable_products().exclude(image="")
    type_counts = Counter(indexed.values_list("article_type", "gender", "master_category"))
    chosen = random.Random(seed).sample(list(indexed), min(samples, indexed.count()))
    scores, skipped = [], 0
    for product in chosen:
        relevant = min(k, type_counts[(product.article_type, product.gender, product.master_category)] - 1)
        if relevant < 1:
            skipped += 1
            continue
        with Image.open(Path(settings.MEDIA_ROOT) / product.image.name) as image:
            image.load()
            filters = Filters(tags={"gender": (product.gender,), "category": (product.master_category,)})
            results = [r for r in similar_to_image(image, filters, k=k + 1) if r["id"] != product.id][:k]
        scores.append(sum(r["article_type"] == product.article_type for r in results) / relevant)
    return Precision("photo search, within gender and category", float(np.mean(scores)) if scores else 0.0,
                     len(scores), skipped)


def recommendation_precision(samples: int = 100, k: int = 12, seed: int = 0) -> list[Precision]:
    """For you, measured: a shopper likes three products of one type and colour (three black
    watches); precision@k is the share of the picks of that type. Then they dismiss three
    products of the other type their picks held most of: the share of that type in the picks,
    before and after (it should fall)."""
    indexed = searchable_products().exclude(image="")
    groups: dict[tuple[str, str], list[int]] = {}
    for product_id, article_type, colour in indexed.values_list("id", "article_type", "base_colour"):
        groups.setdefault((article_type, colour), []).append(product_id)
    type_counts = Counter(indexed.values_list("article_type", flat=True))
    by_type = {t: [pid for (at, _), ids in groups.items() if at == t for pid in ids] for t in type_counts}
    rng = random.Random(seed)
    eligible = sorted(key for key, ids in groups.items() if len(ids) >= 4)
    liked_scores, before, after = [], [], []
    for key in rng.sample(eligible, min(samples, len(eligible))):
        liked = rng.sample(groups[key], 3)
        picks = recommended(dict.fromkeys(liked, 1.0), (), liked, Filters(), k) or []
        liked_scores.append(sum(p["article_type"] == key[0] for p in picks) / min(k, type_counts[key[0]] - 3))
        others = Counter(p["article_type"] for p in picks if p["article_type"] != key[0])
        if not others:
            continue
        unwanted = others.most_common(1)[0][0]
        dismissed = rng.sample(by_type[unwanted], min(3, len(by_type[unwanted])))
        kept = [p for p in picks if p["id"] not in dismissed]
        again = recommended(dict.fromkeys(liked, 1.0), dismissed, [*liked, *dismissed], Filters(), k) or []
        before.append(sum(p["article_type"] == unwanted for p in kept) / k)
        after.append(sum(p["article_type"] == unwanted for p in again) / k)
    return [Precision("For you: liked 3 of a type and colour, that type in the picks",
                      float(np.mean(liked_scores)) if liked_scores else 0.0, len(liked_scores), 0),
            Precision("For you: share of the picks' most common other type, before dismissing 3 of it",
                      float(np.mean(before)) if before else 0.0, len(before), 0),
            Precision("For you: the same share after dismissing them", float(np.mean(after)) if after else 0.0,
                      len(after), 0)]


def search_precision(queries: list[dict[str, Any]], mode: Mode, understanding: bool, k: int = 12,
                     label: str = "") -> Precision:
    """Precision@min(k, relevant) of the search box on shopper ``queries`` ({"q", "expect":
    {field: [values]}}): a result counts when it has one of the expected values of every
    expected field. ``label`` names the set in the report."""
    catalog = list(searchable_products().values(
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


@dataclass(frozen=True)
class ImageModelReport:
    """One image model on the catalog: how fast it embeds, how often its neighbours share the
    article type (precision@k), overall and within the product's gender and category."""

    model: str
    images: int
    images_per_s: float
    precision: float
    precision_within: float


def image_model_report(model: str, samples: int = 200, k: int = 12, seed: int = 0) -> ImageModelReport:
    """Embed every indexed product's photo with ``model`` (in this process, not into the index)
    and measure it by exact nearest neighbours: what choosing it would give, before choosing."""
    products = list(searchable_products().exclude(image="")
                    .values_list("image", "article_type", "gender", "master_category"))
    embedder = load_image_embedder(device(), default_runtime(device()), model)
    started, vectors = time.perf_counter(), []
    for start in range(0, len(products), 64):
        batch = []
        for name, *_ in products[start:start + 64]:
            with Image.open(Path(settings.MEDIA_ROOT) / name) as image:
                image.load()
                batch.append(image)
        vectors.append(embedder.embed(batch))
    seconds = time.perf_counter() - started
    matrix = np.concatenate(vectors)
    kinds = np.array([article_type for _, article_type, _, _ in products])
    groups = np.array([f"{gender}|{category}" for _, _, gender, category in products])
    chosen = random.Random(seed).sample(range(len(products)), min(samples, len(products)))
    scores: dict[bool, list[float]] = {False: [], True: []}
    for row in chosen:
        similarity = matrix @ matrix[row]
        similarity[row] = -np.inf
        for within in (False, True):
            allowed = similarity if not within else np.where(groups == groups[row], similarity, -np.inf)
            pool = (kinds == kinds[row]) & (groups == groups[row] if within else True)
            relevant = min(k, int(pool.sum()) - 1)
            if relevant >= 1:
                top = [i for i in np.argsort(-allowed)[:k] if allowed[i] > -np.inf]
                scores[within].append(float(np.sum(kinds[top] == kinds[row])) / relevant)
    return ImageModelReport(model, len(products), round(len(products) / seconds, 1),
                            float(np.mean(scores[False])) if scores[False] else 0.0,
                            float(np.mean(scores[True])) if scores[True] else 0.0)


def photo_words_precision(holdout: float = 0.2, k: int = 12, seed: int = 0) -> Precision:
    """Words to photos alone, on products the classifiers never saw: fit them (:mod:`search.looks`)
    on the photos of all but a held-out share of the catalog, then search the held-out photos
    for each product type and colour they hold ("navy blue tshirts"), read as the search box
    reads words. A result counts when both its type and its colour are right; precision@min(k,
    relevant). Held-out photos that are copies of one the classifiers saw are left out, and
    only the photos are searched: names and attributes say nothing here."""
    ids, vectors = indexed_vectors(BY_NAME["image"], list(searchable_products().exclude(image="")
                                                          .order_by("id").values_list("id", flat=True)))
    order = np.random.default_rng(seed).permutation(len(ids))
    cut = int(len(ids) * (1 - holdout))
    seen, unseen = order[:cut], order[cut:]
    if len(seen) and len(unseen):
        unseen = unseen[(vectors[unseen] @ vectors[seen].T).max(axis=1) < SAME_PHOTO.get(image_model().name, 1.0)]
    labels = catalog_labels(ids)
    classifiers = fit(vectors[seen], {attribute: [column[i] for i in seen] for attribute, column in labels.items()})
    kinds, colours = (np.array(labels[attribute])[unseen] for attribute in ("article_type", "base_colour"))
    pairs = Counter(zip(kinds, colours, strict=True))
    client, live = get_reader(), live_index()
    scores, skipped = [], 0
    for (kind, colour), count in sorted(pairs.items()):
        if not kind or not colour or count < 2:
            continue
        asked = read_query(client, live, f"{colour} {kind}").reading
        wanted = classifiers.known({attribute: (value, *asked.also.get(attribute, ()))
                                    for attribute, value in asked.values.items()})
        if not wanted:
            skipped += 1
            continue
        matrix = vectors[unseen]
        nearest = np.argsort(-(matrix @ classifiers.direction(wanted)))[:max(LOOKS_CANDIDATES, k)]
        top = nearest[np.argsort(-classifiers.log_probability(matrix[nearest], wanted))][:k]
        relevant = min(k, count)
        scores.append(min(int(np.sum((kinds[top] == kind) & (colours[top] == colour))), relevant) / relevant)
    return Precision("words to photos, held-out photos: type and colour right",
                     float(np.mean(scores)) if scores else 0.0, len(scores), skipped)
