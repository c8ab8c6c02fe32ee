from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started
        from django.db.models.signals import post_delete, post_save

        from catalog import signals
        from core.serving import serving_started
        from search import checks, metrics, receivers  # noqa: F401 - checks registers the system checks
        from search.models import Gloss, Rule, SynonymGroup
        from search.query import answers
        from search.query.intent import forget_glosses
        from search.query.rules import forget_rules
        from search.query.synonyms import forget_groups

        signals.importing.connect(receivers.index_exists, dispatch_uid="search-index-exists")
        signals.products_changed.connect(receivers.changed, dispatch_uid="search-products-changed")
        signals.progress_asked.connect(receivers.progress, dispatch_uid="search-progress")
        signals.products_deleting.connect(receivers.forget_deleted, dispatch_uid="search-forget-deleted")
        signals.products_deleted.connect(receivers.forget_deleted, dispatch_uid="search-forget-deleted-again")
        for changed in (post_save, post_delete):
            changed.connect(forget_groups, sender=SynonymGroup, dispatch_uid=f"search-synonyms-{changed}")
            changed.connect(forget_rules, sender=Rule, dispatch_uid=f"search-rules-{changed}")
            changed.connect(forget_glosses, sender=Gloss, dispatch_uid=f"search-glosses-{changed}")
        request_started.connect(answers.request_started, dispatch_uid="search-one-epoch-a-request")
        request_finished.connect(answers.request_finished, dispatch_uid="search-epoch-per-question")
        serving_started.connect(receivers.warm_up, dispatch_uid="search-warm-up")
        metrics.start()
