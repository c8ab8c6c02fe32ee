"""The kinds of vector a product has: one registry that everything else reads.

The index's vector fields (:mod:`search.store.schema`), the embedding task and its queues
(:mod:`search.tasks`, :mod:`search.indexing`), the recall check and relevance measures
(:mod:`search.evaluation`), the workers ``runfinder`` starts and the "By ..." choices the
pages offer all come from :data:`KINDS`; where each product's vector of each kind stands is
an :class:`search.models.IndexEntry`. Adding a kind is a row here, its embedder, its writer
and its index setting (docs/recipes.md).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.utils.module_loading import import_string

from catalog.models import SEARCH_TEXT_FIELDS
from search.embedding.image import image_embedder, image_model
from search.embedding.runtime import Embedder, ModelInfo
from search.embedding.text import text_embedder, text_model


@dataclass(frozen=True)
class VectorKind:
    """One kind of vector: what computes it, from what, where it is kept, which queue its work waits in."""

    #: ``?by=<name>``, the embedding task's argument, and its :class:`search.models.IndexEntry`'s kind.
    name: str
    #: The index's vector field.
    field: str
    #: The setting that says how the field is indexed (``HNSW:COSINE:M=16``...).
    index_setting: str
    #: Its work waits in ``<default queue><queue_suffix>``: a slow kind never holds up another.
    queue_suffix: str
    #: The model's name and dimension, known without loading it.
    model: Callable[[], ModelInfo]
    #: The loaded model (once per process).
    embedder: Callable[[], Embedder]
    #: Dotted paths to ``(product_ids) -> None``, which embeds a batch and writes it to the
    #: index, and to ``(product_ids, reason) -> None``, which records that it could not.
    writer: str
    on_failure: str
    #: The Product fields the vector is computed from: a change to any of them embeds it again.
    inputs: tuple[str, ...]
    #: Products that can have this kind of vector at all (a photo needs a product with one).
    applies: Q = field(default_factory=Q)
    #: The kind that writes the document: a product is searchable once it has this vector.
    primary: bool = False
    #: What a product page calls the row of products similar by this kind.
    row_title: str = ""

    def queue(self) -> str:
        return f"{settings.CELERY_TASK_DEFAULT_QUEUE}{self.queue_suffix}"

    def write(self, product_ids: list[str]) -> None:
        import_string(self.writer)(product_ids)

    def fail(self, product_ids: list[str], reason: str) -> None:
        import_string(self.on_failure)(product_ids, reason)


KINDS: tuple[VectorKind, ...] = (
    VectorKind("text", "text_vector", "FINDER_TEXT_INDEX", "", text_model, text_embedder,
               "search.indexing.index_texts", "search.indexing.mark_failed", inputs=SEARCH_TEXT_FIELDS,
               primary=True, row_title="Similar description"),
    VectorKind("image", "image_vector", "FINDER_IMAGE_INDEX", ".images", image_model, image_embedder,
               "search.indexing.index_images", "search.indexing.image_failed", inputs=("image",),
               applies=~Q(image=""), row_title="Looks like this"),
)
BY_NAME = {kind.name: kind for kind in KINDS}
PRIMARY = next(kind for kind in KINDS if kind.primary)


class By(enum.StrEnum):
    """What "similar" compares: ``?by=`` one kind of vector (a member for each of :data:`KINDS`,
    checked below), or ``both``, the first two blended."""

    TEXT = "text"
    IMAGE = "image"
    BOTH = "both"


if set(By) != {kind.name for kind in KINDS} | {By.BOTH}:
    raise ImproperlyConfigured(f"search.kinds.By needs a member for each vector kind and no other: {sorted(By)} "
                               f"for {[kind.name for kind in KINDS]}")


def compared(by: By) -> tuple[VectorKind, ...]:
    """The kinds of vector that ``by`` compares."""
    return KINDS[:2] if by == "both" else (BY_NAME[by.value],)
