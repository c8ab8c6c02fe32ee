from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from catalog.models import Product
from catalog.services import import_catalog
from search.indexing import reconcile_index
from search.lifecycle import ensure_index
from search.store.versions import index_progress


class Command(BaseCommand):
    help = ("Make sure the search index exists (waiting while Redis rebuilds it), then queue what is not indexed; "
            "with no products, load the demo catalog. runfinder runs it on the Redis it started.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--demo", type=Path, required=True, help="catalog to load when empty")

    def handle(self, *args: object, demo: Path, **options: object) -> None:
        self.stdout.write(f"Search index: {ensure_index()}")
        while (progress := index_progress()) < 1.0:
            self.stdout.write(f"Redis is rebuilding the index: {progress:.0%}")
            time.sleep(1)
        if Product.objects.exists():
            queued = reconcile_index()
            self.stdout.write(f"{Product.objects.count()} products; {queued} queued for indexing")
        else:
            report = import_catalog(demo)
            self.stdout.write(f"Loading the demo catalog: {report.created} products queued for indexing")
