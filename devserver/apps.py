from django.apps import AppConfig


class DevserverConfig(AppConfig):
    """``manage.py runfinder`` and what it starts; installed everywhere, since the benchmark runs a
    whole finder on production settings."""

    name = "devserver"
    verbose_name = "Development server"
