"""The admin's forms: catalog upload, and a product's photo checked like an imported one."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.validators import FileExtensionValidator

from catalog.feeds import FEED_EXTENSIONS
from catalog.images import ImageRejected, check_file_size, normalise
from catalog.models import Product
from catalog.services import photo_name


class CatalogUploadForm(forms.Form):
    archive = forms.FileField(required=False, validators=[FileExtensionValidator(["zip"])],
                              help_text="A .zip holding styles.csv and images/<id>.jpg, as the public set ships.")
    feed = forms.FileField(required=False,
                           validators=[FileExtensionValidator([ext.lstrip(".") for ext in FEED_EXTENSIONS])],
                           help_text="Or a Google Merchant Center feed: tab-separated (.tsv, .txt) or XML (.xml); "
                                     "its photos are fetched from their image links.")
    styles = forms.FileField(required=False, validators=[FileExtensionValidator(["csv"])],
                             help_text="Or the catalog CSV on its own…")
    images = forms.FileField(required=False, validators=[FileExtensionValidator(["zip"])],
                             help_text="…with, optionally, a .zip of its images.")
    sync = forms.BooleanField(required=False, label="Remove products the file does not list",
                              help_text="The file is the whole catalog: products it does not name are deleted.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if sum(bool(data.get(role)) for role in ("archive", "feed", "styles")) != 1:
            raise forms.ValidationError("Upload one of: a .zip catalog, a product feed, or a CSV (and optionally "
                                        "a .zip of images).")
        if (data.get("archive") or data.get("feed")) and data.get("images"):
            raise forms.ValidationError("A .zip of images goes with a CSV only.")
        total = sum(upload.size for role, upload in data.items() if role in self.ROLES and upload)
        if total > settings.FINDER_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The upload is too large: at most "
                                        f"{settings.FINDER_MAX_UPLOAD_BYTES // 1_000_000} MB.")
        return data

    ROLES = ("archive", "feed", "styles", "images")

    def files_by_role(self) -> dict[str, Any]:
        return {role: self.cleaned_data[role] for role in self.ROLES if self.cleaned_data.get(role)}


class ProductAdminForm(forms.ModelForm):
    """A photo attached by staff goes through the import's checks and conversion, and is stored
    under a name of its own (never the file name it came with, which could be another
    product's)."""

    class Meta:
        model = Product
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("image")
        if upload and "image" in self.changed_data and data.get("id"):
            try:
                check_file_size(upload.size)
                photo, _ = normalise(upload.read())
            except ImageRejected as exc:
                self.add_error("image", f"That photo cannot be used: {exc}.")
                return data
            data["image"] = ContentFile(photo, name=photo_name(data["id"], photo).removeprefix("products/"))
        return data
