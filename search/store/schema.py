"""The one object that describes the product index (redisvl's :class:`IndexSchema`).

Storage, as the original demo did it and the guide measured: the index runs over HASH
documents that hold the filterable fields and both vectors as raw bytes (a JSON array costs
about ten times the raw bytes), while the product's display metadata lives in a RedisJSON
document ``<prefix>:meta:<id>``, fetched for the hits. Vectors are FLOAT16 by default
(``FINDER_VECTOR_TYPE``): half the memory of FLOAT32, in the documents and in the index's
own copy, for similarities that differ by less than 0.001 (the vectors are unit length).

Versions. Documents live under a *generation* prefix named after the models that computed
their vectors, and each index is named after a fingerprint of everything that shapes it
(generation, dimensions, index types, metrics, parameters). Shoppers always query the alias
``<prefix>:products``; a changed setting builds a new index beside the live one and the
alias moves to it when it is complete (see :mod:`search.lifecycle`).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from redisvl.schema import IndexSchema

from catalog.attributes import ATTRIBUTES, TAG_SEPARATOR, Attribute, Kind
from search.kinds import KINDS

#: The attributes the index holds, as fields of the same names.
INDEXED = tuple(attribute for attribute in ATTRIBUTES if attribute.indexed and attribute.kind is not Kind.URL)

ALGORITHM_PARAMS = {
    "FLAT": {"INITIAL_CAP": int, "BLOCK_SIZE": int},
    "HNSW": {"INITIAL_CAP": int, "M": int, "EF_CONSTRUCTION": int, "EF_RUNTIME": int, "EPSILON": float},
}
METRICS = ("L2", "IP", "COSINE")
VECTOR_TYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16}


def vector_bytes(vector: np.ndarray, vector_type: str) -> bytes:
    """A vector as an index of ``vector_type`` stores it."""
    return np.asarray(vector, dtype=VECTOR_TYPES[vector_type]).tobytes()


def vector_from_bytes(raw: bytes, vector_type: str) -> np.ndarray:
    return np.frombuffer(raw, dtype=VECTOR_TYPES[vector_type]).astype(np.float32)


def configured_vector_type() -> str:
    vector_type = settings.FINDER_VECTOR_TYPE.upper()
    if vector_type not in VECTOR_TYPES:
        raise ImproperlyConfigured(f"FINDER_VECTOR_TYPE must be one of {', '.join(VECTOR_TYPES)}, "
                                   f"not {settings.FINDER_VECTOR_TYPE!r}")
    return vector_type


@dataclass(frozen=True)
class VectorIndexSpec:
    """How one vector field is indexed: ``ALGORITHM:METRIC[:PARAM=VALUE,...]``.

    For example ``HNSW:COSINE:M=16,EF_CONSTRUCTION=200,EF_RUNTIME=100`` or, as the seed's
    ``create_flat_index``, ``FLAT:L2:INITIAL_CAP=3000,BLOCK_SIZE=3000``.
    """

    algorithm: str
    metric: str
    params: tuple[tuple[str, int | float], ...] = ()

    @classmethod
    def parse(cls, text: str) -> VectorIndexSpec:
        parts = text.strip().split(":")
        if len(parts) not in (2, 3):
            raise ImproperlyConfigured(f"vector index {text!r}: expected ALGORITHM:METRIC[:PARAM=VALUE,...]")
        algorithm, metric = parts[0].strip().upper(), parts[1].strip().upper()
        if algorithm not in ALGORITHM_PARAMS:
            raise ImproperlyConfigured(f"vector index {text!r}: algorithm must be FLAT or HNSW")
        if metric not in METRICS:
            raise ImproperlyConfigured(f"vector index {text!r}: metric must be one of {', '.join(METRICS)}")
        allowed = ALGORITHM_PARAMS[algorithm]
        params: dict[str, int | float] = {}
        for item in filter(None, (p.strip() for p in (parts[2] if len(parts) == 3 else "").split(","))):
            name, _, value = item.partition("=")
            name = name.strip().upper()
            if name not in allowed:
                raise ImproperlyConfigured(
                    f"vector index {text!r}: {algorithm} takes {', '.join(allowed)}, not {name!r}")
            try:
                params[name] = allowed[name](value.strip())
            except ValueError:
                raise ImproperlyConfigured(f"vector index {text!r}: {name} must be a number") from None
            if params[name] <= 0:
                raise ImproperlyConfigured(f"vector index {text!r}: {name} must be positive")
        return cls(algorithm, metric, tuple(sorted(params.items())))

    def attrs(self, dims: int, vector_type: str) -> dict[str, Any]:
        """The field's attributes, as redisvl names them."""
        return {"dims": dims, "algorithm": self.algorithm.lower(), "distance_metric": self.metric.lower(),
                "datatype": vector_type.lower(), **{name.lower(): value for name, value in self.params}}

    def score(self, distance: float) -> float:
        """Turn the metric's distance into a similarity score, higher is more similar.

        Vectors are L2-normalised, so every metric yields the cosine similarity: COSINE and
        IP distances are ``1 - cos``, and RediSearch's L2 distance is the squared Euclidean
        one, ``2 - 2 cos``.
        """
        return 1.0 - distance / 2.0 if self.metric == "L2" else 1.0 - distance

    def __str__(self) -> str:
        params = ",".join(f"{name}={value}" for name, value in self.params)
        return f"{self.algorithm}:{self.metric}" + (f":{params}" if params else "")


