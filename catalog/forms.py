"""The catalog upload form of the admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import FileExtensionValidator


class CatalogUploadForm(forms.Form):
    archive = forms.FileField(required=False, validators=[FileExtensionValidator(["zip"])],
                              help_text="A .zip holding styles.csv and images/<id>.jpg, as the public set ships.")
    styles = forms.FileField(required=False, validators=[FileExtensionValidator(["csv"])],
                             help_text="Or the catalog CSV on its own…")
    images = forms.FileField(required=False, validators=[FileExtensionValidator(["zip"])],
                             help_text="…with, optionally, a .zip of its images.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if bool(data.get("archive")) == bool(data.get("styles")):
            raise forms.ValidationError("Upload either a .zip catalog, or a CSV (and optionally a .zip of images).")
        if data.get("archive") and data.get("images"):
            raise forms.ValidationError("A .zip catalog already holds its images.")
        total = sum(upload.size for upload in data.values() if upload)
        if total > settings.FINDER_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The upload is too large: at most "
                                        f"{settings.FINDER_MAX_UPLOAD_BYTES // 1_000_000} MB.")
        return data

    def files_by_role(self) -> dict[str, Any]:
        return {role: upload for role, upload in self.cleaned_data.items() if upload}
