from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """What shoppers search for and what they find: every search and every click on a result,
    recorded cheaply as it happens (a Redis stream) and rolled up into the database by a worker,
    for the owner's dashboard."""

    name = "analytics"
    verbose_name = "Search analytics"
