"""Products for a shopper from what they liked and what they dismissed.

One KNN around a query vector made from them, per kind of vector, in the spirit of Qdrant's
recommendation API (its average-vector strategy) and Weaviate's ref2vec-centroid: the weighted
mean of the liked products' vectors, less a share of the mean of the dismissed ones (Rocchio's
formula), normalised. Text and image are blended as for similar products ``by=both``; a shopper
whose liked products have no photo gets the text alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import redis

from search.filters import Filters
from search.kinds import KINDS
from search.query.similar import blended, nearest
from search.store.connection import get_reader, search_errors
from search.store.versions import LiveIndex, live_index

#: How much the dismissed products' mean is taken from the liked products' mean.
DISMISSED_SHARE = 0.5


def recommended(liked: Mapping[str, float], dismissed: Collection[str], seen: Collection[str], filters: Filters,
                k: int = 12) -> list[dict[str, Any]] | None:
    """The ``k`` products nearest the shopper's taste within ``filters``, never one of ``seen``.

    ``liked`` weighs each liked product (a favourite more than a product only looked at);
    ``dismissed`` pushes the query away from what the shopper said is not for them. None when
    no liked product is in the index (nothing to go on: the caller falls back to something
    else); empty when nothing passes the filters.
    """
    client = get_reader()
    with search_errors():
        try:
            return _recommended(client, live_index(), liked, dismissed, seen, filters, k)
        except redis.ResponseError:
            # The live version went away between reading it and querying it: once more.
            return _recommended(client, live_index(refresh=True), liked, dismissed, seen, filters, k)


def _recommended(client: redis.Redis, live: LiveIndex, liked: Mapping[str, float], dismissed: Collection[str],
                 seen: Collection[str], filters: Filters, k: int) -> list[dict[str, Any]] | None:
    kinds = KINDS[:2]
    fields = [kind.field for kind in kinds]
    pipe = client.pipeline(transaction=False)
    for product_id in (*liked, *dismissed):
        pipe.hmget(live.doc_key(product_id), fields)
    stored = pipe.execute()
    liked_rows, dismissed_rows = stored[:len(liked)], stored[len(liked):]
    queries: list[bytes | None] = []
    for column in range(len(kinds)):
        positives = [(live.vector(row[column]), w) for row, w in zip(liked_rows, liked.values(), strict=True)
                     if row[column] is not None]
        negatives = [live.vector(row[column]) for row in dismissed_rows if row[column] is not None]
        taste = _taste(positives, negatives)
        queries.append(None if taste is None else live.vector_bytes(taste))
    text, image = queries
    if text is None:
        return None
    if image is None:
        return nearest(client, live, text, kinds[0], filters, k, exclude=seen)
    return blended(client, live, [text, image], filters, k, exclude=seen, weight=0.5)


def _taste(positives: list[tuple[np.ndarray, float]], negatives: list[np.ndarray]) -> np.ndarray | None:
    """The query vector: the liked vectors' weighted mean less a share of the dismissed ones'
    mean, normalised (the index compares by cosine); None without a liked vector."""
    if not positives:
        return None
    vectors = np.stack([v.astype(np.float32) for v, _ in positives])
    weights = np.array([w for _, w in positives], dtype=np.float32)
    query = (weights[:, None] * vectors).sum(axis=0) / weights.sum()
    if negatives:
        query -= DISMISSED_SHARE * np.stack(negatives).astype(np.float32).mean(axis=0)
    norm = float(np.linalg.norm(query))
    return (query / norm if norm else query).astype(np.float32)
