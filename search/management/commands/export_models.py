"""``manage.py export_models``: export the configured text and image models to ONNX, once.

The image's builder stage runs it (where requirements-export.txt is installed), so that the
runtime image, which has neither PyTorch nor the models' weights, finds the exports in its model
cache. Anywhere else the models are exported on first use, and this only does it ahead of time.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from search.embedding.image import image_embedder
from search.embedding.text import text_embedder


class Command(BaseCommand):
    help = "Export the configured text and image models to ONNX into FINDER_MODEL_CACHE (once)."

    def handle(self, *args: object, **options: object) -> None:
        for embedder in (text_embedder(), image_embedder()):
            self.stdout.write(f"{embedder.name}: {embedder.dim}-d, {embedder.runtime} on {embedder.device}")
