"""The PyTorch modules the models are exported from: imported only to export a model to ONNX
(once per machine) or to run it in PyTorch, never by a process that finds the export on disk."""

from __future__ import annotations

import torch


class MeanPooled(torch.nn.Module):
    """MiniLM's token vectors averaged over the real tokens: sentence-transformers' pooling."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        tokens = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
        return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class PooledFeatures(torch.nn.Module):
    """EfficientNet-Lite's last feature map, averaged: the 1280-d penultimate layer."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.extract_features(images).mean((2, 3))
