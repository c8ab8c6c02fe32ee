"""Every kind of product photo a real catalog holds: converted, or rejected with a reason."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

from catalog.images import MAX_SIDE, ImageRejected, load_image, normalise

PHOTO = Path(settings.BASE_DIR) / "data" / "demo-catalog" / "images" / "10007.jpg"


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def test_a_plain_jpeg_is_kept_byte_for_byte() -> None:
    data = PHOTO.read_bytes()
    assert normalise(data) == (data, "")


def test_cmyk_becomes_rgb() -> None:
    data, note = normalise(encode(Image.open(PHOTO).convert("CMYK"), "JPEG"))
    assert "from CMYK to RGB" in note
    assert Image.open(io.BytesIO(data)).mode == "RGB"


def test_png_with_alpha_is_flattened_on_white() -> None:
    image = Image.new("RGBA", (40, 60), (200, 0, 0, 0))
    image.paste((0, 0, 255, 255), (10, 10, 30, 50))
    data, note = normalise(encode(image, "PNG"))
    assert "from PNG to JPEG" in note and "on white" in note
    converted = Image.open(io.BytesIO(data))
    assert converted.format == "JPEG" and converted.mode == "RGB"
    assert converted.getpixel((1, 1)) >= (250, 250, 250)
    assert converted.getpixel((20, 30))[2] > 200


def test_huge_dimensions_are_scaled_down() -> None:
    data, note = normalise(encode(Image.new("RGB", (6000, 4000), "white"), "JPEG"))
    assert "scaled down from 6000x4000" in note
    assert max(Image.open(io.BytesIO(data)).size) == MAX_SIDE


@pytest.mark.parametrize(("data", "reason"), [
    (b"hello, not an image", "not an image"),
    (PHOTO.read_bytes()[:3000], "corrupt or truncated"),
    (encode(Image.new("1", (9000, 9000)), "PNG"), "too large"),  # 81 megapixels in a few kilobytes
    (b"", "not an image"),
])
def test_unusable_images_are_rejected_with_a_reason(data, reason) -> None:
    with pytest.raises(ImageRejected, match=reason):
        load_image(data)


@pytest.mark.django_db(transaction=True)
def test_an_import_converts_or_rejects_each_kind_and_keeps_every_product(search_settings, celery_worker,
                                                                         catalog_dir) -> None:
    from catalog.models import Product
    from catalog.services import import_catalog
    from search.filters import Filters
    from search.kinds import By
    from search.lifecycle import ensure_index
    from search.query.similar import NotSearchable, similar_products
    from tests.support import demo_rows, indexed_products, wait_until_settled

    Product.objects.all().delete()
    rows = demo_rows(8)
    folder = catalog_dir(rows)
    images = folder / "images"
    kinds = {
        rows[0]["id"]: ("cmyk", encode(Image.open(PHOTO).convert("CMYK"), "JPEG")),
        rows[1]["id"]: ("alpha", encode(Image.open(PHOTO).convert("RGBA"), "PNG")),
        rows[2]["id"]: ("huge", encode(Image.open(PHOTO).resize((3000, 4000)), "JPEG")),
        rows[3]["id"]: ("truncated", PHOTO.read_bytes()[:2000]),
        rows[4]["id"]: ("bomb", encode(Image.new("1", (9000, 9000)), "PNG")),
        rows[5]["id"]: ("not an image", b"<html>oops</html>"),
    }
    for product_id, (kind, data) in kinds.items():
        (images / f"{product_id}.jpg").unlink()
        (images / f"{product_id}{'.png' if kind == 'alpha' else '.jpg'}").write_bytes(data)
    (images / f"{rows[6]['id']}.jpg").unlink()  # missing

    ensure_index()
    report = import_catalog(folder)
    wait_until_settled(report.product_ids)
    assert report.created == 8
    converted = {r.product_id: r.reason for r in report.images_converted}
    rejected = {r.product_id: r.reason for r in report.image_problems}
    ids = [row["id"] for row in rows]
    assert set(converted) == set(ids[:3]) and set(rejected) == set(ids[3:7])
    assert "CMYK" in converted[ids[0]] and "PNG" in converted[ids[1]] and "scaled down" in converted[ids[2]]
    assert "truncated" in rejected[ids[3]] and "too large" in rejected[ids[4]]
    assert "not an image" in rejected[ids[5]] and rejected[ids[6]] == "no image file"
    # Every product is searchable; those without a usable image by text only, and flagged.
    assert indexed_products().filter(id__in=ids).count() == 8
    for product_id in ids[3:7]:
        product = Product.objects.get(id=product_id)
        assert product.image_problem and not product.image
        assert similar_products(product_id, By.TEXT, Filters(), k=3)
        with pytest.raises(NotSearchable):
            similar_products(product_id, By.IMAGE, Filters(), k=3)
    for product_id in ids[:3]:
        stored = Image.open(Product.objects.get(id=product_id).image.path)
        assert stored.format == "JPEG" and stored.mode == "RGB" and max(stored.size) <= MAX_SIDE
        assert similar_products(product_id, By.IMAGE, Filters(), k=3)


# Hostile shapes and formats: refused from the header, before any pixel is decoded.

def _strip(width: int, height: int) -> bytes:
    """A few kilobytes of PNG that decode to width x height pixels."""
    return encode(Image.new("L", (width, height), 255), "PNG", optimize=True)


@pytest.mark.parametrize(("size", "reason"), [
    ((12_000, 400), "too large"),  # a side longer than any photo
    ((9_000, 400), "too narrow"),  # 22:1
    ((400, 9_000), "too narrow"),
    ((60_000, 60), "too large"),
])
def test_strips_are_refused_before_they_are_decoded(size, reason) -> None:
    data = _strip(*size)
    assert len(data) < 100_000
    with pytest.raises(ImageRejected, match=reason):
        load_image(data)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO", "PPM"])
def test_only_jpeg_png_and_webp_are_taken(fmt) -> None:
    data = encode(Image.open(PHOTO).convert("RGB").resize((64, 64)), fmt)
    with pytest.raises(ImageRejected, match=r"JPEG, PNG or WebP"):
        load_image(data)


def test_webp_is_taken_and_converted() -> None:
    data, note = normalise(encode(Image.open(PHOTO), "WEBP"))
    assert "from WEBP to JPEG" in note and Image.open(io.BytesIO(data)).format == "JPEG"


PEAK_MEMORY = """
import io, resource, sys
from PIL import Image
from catalog.images import load_image
from search.embedding.image import ImageEmbedder

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

