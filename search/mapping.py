"""The catalog as a map: each kind's vectors laid out in two dimensions, so that a shop owner
sees at a glance how a model groups their products, and where it mixes them up.

t-SNE (openTSNE, with its FFT-accelerated gradients, on the vectors' first 50 principal
components) keeps neighbours together, which is what the map is for; PCA alone, a fallback
for a handful of products or ``FINDER_MAP_METHOD=pca``, keeps only the broadest directions.
Maps are refreshed by the beat worker (:func:`refresh_maps`) once the catalog has changed and
its embedding has settled, and kept in the database (:class:`search.models.CatalogMap`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, Max

from catalog.attributes import TAGS
from catalog.models import Product
from search.kinds import KINDS, VectorKind
from search.models import CatalogMap
from search.selectors import embedding_backlog
from search.store.connection import get_reader, search_errors
from search.store.versions import live_index

logger = logging.getLogger(__name__)

#: Principal components t-SNE starts from, and the fewest products it is worth running for.
COMPONENTS = 50
TSNE_MIN_PRODUCTS = 50
#: Vectors read from Redis at a time.
READ_BATCH = 1000


def layout(vectors: np.ndarray, method: str = "tsne") -> tuple[np.ndarray, str]:
    """Two coordinates for each row of ``vectors``, each scaled into [0, 1], and the method
    that placed them."""
    count = len(vectors)
    if count < 3:
        return np.full((count, 2), 0.5), "PCA"
    from sklearn.decomposition import PCA

    reduced = PCA(n_components=min(COMPONENTS, count - 1, vectors.shape[1]), random_state=0).fit_transform(vectors)
    if method == "tsne" and count >= TSNE_MIN_PRODUCTS:
        from openTSNE import TSNE

        points = np.asarray(TSNE(perplexity=min(30.0, (count - 1) / 3), n_jobs=settings.FINDER_MODEL_THREADS or -1,
                                 random_state=0, verbose=False).fit(reduced.astype(np.float64)))
        placed = "t-SNE"
    else:
        points, placed = reduced[:, :2], "PCA"
    low, high = points.min(axis=0), points.max(axis=0)
    return (points - low) / np.where(high > low, high - low, 1.0), placed


def fingerprint() -> str:
    """What a map is computed from: the live index, and the catalog's size and latest change."""
    catalog = Product.objects.aggregate(count=Count("id"), changed=Max("updated_at"))
    return f"{live_index().name}|{catalog['count']}|{catalog['changed']}"


def compute_map(kind: VectorKind, stamp: str) -> CatalogMap:
    """Lay out every indexed product's ``kind`` vector, and keep the map."""
    started = time.perf_counter()
    ids, vectors = indexed_vectors(kind, Product.objects.order_by("id").values_list("id", flat=True))
    points, method = layout(vectors, settings.FINDER_MAP_METHOD) if ids else (np.zeros((0, 2)), "PCA")
    found, _ = CatalogMap.objects.update_or_create(kind=kind.name, defaults={
        "method": method, "fingerprint": stamp, "seconds": round(time.perf_counter() - started, 2),
        "points": {"ids": ids, "x": np.round(points[:, 0], 4).tolist(), "y": np.round(points[:, 1], 4).tolist()}})
    return found


def indexed_vectors(kind: VectorKind, product_ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The products that have a ``kind`` vector in the live index, and their vectors."""
    live = live_index()
    client = get_reader()
    ids, rows = [], []
    with search_errors():
        for start in range(0, len(product_ids), READ_BATCH):
            batch = list(product_ids[start:start + READ_BATCH])
            pipe = client.pipeline(transaction=False)
            for product_id in batch:
                pipe.hget(live.doc_key(product_id), kind.field)
            for product_id, raw in zip(batch, pipe.execute(), strict=True):
                if raw is not None:
                    ids.append(product_id)
                    rows.append(live.vector(raw).astype(np.float32))
    return ids, np.stack(rows) if rows else np.zeros((0, live.dims.get(kind.field, 1)), dtype=np.float32)


def refresh_maps() -> list[str]:
    """Recompute the maps whose catalog or index has changed, once nothing waits to be
    embedded (a map of half an import would be redone a minute later); the kinds redone."""
    backlog = embedding_backlog(settings.FINDER_PENDING_TOO_LONG)
    if backlog["text"] or backlog["images"]:
        return []
    stamp = fingerprint()
    current = dict(CatalogMap.objects.values_list("kind", "fingerprint"))
    redone = []
    for kind in KINDS:
        if current.get(kind.name) != stamp:
            found = compute_map(kind, stamp)
            logger.info("%s (%.1f s)", found, found.seconds)
            redone.append(kind.name)
    return redone


#: Values each attribute is coloured by on the map; the rest share one colour, "other".
COLOURED_VALUES = 12


def map_points(kind: VectorKind) -> dict[str, Any] | None:
    """A kind's map as its page draws it: the points, and for each attribute each point's value
    (a code into that attribute's most common values; the last code is "other"). None before
    the first map is computed."""
    found = CatalogMap.objects.filter(kind=kind.name).first()
    if found is None:
        return None
    ids = found.points["ids"]
    rows = dict((row[0], row[1:]) for row in Product.objects.filter(id__in=ids)
                .values_list("id", *(attribute.field for attribute in TAGS)))
    attributes = {}
    for column, attribute in enumerate(TAGS):
        values = [rows[pid][column] if pid in rows else "" for pid in ids]
        common = [value for value, _ in Counter(v for v in values if v).most_common(COLOURED_VALUES)]
        code = {value: n for n, value in enumerate(common)}
        attributes[attribute.parameter] = {"label": attribute.label, "values": [*common, "other"],
                                           "codes": [code.get(value, len(common)) for value in values]}
    return {"kind": kind.name, "method": found.method, "computed_at": found.computed_at.isoformat(),
            "seconds": found.seconds, "ids": ids, "x": found.points["x"], "y": found.points["y"],
            "attributes": attributes}
