"""Similar products: to a product, by one kind of vector or two blended, and to a shopper's photo."""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Collection
from typing import Any

import numpy as np
import redis
from django.conf import settings
from PIL import Image
from redisvl.query import VectorQuery

from core import metrics
from core.errors import Conflict
from search.embedding.image import SAME_PHOTO
from search.filters import Filters
from search.kinds import BY_NAME, KINDS, By, VectorKind, compared
from search.looks import current_classifiers, same_kind
from search.query.answers import remembered
from search.store import get_store
from search.store.connection import SearchUnavailable, get_reader, search_errors, text
from search.store.versions import LiveIndex, live_index, product_of


class NotSearchable(Conflict):
    """The product has no vector of that kind (not indexed yet, or no usable image)."""


def similar_products(product_id: str, by: By, filters: Filters, k: int = 12, page: int = 1,
                     weight: float = 0.5) -> list[dict[str, Any]]:
    """Page ``page`` of the products most similar to ``product_id`` (``k`` a page), never
    itself, best first, that pass ``filters`` (tag, text, numeric and geo pre-filters, and a
    ``min_score`` threshold). ``by`` BOTH blends the two similarities, ``weight`` on the image.

    Each result is the product's document with ``score`` (cosine similarity, higher is more
    similar, whatever the metric), ``distance`` (the metric's raw distance) and an
    ``explanation``. Three round trips whatever ``k`` is for one vector, four for both.

    The vector and the query both go to one concrete version of the index, never the alias,
    so that an alias swap between the two cannot pair a vector with an index of another
    dimension; a version that went away meanwhile is looked up again, once. Answers are kept
    until the index changes (:mod:`.answers`).
    """
    with metrics.SEARCH_SECONDS.labels(f"similar_{by.value}").time(), search_errors():
        return remembered(("similar", product_id, by, tuple(filters.pairs()), k, page, weight),
                          lambda: _similar_products(product_id, by, filters, k, page, weight))


def _similar_products(product_id: str, by: By, filters: Filters, k: int, page: int,
                      weight: float) -> list[dict[str, Any]]:
    client = get_reader()
    with search_errors():
        try:
            return _similar(client, live_index(), product_id, by, filters, k, page, weight)
        except (_Stale, redis.ResponseError):
            pass
        try:
            return _similar(client, live_index(refresh=True), product_id, by, filters, k, page, weight)
        except _Stale:
            raise NotSearchable("This product is not searchable yet." if compared(by)[0].primary
                                else "This product has no usable image to compare.") from None


def _similar(client: redis.Redis, live: LiveIndex, product_id: str, by: By, filters: Filters, k: int, page: int,
             weight: float) -> list[dict[str, Any]]:
    kinds = compared(by)
    fields = [*(kind.field for kind in kinds), IMAGE.field, GROUP]
    *vectors, photo, group = client.hmget(live.doc_key(product_id), fields)
    if None in vectors:
        raise _Stale
    own = get_store().documents([product_id])[0]
    # Variants of one product (a group) count once, and the product's own are not "similar";
    # nor is a second copy of a photo: asked for more, to fill the page after them.
    depth = k * page * (GROUP_SLACK if _has_groups(client, live.name) else 1) + PHOTO_SLACK
    if len(kinds) == 2:
        ranked = blended(client, live, vectors, filters, depth, weight=weight, itself=product_id)
    elif kinds[0] is IMAGE:
        ranked = alike(client, live, vectors[0], filters, depth, itself=product_id)
    else:
        ranked = nearest(client, live, vectors[0], kinds[0], filters, depth, itself=product_id)
    ranked = one_per_photo(client, live, one_per_group(ranked, text(group) if group else ""), own, photo)
    return ranked[(page - 1) * k:k * page]


GROUP = "group"
IMAGE = BY_NAME["image"]
#: A content-addressed photo's digest (catalog.services.photo_name).
DIGEST = re.compile(r"-([0-9a-f]{16})\.jpg$")
#: How many more similar products are asked for, to fill a row after copies of one photo.
PHOTO_SLACK = 4
#: Similar by image: the nearest photos ranked again with the classifiers, and the weight of
#: the probability that two photos show one kind of product beside their cosine (measured on
#: held-out photos of the demo catalog: docs/relevance.md).
LOOKED_AT = 50
KIND_WEIGHT = 0.5
#: How many more similar products are asked for where products come in groups.
GROUP_SLACK = 2
GROUPS_SECONDS = 60.0
_groups_lock = threading.Lock()
_groups: dict[str, tuple[float, bool]] = {}


def _has_groups(client: redis.Redis, index: str) -> bool:
    """Whether any product of ``index`` is in a group, looked up once a minute."""
    with _groups_lock:
        cached = _groups.get(index)
    if cached and time.monotonic() - cached[0] < GROUPS_SECONDS:
        return cached[1]
    found = bool(client.execute_command("FT.TAGVALS", index, GROUP))
    with _groups_lock:
        _groups[index] = (time.monotonic(), found)
    return found


