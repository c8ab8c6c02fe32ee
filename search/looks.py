"""What each value looks like to the image model: words that find photos.

No model that reads both words and photos (CLIP and its kin) ships its weights in a package
here, so the finder learns from the catalog's own labelled photos instead. For each attribute a
photo shows (the attribute table's ``seen``: product type, colour, category...), a multinomial
logistic regression on the image vectors says how likely each value is for a photo. A query's
words are read for those values (:mod:`search.query.understanding`), and products are ranked by
how likely their photos are to show every value read, whatever their names say
(:mod:`search.query.looks`).

The classifiers are refitted by the beat worker once the catalog has changed and its embedding
has settled (:func:`refresh_looks`), and kept in the database (:class:`search.models.Looks`).
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from catalog.attributes import TAGS
from catalog.models import Product
from search.embedding.image import image_model
from search.kinds import BY_NAME
from search.mapping import fingerprint, indexed_vectors
from search.models import Looks
from search.selectors import embedding_backlog
from search.store.connection import SearchUnavailable

logger = logging.getLogger(__name__)

SEEN = tuple(attribute for attribute in TAGS if attribute.seen)
#: The narrowest seen attribute of those that narrow one another: what kind of product a photo
#: shows (the product type). Two photos likely of one kind look alike (:func:`same_kind`).
KIND = next(attribute.parameter for attribute in SEEN
            if attribute.narrows and not any(other.narrows == attribute.parameter for other in SEEN))
#: The inverse of the regularisation (scikit-learn's ``C``): 10 ranked held-out photos best on
#: the demo catalog (docs/relevance.md).
STRENGTH = 10.0
#: A value needs this many photos to be learnt.
MIN_PHOTOS = 3
#: How long a process keeps the classifiers before it looks for newer ones.
KEPT_SECONDS = 60.0


@dataclass(frozen=True)
class Classifier:
    """One attribute's classifier: its values, and a weight row and an intercept for each."""

    values: tuple[str, ...]
    weights: np.ndarray
    intercepts: np.ndarray

    def logits(self, vectors: np.ndarray) -> np.ndarray:
        """For each row of ``vectors``, each value's log odds (before normalising)."""
        return vectors @ self.weights.T + self.intercepts

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """For each row of ``vectors``, the probability of each value (a row summing to one)."""
        logits = self.logits(vectors)
        return np.exp(logits - _log_sum_exp(logits)[:, None])

    def log_probability(self, vectors: np.ndarray, wanted: tuple[str, ...]) -> np.ndarray:
        """For each row of ``vectors``, the log of the probability that its photo shows one of
        ``wanted`` (values this classifier knows; the rest are ignored)."""
        logits = self.logits(vectors)
        chosen = [i for i, value in enumerate(self.values) if value in wanted]
        return _log_sum_exp(logits[:, chosen]) - _log_sum_exp(logits)


def _log_sum_exp(logits: np.ndarray) -> np.ndarray:
    """Each row's log of the sum of its exponentials, without overflow."""
    top = logits.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))


