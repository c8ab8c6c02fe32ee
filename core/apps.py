from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared plumbing: its pages are the health check, the metrics and the benchmark's floor."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core import workers

        workers.connect_signals()
