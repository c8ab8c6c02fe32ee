"""Fashion Product Finder: the Django project package."""

from finder.celery import app as celery_app

__all__ = ("celery_app",)
