"""Where the models run: the device, the thread budget, and the ONNX Runtime or PyTorch runner."""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from django.conf import settings

if TYPE_CHECKING:
    import onnxruntime
    import torch

logger = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
#: Inputs per forward pass. On a GPU, bigger batches keep it busy. On a CPU, throughput stops
#: growing early, and small text batches waste less on padding (docs/scaling.md has the figures).
BATCH_SIZES = {"cpu": (8, 32), "cuda": (512, 256)}  # (texts, images)

Runtime = Literal["onnx", "torch"]
Run = Callable[..., np.ndarray]
#: What a model is exported from, or run by PyTorch: the module, example inputs, and each
#: input's dynamic axes besides the batch.
Exportable = tuple["torch.nn.Module", tuple["torch.Tensor", ...], tuple[dict[int, object], ...]]


class ModelUnavailable(RuntimeError):
    """The configured model's weights, or the configured device, cannot be had on this machine."""


@dataclass(frozen=True)
class ModelInfo:
    """Which model the settings call for, known without loading it."""

    name: str
    dim: int


class Embedder(Protocol):
    """What every loaded model is (redisvl's ``BaseVectorizer``, for this project): its name, the
    dimension of its vectors, and a batch of inputs (texts, photos) in, one unit vector a row out:
    :class:`.text.TextEmbedder` and :class:`.image.ImageEmbedder` are."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, inputs: Sequence[Any], /) -> np.ndarray: ...


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


loading = threading.Lock()


def model_threads() -> int:
    """``FINDER_MODEL_THREADS``: how many CPU threads this process's models may use (0: all cores).

    ``make run`` gives the text worker one, so that it and the image worker do not fight over
    the same cores."""
    return settings.FINDER_MODEL_THREADS or os.cpu_count() or 1


def device() -> str:
    """``cuda`` where ``FINDER_DEVICE`` asks for it or (``auto``) a CUDA GPU is there, else ``cpu``."""
    choice = settings.FINDER_DEVICE
    if choice not in DEVICES:
        raise ModelUnavailable(f"FINDER_DEVICE must be one of {', '.join(DEVICES)}, not {choice!r}")
    if choice == "cpu" or (choice == "auto" and not _nvidia_driver_loaded()):
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if choice == "cuda":
        raise ModelUnavailable("FINDER_DEVICE=cuda but PyTorch sees no CUDA GPU on this machine")
    return "cpu"


def _nvidia_driver_loaded() -> bool:
    """Whether NVIDIA's driver is there (Linux's ``/proc/driver/nvidia``, which NVIDIA's container
    toolkit mounts in a container given a GPU, or WSL's ``/dev/dxg``). Without it PyTorch sees no
    CUDA GPU, and PyTorch, slow to import, is not imported to be told so: a web process or a
    worker on a CPU runs the models' ONNX exports and never needs it."""
    return any(Path(path).exists() for path in ("/proc/driver/nvidia", "/dev/dxg"))


def default_runtime(on: str) -> Runtime:
    return "torch" if on == "cuda" else "onnx"


