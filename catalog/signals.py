"""What the catalog announces, for whoever keeps data derived from it (the search index).

The catalog knows nothing of its listeners: search connects to these in its
``AppConfig.ready()``, as ``django.contrib.auth`` does with its login signals. Each is sent
with ``product_ids``, a list (of ids, strings).
"""

from django.dispatch import Signal

#: Before a catalog file is read. A listener that cannot take the products in raises a
#: :class:`core.errors.Unavailable`, and nothing is imported.
importing = Signal()
#: After a transaction that created or changed products (or asked for their re-embedding)
#: has committed: whatever is derived from them is stale. ``fields`` names the fields that
#: changed, or is None for new products and for everything (a re-embedding).
products_changed = Signal()
#: Before products are deleted. A listener that cannot forget them raises, and they stay.
products_deleting = Signal()
#: After the transaction that deleted products has committed: whatever was derived from them
#: meanwhile (a worker that had read them before) goes too.
products_deleted = Signal()
#: Asked how far products (``product_ids``, or None for all) are searchable: a listener answers
#: ``{"products", "indexed", "pending", "failed"}`` (an import's report shows it).
progress_asked = Signal()