def one_per_group(results: list[dict[str, Any]], own: str = "") -> list[dict[str, Any]]:
    """``results`` with the first of each group only, and none of the group ``own``."""
    seen = {own} if own else set()
    kept = []
    for result in results:
        group = result.get(GROUP) or ""
        if group and group in seen:
            continue
        seen.add(group)
        kept.append(result)
    return kept


def one_per_photo(client: redis.Redis, live: LiveIndex, results: list[dict[str, Any]], own: dict[str, Any] | None,
                  own_photo: bytes | None) -> list[dict[str, Any]]:
    """``results`` less each whose photo is the same picture as one before it, or as the
    product's ``own`` (its document, and its image vector ``own_photo``): a row never shows one
    picture twice. Every product is still in the index, and still counted; only rows leave
    copies out.

    The same bytes are the same picture (a photo's name holds a digest of its bytes). So are
    photos near-identical to the image model, where the model's threshold was measured
    (:data:`search.embedding.image.SAME_PHOTO`): a copy saved again, a shade's photo retouched."""
    digests = {_digest(own)} - {""} if own else set()
    threshold = SAME_PHOTO.get(IMAGE.model().name)
    photos: list[bytes | None] = [None] * len(results)
    if threshold is not None and results:
        pipe = client.pipeline(transaction=False)
        for result in results:
            pipe.hget(live.doc_key(result["id"]), IMAGE.field)
        photos = pipe.execute()
    seen = [live.vector(own_photo)] if threshold is not None and own_photo is not None else []
    kept = []
    for result, photo in zip(results, photos, strict=True):
        digest = _digest(result)
        vector = live.vector(photo) if photo is not None else None
        if digest in digests or (vector is not None and any(float(vector @ other) >= threshold for other in seen)):
            continue
        if digest:
            digests.add(digest)
        if vector is not None:
            seen.append(vector)
        kept.append(result)
    return kept


def _digest(document: dict[str, Any]) -> str:
    """The digest of a product's photo's bytes, from its name ("" when it has none)."""
    found = DIGEST.search(document.get("image_url") or "")
    return found.group(1) if found else ""


class _Stale(LookupError):
    """The product has no vector of that kind in this version of the index."""


@metrics.SEARCH_SECONDS.labels("photo").time()
def similar_to_image(image: Image.Image, filters: Filters, k: int = 12) -> list[dict[str, Any]]:
    """The ``k`` products whose photos look most like ``image``, within ``filters``."""
    kind = BY_NAME["image"]
    embedder = kind.embedder()
    client = get_reader()
    with search_errors():
        live = live_index()
        if live.dims.get(kind.field) != embedder.dim:
            raise SearchUnavailable("Photo search is being rebuilt for a new image model; try again soon.")
        slots = _photo_slots()
        if not slots.acquire(timeout=settings.FINDER_PHOTO_WAIT):
            raise SearchUnavailable("Photo search is busy right now; try again in a moment.")
        try:
            vector = live.vector_bytes(embedder.embed([image])[0])
        finally:
            slots.release()
        return alike(client, live, vector, filters, k)


def alike(client: redis.Redis, live: LiveIndex, vector: bytes, filters: Filters, depth: int,
          itself: str | None = None) -> list[dict[str, Any]]:
    """The ``depth`` products whose photos look most like ``vector``'s, within ``filters``.

    The ``LOOKED_AT`` nearest by the image vectors' cosine are ranked again by it plus
    ``KIND_WEIGHT`` times the probability that the two photos show the same kind of product, as
    the photo classifiers see them (:func:`search.looks.same_kind`: the photos alone, never the
    products' names or attributes). ``score`` is that sum; the explanation keeps the cosine
    (``image_score``) and the probability (``same_kind``). Before the classifiers are first
    fitted, the cosine alone ranks."""
    classifiers = current_classifiers()
    if classifiers is not None and not classifiers.reads(live.dims.get(IMAGE.field, 0)):
        classifiers = None  # fitted for another image model than the live index's: the cosine alone
    found = nearest(client, live, vector, IMAGE, filters, max(depth, LOOKED_AT) if classifiers else depth,
                    itself=itself)
    if classifiers is None or not found:
        return found
    pipe = client.pipeline(transaction=False)
    for result in found:
        pipe.hget(live.doc_key(result["id"]), IMAGE.field)
    photos = pipe.execute()
    kept = [(result, photo) for result, photo in zip(found, photos, strict=True) if photo is not None]
    same = same_kind(classifiers, np.stack([live.vector(photo) for _, photo in kept]), live.vector(vector))
    if same is None:
        return found[:depth]
    ranked = []
    for (result, _), chance in zip(kept, same.tolist(), strict=True):
        score = round(result["score"] + KIND_WEIGHT * chance, 6)
        ranked.append({**result, "score": score, "explanation": {
            **result["explanation"], "score": score, "image_score": result["score"], "same_kind": round(chance, 6)}})
    ranked.sort(key=lambda result: result["score"], reverse=True)
    return ranked[:depth]


