"""WSGI entry point, used by gunicorn in ``make run`` and in docker-compose (settings in
:mod:`finder.gunicorn`): Django behind the guard that reads each request's body first and lets
one request at a time into Django (:mod:`core.serving`)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from core.serving import guarded, serving_started

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finder.settings.production")

application = guarded(get_wsgi_application())
serving_started.send(sender=None)
