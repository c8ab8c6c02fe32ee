from django.conf import settings
from django.urls import path

from core.views import floor, health, metrics

urlpatterns = [
    path("healthz", health, name="health"),
    path("metrics", metrics, name="metrics"),
]
if settings.FINDER_FLOOR_VIEW:
    urlpatterns.append(path("floor/", floor))
