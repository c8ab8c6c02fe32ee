"""Shopper photos: checked for size and content before any model sees them."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from PIL import Image

from catalog.images import ImageRejected, load_image
from core.errors import BadRequest


class BadPhoto(BadRequest):
    """The upload is not a usable image; the message says why, for the shopper."""


def open_photo(upload: UploadedFile | None) -> Image.Image:
    if upload is None:
        raise BadPhoto("Choose a photo to search with.")
    if upload.size > settings.FINDER_MAX_PHOTO_BYTES:
        raise BadPhoto(f"The photo is too large: at most {settings.FINDER_MAX_PHOTO_BYTES // 1_000_000} MB.")
    try:
        return load_image(upload.read())
    except ImageRejected as exc:
        raise BadPhoto(f"That file cannot be used: {exc}.") from None
