"""WSGI entry point, used by gunicorn in ``make run`` and in docker-compose."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finder.settings")

application = get_wsgi_application()
