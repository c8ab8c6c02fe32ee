"""The search app keeps no tables (the index lives in Redis); this model only carries the
permissions of its admin page, so that staff get them the way they get every other."""

from django.db import models


class SearchIndex(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_search_index", "Can see the search index page"),
                       ("check_recall", "Can run the recall check")]
