"""Where product photos are kept: Django's file storage, written atomically.

Every photo has a name of its own, ``products/<id>-<digest>.jpg``, made from the product and
the bytes (see :func:`catalog.services.photo_name`): a new photo never overwrites another
product's, nor the one a product shows until its row is switched to the new name.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from django.core.files.base import File
from django.core.files.storage import FileSystemStorage

#: The shape of a content-addressed photo name: the same name always means the same bytes.
CONTENT_ADDRESSED = re.compile(r"(^|/)\d+-[0-9a-f]{16}\.jpg$")


class PhotoStorage(FileSystemStorage):
    """The file system under MEDIA_ROOT, where a file appears whole or not at all."""

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        # A content-addressed name that exists already holds these very bytes: keep it.
        if CONTENT_ADDRESSED.search(name):
            return name
        return super().get_available_name(name, max_length)

    def _save(self, name: str, content: File) -> str:
        target = Path(self.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".", suffix=".part", delete=False) as handle:
            try:
                for chunk in content.chunks():
                    handle.write(chunk)
            except BaseException:
                os.unlink(handle.name)
                raise
        os.chmod(handle.name, self.file_permissions_mode or 0o644)
        os.replace(handle.name, target)
        return name