@functools.cache
def _photo_slots() -> threading.BoundedSemaphore:
    """How many shopper photos this process embeds at once (``FINDER_PHOTO_CONCURRENCY``): a
    burst of uploads waits its turn here rather than taking every core from every page."""
    return threading.BoundedSemaphore(settings.FINDER_PHOTO_CONCURRENCY)


def _knn_query(vector: bytes, field: str, filters: Filters, depth: int, exclude: Collection[str]) -> VectorQuery:
    return VectorQuery(vector=vector, vector_field_name=field, return_fields=[],
                       filter_expression=get_store().compile_filters(filters, exclude), num_results=depth)


def nearest(client: redis.Redis, live: LiveIndex, vector: bytes, kind: VectorKind, filters: Filters, depth: int,
            exclude: Collection[str] = (), itself: str | None = None) -> list[dict[str, Any]]:
    """The ``depth`` products nearest ``vector`` by ``kind``, within ``filters``, none of ``exclude``
    nor ``itself``, the product ``vector`` is of.

    ``itself`` is asked for one more and dropped here: a negated clause for one product made
    Redis's HNSW search several times as costly (docs/scaling.md)."""
    spec = live.specs[kind.field]
    hits = _hits(client, live, vector, kind.field, filters, depth, exclude, itself)[:depth]
    if filters.min_score is not None:
        # The k best above the threshold are the k best, less those below it. (A VECTOR_RANGE
        # clause would say the same, but RediSearch 2.10 drops its yielded distance from some
        # hits when it meets a negated filter inside a group: seen here, so not used.)
        hits = [hit for hit in hits if spec.score(float(hit.vector_distance)) >= filters.min_score]
    results = []
    for hit, document in zip(hits, get_store().documents([product_of(hit.id) for hit in hits]), strict=True):
        if document:
            distance = float(hit.vector_distance)
            score = round(spec.score(distance), 6)
            results.append({**document, "score": score, "distance": distance, "explanation": {
                "vector": kind.name, "index": str(spec), "metric": spec.metric,
                "score": score, "distance": distance}})
    return results


def _hits(client: redis.Redis, live: LiveIndex, vector: bytes, field: str, filters: Filters, depth: int,
          exclude: Collection[str], itself: str | None) -> list[Any]:
    """The KNN hits nearest ``vector`` by ``field``, ``depth`` of them besides ``itself`` (asked for
    one more and dropped here, see :func:`nearest`)."""
    query = _knn_query(vector, field, filters, depth + (itself is not None), exclude)
    return [hit for hit in client.ft(live.name).search(query, query.params).docs if product_of(hit.id) != itself]


def blended(client: redis.Redis, live: LiveIndex, vectors: list[bytes], filters: Filters, depth: int,
            exclude: Collection[str] = (), weight: float = 0.5, itself: str | None = None) -> list[dict[str, Any]]:
    """Text and image similarity to ``vectors`` blended: ``(1 - weight) * text + weight * image``.

    Candidates are the union of both KNN rankings; both similarities are then computed exactly
    from the candidates' stored vectors (normalised, so a dot product is the cosine). Products
    without an image vector cannot be blended and are left out, as are ``exclude`` and ``itself``
    (as :func:`nearest` leaves them out).
    """
    queries = [live.vector(vector) for vector in vectors]
    candidates: dict[str, None] = {}
    for kind, vector in zip(KINDS[:2], vectors, strict=True):
        hits = _hits(client, live, vector, kind.field, filters, depth, exclude, itself)
        candidates.update((product_of(hit.id), None) for hit in hits)
    pipe = client.pipeline(transaction=False)
    for product_id in candidates:
        pipe.hmget(live.doc_key(product_id), [kind.field for kind in KINDS[:2]])
    scored = []
    for product_id, stored in zip(candidates, pipe.execute(), strict=True):
        if None in stored:
            continue
        text, image = (float(live.vector(v) @ q) for v, q in zip(stored, queries, strict=True))
        score = (1 - weight) * text + weight * image
        if filters.min_score is None or score >= filters.min_score:
            scored.append((score, product_id, text, image))
    scored.sort(reverse=True)
    scored = scored[:depth]
    results = []
    for (score, _, text, image), document in zip(scored, get_store().documents([s[1] for s in scored]), strict=True):
        if document:
            results.append({**document, "score": round(score, 6), "distance": round(1 - score, 6), "explanation": {
                "vector": "both", "weight": weight, "text_score": round(text, 6), "image_score": round(image, 6),
                "metric": "cosine", "score": round(score, 6)}})
    return results


