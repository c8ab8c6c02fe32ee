"""WSGI entry point, used by gunicorn in ``make run`` and in docker-compose."""

import logging
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finder.settings")

application = get_wsgi_application()


def _warm_up() -> None:
    """Load the text model now, as the web process starts, rather than in a shopper's first
    search (a few seconds); a model that cannot load leaves the search box to say so."""
    from search.embedding.runtime import ModelUnavailable
    from search.embedding.text import text_embedder

    try:
        text_embedder()
    except ModelUnavailable as exc:
        logging.getLogger(__name__).warning("the text model did not load: %s", exc)


_warm_up()
