from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from catalog import signals
        from search import checks, receivers  # noqa: F401 - checks registers the system checks

        signals.importing.connect(receivers.index_exists, dispatch_uid="search-index-exists")
        signals.products_changed.connect(receivers.embed_changed, dispatch_uid="search-embed-changed")
        signals.products_deleting.connect(receivers.forget_deleted, dispatch_uid="search-forget-deleted")
