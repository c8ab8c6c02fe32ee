"""The index engine: FLAT and HNSW with L2, IP and COSINE against numpy brute force on real
embeddings, index specs from settings, and a versioned rebuild that never stops answering."""

from __future__ import annotations

import csv
import threading
import time

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from redisvl.index import SearchIndex
from redisvl.query import VectorQuery

from catalog.models import Product
from catalog.services import import_catalog
from search.embedding.image import OFFLINE_DEFAULT, image_embedder
from search.embedding.text import text_embedder, text_model
from search.filters import Filters
from search.kinds import BY_NAME, By
from search.lifecycle import ensure_index
from search.query.similar import similar_products
from search.store.connection import get_client
from search.store.redisearch import index_info, index_versions, live_index_name
from search.store.schema import (
    IndexLayout,
    VectorField,
    VectorIndexSpec,
    alias,
    generation_name,
    vector_bytes,
    vector_from_bytes,
)
from search.store.versions import live_index
from tests.support import DEMO, demo_rows, text_pending, wait_until_settled

K = 12
QUERIES = 40
COMBINATIONS = [f"{algorithm}:{metric}" for algorithm in ("FLAT", "HNSW") for metric in ("L2", "IP", "COSINE")]
DEFAULTS = {"FLAT": "", "HNSW": ":M=16,EF_CONSTRUCTION=200,EF_RUNTIME=100"}


def test_specs_parse_and_bad_ones_are_refused() -> None:
    spec = VectorIndexSpec.parse("hnsw:cosine:M=16, EF_CONSTRUCTION=200,EF_RUNTIME=100,EPSILON=0.02")
    assert (spec.algorithm, spec.metric) == ("HNSW", "COSINE")
    assert dict(spec.params) == {"M": 16, "EF_CONSTRUCTION": 200, "EF_RUNTIME": 100, "EPSILON": 0.02}
    flat = VectorIndexSpec.parse("FLAT:L2:INITIAL_CAP=3000,BLOCK_SIZE=3000")
    assert flat.attrs(384, "FLOAT32") == {"dims": 384, "algorithm": "flat", "distance_metric": "l2",
                                          "datatype": "float32", "block_size": 3000, "initial_cap": 3000}
    assert str(VectorIndexSpec.parse(str(flat))) == str(flat)
    for bad in ("HNSW", "IVF:L2", "FLAT:HAMMING", "FLAT:L2:M=16", "HNSW:IP:M=many", "HNSW:IP:M=-1", "a:b:c:d"):
        with pytest.raises(ImproperlyConfigured):
            VectorIndexSpec.parse(bad)


def test_scores_are_cosine_similarity_for_every_metric() -> None:
    a, b = np.array([1.0, 0.0]), np.array([0.6, 0.8])
    cos = float(a @ b)
    distances = {"COSINE": 1 - cos, "IP": 1 - cos, "L2": float(np.sum((a - b) ** 2))}
    for metric, distance in distances.items():
        spec = VectorIndexSpec("FLAT", metric)
        assert spec.score(distance) == pytest.approx(cos)


@pytest.fixture(scope="module")
def demo_text_vectors() -> tuple[list[str], np.ndarray]:
    """Real MiniLM embeddings of every demo product's text."""
    with (DEMO / "styles.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [". ".join(v for v in (r["productDisplayName"], r["gender"], r["articleType"], r["baseColour"],
                                   r["usage"]) if v and v != "NA") for r in rows]
    return [r["id"] for r in rows], text_embedder().embed(texts)


@pytest.mark.slow
@pytest.mark.parametrize("vector_type", ["FLOAT32", "FLOAT16"])
@pytest.mark.parametrize("combination", COMBINATIONS)
def test_each_index_type_and_metric_matches_brute_force(combination, vector_type, demo_text_vectors,
                                                        search_settings) -> None:
    ids, embedded = demo_text_vectors
    # Exact search over the vectors as stored (FLOAT16 rounds them).
    vectors = np.stack([vector_from_bytes(vector_bytes(v, vector_type), vector_type) for v in embedded])
    assert np.min(np.sum(vectors * embedded, axis=1)) > 0.9999
    algorithm = combination.split(":")[0]
    spec = VectorIndexSpec.parse(combination + DEFAULTS[algorithm])
    text = BY_NAME["text"].field
    layout = IndexLayout(f"minilm-{vector_type}", (VectorField(text, 384, spec),
                                                    VectorField(BY_NAME["image"].field, 1280, spec)), vector_type)
    client = get_client()
    pipe = client.pipeline(transaction=False)
    for product_id, vector in zip(ids, vectors, strict=True):
        pipe.hset(layout.doc_key(product_id), mapping={"id": product_id, text: layout.vector_bytes(vector)})
    pipe.execute()
    SearchIndex(layout.schema(), redis_client=client).create()
    while index_info(client, layout.index_name)["percent_indexed"] < 1:
        time.sleep(0.1)
    assert index_info(client, layout.index_name)["num_docs"] == len(ids)

    rows = np.random.default_rng(7).choice(len(ids), QUERIES, replace=False)
    # FLOAT16 keeps 11 bits: a stored vector's norm is 1 only to within about 2^-11, and L2's
    # score assumes unit vectors (a product's match with itself reads 1.0 where the rounded
    # vectors' dot product reads 0.99988): the two agree, and near-ties at the 12th place are
    # ordered, to that precision (FLOAT32's: scores to 1e-4, ties to 1e-5).
    tolerance, tie = (1e-4, 1e-5) if vector_type == "FLOAT32" else (2.0 ** -11, 2.0 ** -11)
    hits = 0
    for row in rows:
        exact = vectors @ vectors[row]
        top = np.sort(exact)[::-1][:K]
        query = VectorQuery(vector=layout.vector_bytes(vectors[row]), vector_field_name=text, return_fields=[],
                            num_results=K)
        docs = client.ft(layout.index_name).search(query, query.params).docs
        scores = np.array([spec.score(float(doc.vector_distance)) for doc in docs])
        found = np.array([exact[ids.index(doc.id.rsplit(":", 1)[1])] for doc in docs])
        # The converted score is the cosine similarity numpy computes for the same pair.
        assert np.allclose(scores, found, atol=tolerance)
        if algorithm == "FLAT":
            assert np.allclose(scores, top, atol=tolerance), "FLAT must be exact"
        hits += int(np.sum(found >= top[-1] - tie))
    recall = hits / (QUERIES * K)
    assert recall >= 0.98 if algorithm == "HNSW" else recall == 1.0


