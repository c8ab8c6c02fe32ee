"""Product photos as they come: checked, and turned into a plain RGB JPEG of sensible size.

Catalog files and shoppers bring every kind of image: CMYK JPEGs, PNGs with transparency,
photos tens of megapixels large, truncated downloads, files that are not images at all, and
images built to explode when decoded (decompression bombs, or a few kilobytes of PNG that
are 12,000 pixels wide). Every path that opens an image (a shopper's photo, an import, a
photo staff attach in the admin, the image worker) goes through :func:`load_image`, which
reads the header first and refuses what would be costly to decode: an unknown format, too
many pixels, too long a side, or too extreme a shape. Each is either converted or rejected
with a reason a person can act on.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

#: The formats a shop needs; anything else is refused before a decoder sees it.
FORMATS = ("JPEG", "PNG", "WEBP")
#: Images with more pixels than this are refused unread (a decompression bomb, or close to one).
MAX_PIXELS = 40_000_000
#: Nor may one side be longer, or the longer side more than MAX_ASPECT times the shorter:
#: a product photo is never a 12,000 x 400 strip, and such a strip costs more than it shows.
MAX_DIMENSION = 10_000
MAX_ASPECT = 8
#: Image files larger than this are refused unread, whatever they hold.
MAX_IMAGE_BYTES = 50_000_000
#: Longer sides are scaled down to this: more than any product card or the models need.
MAX_SIDE = 1200
JPEG_QUALITY = 90
#: Where :func:`load_image` notes the size in the file (JPEGs may decode smaller).
ORIGINAL_SIZE = "finder_original_size"
#: EXIF's orientation tag: 1 is upright.
ORIENTATION = 0x0112
#: JPEG segments that hold metadata rather than the image: EXIF and XMP (APP1), IPTC (APP13),
#: comments. The colour profile (APP2) and the JFIF and Adobe headers stay.
METADATA_SEGMENTS = {0xE1, 0xED, 0xFE}


class ImageRejected(ValueError):
    """The bytes are not a usable image; the message says why."""


def check_file_size(size: int) -> None:
    """Refuse an image file of ``size`` bytes before reading it, when it is over MAX_IMAGE_BYTES."""
    if size > MAX_IMAGE_BYTES:
        raise ImageRejected(f"the image file is too large (at most {MAX_IMAGE_BYTES // 1_000_000} MB)")


def check_header(image: Image.Image) -> None:
    """Refuse, from the header alone, an image too large or too oddly shaped to decode."""
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageRejected("the image has no pixels")
    if width * height > MAX_PIXELS:
        raise ImageRejected(f"the image is too large ({width}x{height} pixels; "
                            f"at most {MAX_PIXELS // 1_000_000} megapixels)")
    if max(width, height) > MAX_DIMENSION:
        raise ImageRejected(f"the image is too large ({width}x{height} pixels; "
                            f"at most {MAX_DIMENSION:,} pixels a side)")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageRejected(f"the image is too narrow for a product photo ({width}x{height} pixels; "
                            f"at most {MAX_ASPECT}:1)")


def load_image(data: bytes) -> Image.Image:
    """Decode ``data`` fully, refusing other formats, bombs, odd shapes and truncated files."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            check_header(image)
            original = image.size
            if image.format == "JPEG":
                # JPEG decodes at a reduced scale for free: a 9,000 px photo never lands in
                # memory whole when the finder keeps at most MAX_SIDE of it.
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))
            image.load()
            image.info[ORIGINAL_SIZE] = original
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("the image is too large to decode safely (a decompression bomb?)") from None
    except UnidentifiedImageError:
        raise ImageRejected("the file is not an image the finder takes (JPEG, PNG or WebP)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, ImageRejected):
            raise
        raise ImageRejected(f"the image is corrupt or truncated ({exc})") from None
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB on white: CMYK, greyscale and palette images converted, transparency flattened."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def normalise(data: bytes) -> tuple[bytes, str]:
    """A web-ready JPEG of the image in ``data``, and what was done to it ("" when nothing).

    A plain RGB JPEG of sensible size keeps its image data byte for byte, without the metadata
    a camera wrote (EXIF, its GPS position included; XMP; IPTC; comments): a shop's photos are
    served to everyone. One that EXIF says to turn is turned upright and encoded again.
    """
    image = load_image(data)
    size = image.info[ORIGINAL_SIZE]
    notes = []
    if image.getexif().get(ORIENTATION, 1) != 1:
        notes.append("turned upright, as its EXIF said")
        image = ImageOps.exif_transpose(image)
    if image.format != "JPEG":
        notes.append(f"converted from {image.format or 'an unknown format'} to JPEG")
    if image.mode != "RGB":
        notes.append(f"converted from {image.mode} to RGB" + (" on white" if "A" in image.mode else ""))
    if max(size) > MAX_SIDE:
        notes.append(f"scaled down from {size[0]}x{size[1]}")
    if not notes:
        return without_metadata(data), ""
    converted = to_rgb(image)
    converted.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    converted.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue(), "; ".join(notes)


def without_metadata(jpeg: bytes) -> bytes:
    """``jpeg`` without its metadata segments (:data:`METADATA_SEGMENTS`), its image data untouched."""
    kept, at = [jpeg[:2]], 2  # the start-of-image marker
    while at + 4 <= len(jpeg) and jpeg[at] == 0xFF:
        marker = jpeg[at + 1]
        if marker == 0xFF:  # a fill byte before a marker
            at += 1
            continue
        if marker == 0xDA:  # start of scan: the image data, to the end
            break
        end = at + 2 + int.from_bytes(jpeg[at + 2:at + 4], "big")
        if marker not in METADATA_SEGMENTS:
            kept.append(jpeg[at:end])
        at = end
    kept.append(jpeg[at:])
    return b"".join(kept)
