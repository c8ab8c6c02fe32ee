"""System checks: a bad search setting, or a vector kind whose writer cannot be imported, stops
`manage.py` commands with a message naming it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from search.embedding.image import IMAGE_MODELS
from search.embedding.runtime import DEVICES
from search.kinds import KINDS
from search.store.schema import VectorIndexSpec, configured_vector_type


@checks.register()
def check_search_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for name in (kind.index_setting for kind in KINDS):
        try:
            VectorIndexSpec.parse(getattr(settings, name))
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(f"{name}: {exc}", id="search.E001"))
    try:
        configured_vector_type()
    except ImproperlyConfigured as exc:
        errors.append(checks.Error(str(exc), id="search.E003"))
    if settings.FINDER_IMAGE_MODEL not in IMAGE_MODELS:
        errors.append(checks.Error(f"FINDER_IMAGE_MODEL must be one of {', '.join(IMAGE_MODELS)}",
                                   id="search.E002"))
    if settings.FINDER_DEVICE not in DEVICES:
        errors.append(checks.Error(f"FINDER_DEVICE must be one of {', '.join(DEVICES)}", id="search.E004"))
    # The kinds name their writers by dotted path, since the writers read the kinds: a wrong path
    # is found here, not by the first task that embeds.
    for kind in KINDS:
        for path in (kind.writer, kind.on_failure):
            try:
                import_string(path)
            except ImportError as exc:
                errors.append(checks.Error(f"the {kind.name} vectors' {path}: {exc}", id="search.E005"))
    return errors
