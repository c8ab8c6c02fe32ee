"""The index's life: the version the settings call for, built beside the live one and swapped in
when complete; the sweep that keeps it in step with the database; dropping and rebuilding it.

The index is derived data: everything here can be redone from the database at any time.

Lifecycle. :func:`ensure_index` creates the index version the settings describe. With no
live version, the alias ``<prefix>:products`` points at it at once. With another version
live, the new one is built beside it while search keeps answering from the old: over the
same documents when only the index type, metric or parameters changed (Redis indexes them
in the background), or over documents re-embedded by the workers when the models changed.
:func:`swap_alias_if_complete` then moves the alias (FT.ALIASUPDATE) and drops the old one.
"""

from __future__ import annotations

import logging

from celery import current_app
from kombu.exceptions import OperationalError

from catalog.models import Product
from search.indexing import queue_embedding, reconcile_index, waiting_tasks
from search.models import WAITING, IndexEntry
from search.selectors import searchable_products
from search.store import get_store
from search.store.connection import SearchUnavailable
from search.store.schema import configured_layout

logger = logging.getLogger(__name__)
#: The task that waits for a new version to be complete: named, not imported (the tasks import this module).
COMPLETE_REBUILD_TASK = "search.tasks.complete_rebuild"


def ensure_index() -> str:
    """Create the configured index version and make it live, now or when it is complete.

    Returns what happened, in words, for the command line.
    """
    layout = configured_layout()
    store = get_store()
    created = store.create(layout)
    live = store.live_name()
    if live is None:
        store.make_live(layout.index_name)
        return f"created {layout.index_name} and made it live"
    if live == layout.index_name:
        return f"{live} is live and up to date"
    if not created:
        return f"{layout.index_name} is being built beside {live}"
    if store.info(live)["prefix"] != layout.doc_prefix:
        # New models: every product is embedded afresh into the new version's documents.
        queue_embedding(Product.objects.values_list("id", flat=True))
    current_app.send_task(COMPLETE_REBUILD_TASK, (layout.index_name,))
    return f"building {layout.index_name} beside {live}; the alias moves when it is complete"


def swap_alias_if_complete(target: str) -> bool:
    """Make ``target`` live once it has indexed every product; drop the old version.

    True when there is nothing left to wait for (swapped, or ``target`` abandoned because
    the settings moved on); False to try again later.
    """
    store = get_store()
    live = store.live_name()
    if target != configured_layout().index_name:
        logger.warning("abandoning %s: the settings now call for another index", target)
        if target in store.versions() and target != live:
            # Its documents go with it, unless the live version indexes them too.
            prefix = store.info(target)["prefix"]
            store.drop(target, documents=live is None or prefix != store.info(live)["prefix"])
        return True
    info = store.info(target)
    if info["percent_indexed"] < 1.0 or IndexEntry.objects.filter(state__in=WAITING).exists():
        return False
    if live == target:
        return True
    old_prefix = store.info(live)["prefix"] if live is not None else None
    store.make_live(target)
    if live is not None:
        # The old version's documents go with it, unless the new version indexes them too.
        store.drop(live, documents=old_prefix != info["prefix"])
    logger.info("%s is live now", target)
    return True


def drop_index(documents: bool = False) -> list[str]:
    """Drop every version of the index (and, with ``documents``, the vectors and metadata)."""
    names = get_store().drop_all(documents)
    if documents:
        IndexEntry.objects.update(state=IndexEntry.State.PENDING, queued_at=None, reason="")
    return names


def sweep_index() -> int:
    """Queue what the index lacks and no waiting task will bring; how many products.

    Celery beat runs this every ``FINDER_SWEEP_SECONDS``. It is what makes a lost task or a
    lost write harmless: Redis killed before its append-only file caught up, a broker that was
    down when an import queued its work. Each queue is swept on its own: while a queue holds
    tasks, an import is under way and its own tasks will finish the work, so only what has
    waited longer than ``FINDER_PENDING_TOO_LONG`` is queued again (its task was lost, or its
    worker is gone), at most once in that time; an empty queue gets everything its kind lacks.
    """
    ensure_index()
    fill_suggestions()
    try:
        waiting = waiting_tasks()
    except OperationalError as exc:
        raise SearchUnavailable(f"the broker cannot be reached: {exc}") from exc
    return reconcile_index(busy={kind for kind, tasks in waiting.items() if tasks})


#: Products read from the database at a time when filling suggestions.
SUGGESTION_BATCH = 1000


def fill_suggestions() -> int:
    """Fill the live documents' suggestions from the database when they have none (an index
    built before suggestions were kept); how many products. Documents written since fill them
    as they go, so this runs once per generation."""
    store = get_store()
    live = store.live_name()
    if live is None:
        return 0
    prefix = store.info(live)["prefix"]
    if store.has_suggestions(prefix):
        return 0
    indexed = searchable_products().order_by("id")
    count = 0
    for start in range(0, indexed.count(), SUGGESTION_BATCH):
        batch = list(indexed[start:start + SUGGESTION_BATCH])
        store.write_suggestions(prefix, batch)
        count += len(batch)
    return count


def rebuild_from_database() -> int:
    """Embed every product again, into the configured version; how many were queued."""
    ensure_index()
    ids = list(Product.objects.values_list("id", flat=True))
    queue_embedding(ids)
    return len(ids)
