"""The test suite (pytest's ``DJANGO_SETTINGS_MODULE``): the development settings, with SQLite's
test database in a file. Tests that need production settings set them, or start a process on
``finder.settings.production``."""

from finder.settings.local import *  # noqa: F403
from finder.settings.local import DATABASES, VAR_DIR

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the Celery worker the tests run reads it from another thread, and
    # SQLite's shared in-memory databases lock up under that.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
