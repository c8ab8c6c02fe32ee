"""What search keeps in an index and how it changes, as one small interface that a backend
implements, in the spirit of Django's session engines.

:class:`IndexStore` covers the versions of the index and the alias that names the live one, and
the documents: writing them, removing them, telling which are there, reading them back.
``FINDER_INDEX_STORE`` names the implementation (:mod:`.redisearch` by default) and
:func:`search.store.get_store` returns it. Indexing and the index's lifecycle go through it
alone. Filters reach the index through the store's query compiler (:meth:`IndexStore.compile_filters`);
the queries themselves (:mod:`search.query`) speak RediSearch's own language (KNN with pre-filters,
BM25, aggregations): a second backend brings its own query module too.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from catalog.models import Product
    from search.filters import Filters
    from search.store.schema import IndexLayout


class NoSuchVersion(LookupError):
    """The version asked for (or a live one) does not exist."""


class IndexStore(abc.ABC):
    """An index of products, in versions; one of them live. Derived data: all of it can be
    rebuilt from the database."""

    # Versions and the live one.

    @abc.abstractmethod
    def versions(self) -> list[str]:
        """The names of every version, live or being built."""

    @abc.abstractmethod
    def info(self, name: str | None = None, detailed: bool = False) -> dict[str, Any]:
        """Facts about version ``name`` (None: the live one): ``name``, ``prefix`` (where its
        documents live), ``num_docs``, ``percent_indexed``, ``memory_bytes`` (the index's own, not
        its documents'), ``vectors`` ({field: {"spec", "dim", "type"}}) and more; raises
        :class:`NoSuchVersion`."""

    @abc.abstractmethod
    def live_name(self) -> str | None:
        """The live version's name, or None when none is live."""

    @abc.abstractmethod
    def epoch(self) -> str:
        """A token that changes after writes to the index (documents, vectors, removals: at most
        once every ``FINDER_EPOCH_SECONDS`` while they keep coming; a new live version at once)
        and never comes back: an answer computed at one epoch holds until it changes. Empty when
        there is none (nothing written yet, or everything dropped)."""

    @abc.abstractmethod
    def create(self, layout: IndexLayout) -> bool:
        """Create the version ``layout`` describes unless it exists; whether it was created."""

    @abc.abstractmethod
    def make_live(self, name: str) -> None:
        """Make version ``name`` the live one, at once for every query."""

    @abc.abstractmethod
    def drop(self, name: str, documents: bool) -> None:
        """Drop version ``name`` and, with ``documents``, the documents under its prefix."""

    @abc.abstractmethod
    def drop_all(self, documents: bool) -> list[str]:
        """Drop every version (and, with ``documents``, every document); their names."""

    # Documents.

    @abc.abstractmethod
    def write_documents(self, layout: IndexLayout, products: Sequence[Product], field: str,
                        vectors: np.ndarray, cleared: Sequence[str]) -> None:
        """Write the products' documents (their filterable fields, their display document and
        their vector in ``field``), atomically; a product without an image loses the vectors in
        ``cleared``; other vectors stay."""

    @abc.abstractmethod
    def write_fields(self, layout: IndexLayout, products: Sequence[Product]) -> None:
        """Rewrite the products' documents but their vectors (a price, stock or link changed);
        a product with no document is left for its embedding to write."""

    @abc.abstractmethod
    def write_vectors(self, layout: IndexLayout, field: str, vectors: dict[str, np.ndarray | None]) -> None:
        """Set (or, for None, remove) the vector in ``field`` of each product's document."""

    @abc.abstractmethod
    def remove(self, product_ids: Iterable[str]) -> None:
        """Remove the products' documents from every version, and their display documents."""

    @abc.abstractmethod
    def present(self, layout: IndexLayout, product_ids: Sequence[str], fields: Sequence[str]) -> list[list[bool]]:
        """For each product: whether its document is there, then whether each of ``fields`` is."""

    @abc.abstractmethod
    def documents(self, product_ids: list[str]) -> list[dict[str, Any] | None]:
        """The products' display documents, in order, in one round trip; None for each missing."""

    # Reads.

    @abc.abstractmethod
    def compile_filters(self, filters: Filters, exclude: Collection[str] = ()) -> Any:
        """``filters``, and none of the products ``exclude`` names, in the backend's query language
        (its query compiler); None when nothing is filtered."""

    # Suggestions (autocomplete), beside the documents of a generation; written with them.

    @abc.abstractmethod
    def has_suggestions(self, doc_prefix: str) -> bool:
        """Whether the documents under ``doc_prefix`` have their suggestions."""

    @abc.abstractmethod
    def write_suggestions(self, doc_prefix: str, products: Sequence[Product]) -> None:
        """Add the products' names and suggested values to the suggestions of ``doc_prefix``."""