@pytest.mark.django_db(transaction=True)
def test_a_changed_index_or_model_is_built_beside_the_live_one_and_search_never_stops(
        search_settings, celery_worker, catalog_dir, resnet50_weights) -> None:
    Product.objects.all().delete()  # a model change re-embeds every product: this test's must be all there are
    ensure_index()
    report = import_catalog(catalog_dir(demo_rows(24)))
    wait_until_settled(report.product_ids)
    client = get_client()
    first = live_index_name(client)
    probe = Product.objects.filter(id__in=report.product_ids).exclude(image="").first().id

    answers, errors, stop = [], [], threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                answers.append(len(similar_products(probe, By.TEXT, Filters(), k=5)))
                answers.append(len(similar_products(probe, By.IMAGE, Filters(), k=5)))
            except Exception as exc:  # any failure at all is what this test looks for
                errors.append(repr(exc))

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        # 1. Another index type and metric: same documents, new index, alias moves.
        search_settings.FINDER_TEXT_INDEX = "FLAT:L2"
        message = ensure_index()
        assert "building" in message
        second = _wait_for_swap(client, first)
        assert index_info(client, second)["vectors"][BY_NAME["text"].field]["spec"].algorithm == "FLAT"
        assert first not in index_versions(client)

        # 2. Another image model: new documents, embedded by the worker, then the alias moves.
        search_settings.FINDER_RESNET50_WEIGHTS = str(resnet50_weights)
        image_embedder.cache_clear()
        assert "building" in ensure_index()
        # Asked again meanwhile (another import, a restart), it neither starts over nor re-queues.
        queued = text_pending().count()
        assert ensure_index().endswith(("being built beside " + second, "is live and up to date"))
        assert text_pending().count() <= queued
        third = _wait_for_swap(client, second)
        wait_until_settled(report.product_ids)
    finally:
        stop.set()
        thread.join()
        image_embedder.cache_clear()
    assert errors == []
    assert len(answers) > 20 and set(answers) == {5}
    info = index_info(client, third)
    assert info["vectors"][BY_NAME["image"].field]["dim"] == 2048 and info["num_docs"] == 24
    assert index_versions(client) == [third]
    # The old generation's documents went with its index.
    old_generation = generation_name((text_model().name, OFFLINE_DEFAULT), "FLOAT16")
    old_prefix = f"{search_settings.FINDER_INDEX_PREFIX}:{old_generation}:"
    assert old_prefix != info["prefix"] and not list(client.scan_iter(match=f"{old_prefix}*"))
    assert live_index(refresh=True).doc_prefix == info["prefix"]
    assert client.ft(alias()).info()["index_name"] in (third, third.encode())


def _wait_for_swap(client, old: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while (live := live_index_name(client)) == old:
        assert time.monotonic() < deadline, "the alias never moved"
        time.sleep(0.2)
    return live


def test_a_bad_index_setting_fails_the_system_checks(settings) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.FINDER_IMAGE_INDEX = "HNSW:MANHATTAN"
    with pytest.raises(SystemCheckError, match="FINDER_IMAGE_INDEX: vector index 'HNSW:MANHATTAN'"):
        call_command("check")


def test_a_vector_kind_whose_writer_cannot_be_imported_fails_the_system_checks(monkeypatch) -> None:
    import dataclasses

    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    from search import checks, kinds

    moved = dataclasses.replace(kinds.PRIMARY, writer="search.indexing.index_words")
    monkeypatch.setattr(checks, "KINDS", (moved, *kinds.KINDS[1:]))
    with pytest.raises(SystemCheckError, match=r"the text vectors' search\.indexing\.index_words"):
        call_command("check")