@dataclass(frozen=True)
class VectorField:
    """One vector field of the index: a kind's field, its model's dimension, how it is indexed."""

    name: str
    dim: int
    spec: VectorIndexSpec


@dataclass(frozen=True)
class IndexLayout:
    """Everything that shapes one version of the index."""

    generation: str
    vectors: tuple[VectorField, ...]
    vector_type: str

    @property
    def doc_prefix(self) -> str:
        return f"{settings.FINDER_INDEX_PREFIX}:{self.generation}:"

    def doc_key(self, product_id: str) -> str:
        return f"{self.doc_prefix}{product_id}"

    def vector_bytes(self, vector: np.ndarray) -> bytes:
        return vector_bytes(vector, self.vector_type)

    @property
    def index_name(self) -> str:
        fingerprint = hashlib.sha1(json.dumps(self._definition(""), sort_keys=True).encode()).hexdigest()[:10]
        return f"{settings.FINDER_INDEX_PREFIX}:products:{fingerprint}"

    def schema(self) -> IndexSchema:
        return IndexSchema.from_dict(self._definition(self.index_name))

    def _definition(self, name: str) -> dict[str, Any]:
        return {
            # No stopwords: a name filter word must match as typed, "for" and "the" included.
            "index": {"name": name, "prefix": self.doc_prefix, "key_separator": ":", "storage_type": "hash",
                      "stopwords": []},
            "fields": [
                {"name": "id", "type": "tag"},
                *(index_field(attribute) for attribute in INDEXED),
                *({"name": vector.name, "type": "vector", "attrs": vector.spec.attrs(vector.dim, self.vector_type)}
                  for vector in self.vectors),
            ],
        }


def index_field(attribute: Attribute) -> dict[str, Any]:
    """An attribute's field in the index, as redisvl describes it."""
    if attribute.kind is Kind.TAG:
        return {"name": attribute.field, "type": "tag", "attrs": {"separator": TAG_SEPARATOR}}
    if attribute.kind is Kind.TEXT:
        return {"name": attribute.field, "type": "text", "attrs": {"no_stem": not attribute.stemmed}}
    return {"name": attribute.field, "type": "numeric" if attribute.kind is Kind.NUMBER else "geo"}


#: Documents hold these fields besides the vectors. The format is named after them, so that a
#: new field (a new attribute) makes a new version of the documents, embedded afresh.
DOCUMENT_FIELDS = ("id", *(attribute.field for attribute in INDEXED))
DOCUMENT_FORMAT = "d" + hashlib.sha1(",".join(DOCUMENT_FIELDS).encode()).hexdigest()[:6]


def generation_name(models: Iterable[str], vector_type: str) -> str:
    """A key-safe name for the models that computed a document's vectors (one per kind), how
    they are stored, and the document format."""
    return re.sub(r"[^a-z0-9.-]+", "-", ".".join((*models, vector_type, DOCUMENT_FORMAT)).lower())


def alias() -> str:
    """What every query searches: it names the live version of the index."""
    return f"{settings.FINDER_INDEX_PREFIX}:products"


def suggestion_key(doc_prefix: str, dictionary: str) -> str:
    """A suggestion dictionary (FT.SUGADD) of the documents under ``doc_prefix``: ``products``
    (their names) or an attribute's parameter (its values). It goes with the documents."""
    generation = doc_prefix.removeprefix(f"{settings.FINDER_INDEX_PREFIX}:").rstrip(":")
    return f"{settings.FINDER_INDEX_PREFIX}:suggest:{generation}:{dictionary}"


def epoch_key() -> str:
    """The token every write to the index replaces (:meth:`IndexStore.epoch`)."""
    return f"{settings.FINDER_INDEX_PREFIX}:epoch"


def new_epoch() -> str:
    """A token no epoch had before: not a counter, which a restore or a failover that lost the last
    writes could set back to a number answers were already kept under."""
    return uuid.uuid4().hex


def meta_key(product_id: str) -> str:
    return f"{settings.FINDER_INDEX_PREFIX}:meta:{product_id}"


def configured_layout() -> IndexLayout:
    """The index version that the settings and the models call for (no model is loaded)."""
    vector_type = configured_vector_type()
    models = [kind.model() for kind in KINDS]
    return IndexLayout(
        generation_name((model.name for model in models), vector_type),
        tuple(VectorField(kind.field, model.dim, VectorIndexSpec.parse(getattr(settings, kind.index_setting)))
              for kind, model in zip(KINDS, models, strict=True)),
        vector_type)