def weights_digest(path: Path | str) -> str:
    """A short digest of a weights file (or of a model folder's weights): it names the ONNX export."""
    path = Path(path)
    files = sorted(path.glob("*.safetensors")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def runner(build: Callable[[], Exportable], on: str, runtime: Runtime, key: str, int8: bool = False,
           lanes: int = 1) -> Run:
    """A function from numpy inputs to numpy outputs that runs the model ``key`` names as asked;
    with ``int8`` (ONNX only), its matrix multiplications quantised to 8 bits (:func:`_int8_export`).
    With ``lanes`` above one (ONNX only), each call runs on its caller's thread alone and the
    caller runs that many at once (its batches side by side), rather than each call's operators
    being split between the threads.

    ``build`` makes the PyTorch module, and is called only where it is needed: to run in PyTorch,
    or to export it to ONNX the first time. A process that finds the export on disk loads
    neither PyTorch nor the model's Python code, which take seconds of CPU to load."""
    if runtime == "onnx":
        if on != "cpu":
            raise ModelUnavailable("the ONNX runtime is used on the CPU only; on a GPU the models run in PyTorch")
        return _onnx_runner(build, key, int8, lanes)
    import torch

    torch.set_num_threads(model_threads())
    module, _, _ = build()
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


def _onnx_runner(build: Callable[[], Exportable], key: str, int8: bool, lanes: int) -> Run:
    import onnxruntime

    path = _onnx_export(build, key)
    if int8:
        path = _int8_export(path)
    options = session_options(1 if lanes > 1 else model_threads())
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [node.name for node in session.get_inputs()]

    def run(*arrays: np.ndarray) -> np.ndarray:
        return session.run(None, dict(zip(names, arrays, strict=True)))[0]

    return run


def session_options(threads: int | None = None) -> onnxruntime.SessionOptions:
    """ONNX Runtime's options for this process: the threads a call's operators are split between
    (``FINDER_MODEL_THREADS`` unless ``threads`` says), and whether they spin between operators
    (``FINDER_MODEL_SPIN``). Spinning is faster for a model alone on
    its cores, but where processes share the cores the spinning threads take them from the
    others (``make run``'s import finished sooner without it: docs/settings.md)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or model_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if settings.FINDER_MODEL_SPIN else "0")
    return options


def _onnx_export(build: Callable[[], Exportable], key: str) -> Path:
    """The module ``build`` makes as an ONNX file, exported once per machine (a few seconds) and
    then reused.

    The file is named by ``key`` (:func:`export_key`), so new weights or a new PyTorch mean a new
    export; it is written whole and then renamed, so workers starting together never read half a
    file. Where PyTorch is not installed (the runtime image), the export must be there already."""
    cache = Path(settings.FINDER_MODEL_CACHE)
    path = cache / f"{key}.onnx"
    if path.is_file():
        return path
    try:
        import torch
    except ModuleNotFoundError:
        raise ModelUnavailable(f"{path} is missing, and PyTorch is not installed here to export it: export the "
                               "models where requirements-export.txt is (manage.py export_models)") from None

    cache.mkdir(parents=True, exist_ok=True)
    logger.info("exporting %s to ONNX (once per machine)", key)
    module, example, dynamic = build()
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


def export_key(model: str, weights: Callable[[], Path], files: Sequence[str] = ()) -> str:
    """The name of ``model``'s export: the model, a digest of its ``weights`` (a file, or a folder
    of them) and the PyTorch release that exports it.

    Where the weights and PyTorch are installed, the key is worked out and recorded beside the
    exports (``<model>.key``), and the model's other ``files`` (its tokenizer) are copied from
    beside the weights into :func:`model_files`. Where they are not (the runtime image, whose
    builder stage exported the models), the key is the one recorded."""
    record = Path(settings.FINDER_MODEL_CACHE) / f"{model}.key"
    try:
        path = weights()
        key = f"{model}-{weights_digest(path)}-torch{importlib.metadata.version('torch').split('+')[0]}"
    except (ModuleNotFoundError, importlib.metadata.PackageNotFoundError):
        if not record.is_file():
            raise ModelUnavailable(f"{model} has no export in {record.parent}, and its weights or PyTorch are not "
                                   "installed here to export it (manage.py export_models)") from None
        return record.read_text().strip()
    for name in files:
        data, copy = ((path if path.is_dir() else path.parent) / name).read_bytes(), model_files(model) / name
        if not copy.is_file() or copy.read_bytes() != data:
            copy.parent.mkdir(parents=True, exist_ok=True)
            _write_whole(copy, data)
    if not record.is_file() or record.read_text().strip() != key:
        record.parent.mkdir(parents=True, exist_ok=True)
        _write_whole(record, key.encode())
    return key


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``path`` so that a process reading it meanwhile finds the old file or the new, never half."""
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, path)


def model_files(model: str) -> Path:
    """Where ``model``'s other files (its tokenizer) are copied by :func:`export_key`."""
    return Path(settings.FINDER_MODEL_CACHE) / model


def _int8_export(path: Path) -> Path:
    """The ONNX file at ``path`` with its MatMul weights quantised to int8, per output channel
    (ONNX Runtime's dynamic quantisation: activations are quantised on the fly), made once.

    Only the matrix multiplications: quantising the embedding tables and the rest too moved
    MiniLM's vectors as far as cosine 0.93 from float32, MatMul alone 0.985 (mean 0.993), at
    about twice the speed of float32 on one or two cores."""
    quantised = path.with_name(f"{path.stem}-int8.onnx")
    if quantised.is_file():
        return quantised
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as handle:
        temporary = Path(handle.name)
    quantize_dynamic(path, temporary, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
    os.replace(temporary, quantised)
    return quantised
