"""A developer's machine (``make run``, and the commands the Makefile runs): DEBUG on, a
development secret unless one is set, plain HTTP, and Django serves the product photos."""

from finder.settings.base import *  # noqa: F403
from finder.settings.base import env

DEBUG = True
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-secret-key")
FINDER_SERVE_MEDIA = env.bool("FINDER_SERVE_MEDIA", default=True)
