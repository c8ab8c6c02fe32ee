"""The search app keeps no data in the database (the index lives in Redis); this model, an
empty table, only carries the permissions of its admin page, so that staff get them the way
they get every other (an unmanaged model would break ``dumpdata`` of the whole database)."""

from django.db import models


class SearchIndex(models.Model):
    class Meta:
        default_permissions = ()
        permissions = [("view_search_index", "Can see the search index page"),
                       ("check_recall", "Can run the recall check")]