image = load_image(sys.stdin.buffer.read())
before = peak_mb()
embedder = ImageEmbedder("m", 3, "cpu", "onnx", 1, 224, (0.5,) * 3, (0.5,) * 3, run=None)
array = embedder.preprocess(image)
assert array.shape == (3, 224, 224)
print(peak_mb() - before)
"""


@pytest.mark.slow
def test_preparing_a_long_photo_for_the_model_costs_little_memory() -> None:
    """The widest photo taken (8:1, 10,000 px) is scaled before it is padded to a square: the
    padding never costs a 10,000 px square (300 MB); measured in a process of its own."""
    import subprocess
    import sys

    data = encode(Image.new("RGB", (10_000, 1_250), (200, 30, 30)), "PNG")
    result = subprocess.run([sys.executable, "-c", PEAK_MEMORY], input=data, capture_output=True,
                            cwd=settings.BASE_DIR, check=True)
    grown_mb = float(result.stdout)
    assert grown_mb < 80, f"preprocessing grew the process by {grown_mb:.0f} MB"


def test_a_large_jpeg_is_decoded_at_a_reduced_scale() -> None:
    image = load_image(encode(Image.new("RGB", (6_000, 4_000), "white"), "JPEG", quality=50))
    assert max(image.size) < 6_000 and max(image.size) >= MAX_SIDE


def test_a_cameras_metadata_and_position_are_not_kept() -> None:
    """A photo's EXIF (its GPS position among it) and comments are dropped; its pixels are not touched."""
    exif = Image.Exif()
    exif[0x010F] = "PocketCam"  # the camera's maker
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPS latitude
    original = Image.open(PHOTO)
    data = encode(original, "JPEG", exif=exif.tobytes(), comment=b"taken at home")
    assert b"PocketCam" in data and b"taken at home" in data
    kept, note = normalise(data)
    assert note == "" and b"PocketCam" not in kept and b"taken at home" not in kept
    assert not Image.open(io.BytesIO(kept)).getexif()
    assert Image.open(io.BytesIO(kept)).tobytes() == Image.open(io.BytesIO(data)).tobytes()


def test_a_photo_its_exif_says_to_turn_is_turned_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # turn 90 degrees clockwise to show
    wide = Image.new("RGB", (80, 40), (10, 120, 200))
    data, note = normalise(encode(wide, "JPEG", exif=exif.tobytes()))
    assert "turned upright" in note
    assert Image.open(io.BytesIO(data)).size == (40, 80) and not Image.open(io.BytesIO(data)).getexif()