@dataclass(frozen=True)
class Classifiers:
    """Every seen attribute's classifier, by the attribute's parameter."""

    by_attribute: dict[str, Classifier]

    def reads(self, dim: int) -> bool:
        """Whether they read vectors of ``dim`` dimensions (not while the index is rebuilt for
        another image model)."""
        return all(classifier.weights.shape[1] == dim for classifier in self.by_attribute.values())

    def known(self, values: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        """``values`` (lower case, by attribute) less those no classifier knows."""
        found = {}
        for attribute, wanted in values.items():
            classifier = self.by_attribute.get(attribute)
            kept = tuple(value for value in wanted if classifier and value in classifier.values)
            if kept:
                found[attribute] = kept
        return found

    def direction(self, values: dict[str, tuple[str, ...]]) -> np.ndarray:
        """One vector in the image model's space that points at photos showing ``values``: each
        attribute's weight rows for its values, averaged, scaled to one length, and summed (a
        nearest-neighbour search by it finds the candidates :meth:`log_probability` ranks)."""
        total = None
        for attribute, wanted in self.known(values).items():
            classifier = self.by_attribute[attribute]
            row = classifier.weights[[classifier.values.index(value) for value in wanted]].mean(axis=0)
            row = row / max(float(np.linalg.norm(row)), 1e-12)
            total = row if total is None else total + row
        if total is None:
            raise ValueError("no value to look for")
        return (total / max(float(np.linalg.norm(total)), 1e-12)).astype(np.float32)

    def log_probability(self, vectors: np.ndarray, values: dict[str, tuple[str, ...]]) -> np.ndarray:
        """For each row of ``vectors``: the log of the probability that its photo shows every
        attribute's values (one of each attribute's)."""
        return sum((self.by_attribute[attribute].log_probability(vectors, wanted)
                    for attribute, wanted in self.known(values).items()), start=np.zeros(len(vectors)))

    def dump(self) -> bytes:
        out = io.BytesIO()
        arrays = {}
        for attribute, classifier in self.by_attribute.items():
            arrays[f"{attribute}.values"] = np.array(classifier.values)
            arrays[f"{attribute}.weights"] = classifier.weights
            arrays[f"{attribute}.intercepts"] = classifier.intercepts
        np.savez_compressed(out, **arrays)
        return out.getvalue()

    @classmethod
    def load(cls, data: bytes) -> Classifiers:
        arrays = np.load(io.BytesIO(data), allow_pickle=False)
        attributes = {name.split(".")[0] for name in arrays.files}
        return cls({attribute: Classifier(tuple(str(v) for v in arrays[f"{attribute}.values"]),
                                          arrays[f"{attribute}.weights"], arrays[f"{attribute}.intercepts"])
                    for attribute in attributes})


def fit(vectors: np.ndarray, labels: dict[str, list[str]]) -> Classifiers:
    """Fit each attribute's classifier on image ``vectors`` (one row a photo) and the photos'
    values (``labels``: by attribute, one lower-case value a row, "" for none). Values with
    fewer than :data:`MIN_PHOTOS` photos, and photos without a value, are left out."""
    from sklearn.linear_model import LogisticRegression

    found = {}
    for attribute, column in labels.items():
        values = np.array(column)
        counts = {value: int((values == value).sum()) for value in set(column) if value}
        usable = np.isin(values, [value for value, count in counts.items() if count >= MIN_PHOTOS])
        if len(set(values[usable])) < 2:
            continue
        model = LogisticRegression(C=STRENGTH, max_iter=500).fit(vectors[usable], values[usable])
        weights, intercepts = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # one row, the second value's log odds: as two, the first's at zero
            weights, intercepts = np.vstack([np.zeros_like(weights), weights]), np.array([0.0, intercepts[0]])
        found[attribute] = Classifier(tuple(str(v) for v in model.classes_), weights.astype(np.float32),
                                      intercepts.astype(np.float32))
    return Classifiers(found)


def catalog_labels(product_ids: list[str]) -> dict[str, list[str]]:
    """The seen attributes' values of ``product_ids``, lower case (as the index's tags), by attribute."""
    rows = {row[0]: row[1:] for row in Product.objects.values_list("id", *(attribute.field for attribute in SEEN))}
    return {attribute.parameter: [(rows[pid][n] or "").lower() if pid in rows else "" for pid in product_ids]
            for n, attribute in enumerate(SEEN)}


def refit(stamp: str) -> Looks:
    """Fit the classifiers on every indexed product's photo and keep them."""
    started = time.perf_counter()
    ids, vectors = indexed_vectors(BY_NAME["image"], Product.objects.order_by("id").values_list("id", flat=True))
    classifiers = fit(vectors, catalog_labels(ids)) if ids else Classifiers({})
    found, _ = Looks.objects.update_or_create(model=image_model().name, defaults={
        "fingerprint": stamp, "photos": len(ids), "seconds": round(time.perf_counter() - started, 2),
        "classifiers": classifiers.dump()})
    return found


def refresh_looks() -> bool:
    """Refit the classifiers when the catalog or the index has changed, once nothing waits to
    be embedded; whether they were refitted."""
    backlog = embedding_backlog(settings.FINDER_PENDING_TOO_LONG)
    if backlog["text"] or backlog["images"]:
        return False
    stamp = fingerprint()
    if Looks.objects.filter(model=image_model().name, fingerprint=stamp).exists():
        return False
    found = refit(stamp)
    logger.info("photo classifiers refitted on %s photos (%.1f s)", found.photos, found.seconds)
    return True


_lock = threading.Lock()
_kept: dict[str, tuple[float, str, Classifiers | None]] = {}


def current_classifiers() -> Classifiers | None:
    """The latest classifiers for the image model in use (None before the first fit), looked
    for at most once a minute in each process."""
    model = image_model().name
    with _lock:
        kept = _kept.get(model)
    if kept and time.monotonic() - kept[0] < KEPT_SECONDS:
        return kept[2]
    stamp = Looks.objects.filter(model=model).values_list("fingerprint", "computed_at").first()
    key = f"{stamp[0]}|{stamp[1]}" if stamp else ""
    if kept and kept[1] == key:
        classifiers = kept[2]
    else:
        row = Looks.objects.filter(model=model).first()
        classifiers = Classifiers.load(bytes(row.classifiers)) if row else None
    with _lock:
        _kept[model] = (time.monotonic(), key, classifiers)
    return classifiers


def same_kind(classifiers: Classifiers, vectors: np.ndarray, vector: np.ndarray) -> np.ndarray | None:
    """For each row of ``vectors``, the probability that its photo and ``vector``'s show the same
    kind of product (:data:`KIND`), by the photos alone; None without a classifier for it."""
    classifier = classifiers.by_attribute.get(KIND)
    if classifier is None:
        return None
    return classifier.probabilities(vectors) @ classifier.probabilities(vector[None, :])[0]


#: A value the photo classifiers give this probability or more is suggested for an attribute the
#: shop's catalog leaves empty.
SUGGEST_FROM = 0.8


def suggestions(product: Product) -> dict[str, tuple[str, float]]:
    """For each seen attribute ``product`` leaves empty (a feed without colours), the value its
    photo most likely shows, and how likely (``SUGGEST_FROM`` or more), by the attribute's field:
    shown as suggested, never written to the product. Empty before the first fit, for a product
    without a photo in the index, and while the index cannot be read (a suggestion is never worth
    an error)."""
    empty = [attribute for attribute in SEEN if not getattr(product, attribute.field)]
    classifiers = current_classifiers() if empty else None
    if classifiers is None:
        return {}
    try:
        ids, vectors = indexed_vectors(BY_NAME["image"], [product.id])
    except SearchUnavailable:
        return {}
    if not ids or not classifiers.reads(vectors.shape[1]):
        return {}
    found = {}
    for attribute in empty:
        classifier = classifiers.by_attribute.get(attribute.parameter)
        if classifier is not None:
            chances = classifier.probabilities(vectors)[0]
            best = int(np.argmax(chances))
            if chances[best] >= SUGGEST_FROM:
                found[attribute.field] = (classifier.values[best], float(chances[best]))
    return found
