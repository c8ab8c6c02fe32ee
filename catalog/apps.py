from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from catalog.metrics import ImportsCollector
        from core.metrics import read_at_scrape

        read_at_scrape(ImportsCollector())
