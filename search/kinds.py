"""The kinds of vector a product has: one registry that everything else reads.

The index's vector fields (:mod:`search.store.schema`), the embedding task and its queues
(:mod:`search.tasks`, :mod:`search.indexing`), the recall check and relevance measures
(:mod:`search.evaluation`), the workers ``runfinder`` starts and the "By ..." choices the
pages offer all come from :data:`KINDS`. Adding a kind is a row here, its embedder, its writer
and, for its pending state, two product fields (docs/recipes.md).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils.module_loading import import_string

from catalog.models import Product
from search.embedding.image import image_embedder, image_model
from search.embedding.runtime import ModelInfo
from search.embedding.text import text_embedder, text_model


@dataclass(frozen=True)
class VectorKind:
    """One kind of vector: what computes it, where it is kept, which queue its work waits in."""

    #: ``?by=<name>``, and the embedding task's argument.
    name: str
    #: The index's vector field.
    field: str
    #: The setting that says how the field is indexed (``HNSW:COSINE:M=16``...).
    index_setting: str
    #: Its work waits in ``<default queue><queue_suffix>``: a slow kind never holds up another.
    queue_suffix: str
    #: The model's name and dimension, known without loading it.
    model: Callable[[], ModelInfo]
    #: The loaded model (once per process): ``embed(inputs) -> vectors``.
    embedder: Callable[[], Any]
    #: Dotted paths to ``(product_ids) -> None``, which embeds a batch and writes it to the
    #: index, and to ``(product_ids, reason) -> None``, which records that it could not.
    writer: str
    on_failure: str
    #: Products waiting for this kind of vector (a Q of field=value: setting those marks a product
    #: pending), and the field saying since when.
    pending: Q
    queued_field: str
    #: Products that can have this kind of vector at all; a product whose ``problem_field`` is
    #: set has none for a reason (an unreadable photo) and is not expected to.
    applies: Q = field(default_factory=Q)
    problem_field: str = ""
    #: The kind that writes the document: a product is searchable once it has this vector.
    primary: bool = False
    #: What a product page calls the row of products similar by this kind.
    row_title: str = ""

    def queue(self) -> str:
        return f"{settings.CELERY_TASK_DEFAULT_QUEUE}{self.queue_suffix}"

    def write(self, product_ids: list[int]) -> None:
        import_string(self.writer)(product_ids)

    def fail(self, product_ids: list[int], reason: str) -> None:
        import_string(self.on_failure)(product_ids, reason)


KINDS: tuple[VectorKind, ...] = (
    VectorKind("text", "text_vector", "FINDER_TEXT_INDEX", "", text_model, text_embedder,
               "search.indexing.index_texts", "search.indexing.mark_failed",
               pending=Q(status=Product.Status.PENDING), queued_field="queued_at", primary=True,
               row_title="Similar description"),
    VectorKind("image", "image_vector", "FINDER_IMAGE_INDEX", ".images", image_model, image_embedder,
               "search.indexing.index_images", "search.indexing.image_failed",
               pending=Q(image_pending=True), queued_field="image_queued_at", applies=~Q(image=""),
               problem_field="image_problem", row_title="Looks like this"),
)
BY_NAME = {kind.name: kind for kind in KINDS}
PRIMARY = next(kind for kind in KINDS if kind.primary)


#: What "similar" compares: ``?by=`` one kind of vector, or ``both``, the first two blended.
By = enum.StrEnum("By", {**{kind.name.upper(): kind.name for kind in KINDS}, "BOTH": "both"})


def compared(by: By) -> tuple[VectorKind, ...]:
    """The kinds of vector that ``by`` compares."""
    return KINDS[:2] if by == "both" else (BY_NAME[by.value],)
