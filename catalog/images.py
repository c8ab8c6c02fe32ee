"""Product photos as they come: checked, and turned into a plain RGB JPEG of sensible size.

Catalog files hold every kind of image: CMYK JPEGs, PNGs with transparency, photos tens of
megapixels large, truncated downloads, files that are not images at all, and images built to
explode when decoded (decompression bombs). Each is either converted or rejected with a
reason a person can act on.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

#: Images with more pixels than this are refused unread (a decompression bomb, or close to one).
MAX_PIXELS = 40_000_000
#: Longer sides are scaled down to this: more than any product card or the models need.
MAX_SIDE = 1200
JPEG_QUALITY = 90


class ImageRejected(ValueError):
    """The bytes are not a usable image; the message says why."""


def load_image(data: bytes) -> Image.Image:
    """Decode ``data`` fully, refusing bombs, non-images and truncated or corrupt files."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise ImageRejected(f"the image is too large ({image.width}x{image.height} pixels; "
                                    f"at most {MAX_PIXELS // 1_000_000} megapixels)")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("the image is too large to decode safely (a decompression bomb?)") from None
    except UnidentifiedImageError:
        raise ImageRejected("the file is not an image") from None
    except (OSError, SyntaxError, ValueError) as exc:
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

    A plain RGB JPEG of sensible size is kept byte for byte.
    """
    image = load_image(data)
    notes = []
    if image.format != "JPEG":
        notes.append(f"converted from {image.format or 'an unknown format'} to JPEG")
    if image.mode != "RGB":
        notes.append(f"converted from {image.mode} to RGB" + (" on white" if "A" in image.mode else ""))
    if max(image.size) > MAX_SIDE:
        notes.append(f"scaled down from {image.width}x{image.height}")
    if not notes:
        return data, ""
    converted = to_rgb(image)
    converted.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    converted.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue(), "; ".join(notes)
