from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.lifecycle import drop_index, ensure_index, rebuild_from_database
from search.store import get_store
from search.store.connection import SearchUnavailable
from search.store.schema import alias
from search.store.versions import index_progress


class Command(BaseCommand):
    help = ("Manage the search index. create: build the version the settings describe (the alias moves "
            "to it when complete); drop: drop every version; info: what is live and what is building; "
            "rebuild: embed every product again from the database.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create", "drop", "info", "rebuild"])
        parser.add_argument("--documents", action="store_true",
                            help="with drop: delete the vectors and metadata too (products become pending)")

    def handle(self, *args: object, action: str, documents: bool, **options: object) -> None:
        try:
            if action == "create":
                self.stdout.write(ensure_index())
                # Redis takes in existing documents in the background; until then a search
                # would see part of the catalog.
                while (progress := index_progress()) < 1.0:
                    self.stdout.write(f"indexing the documents already in Redis: {progress:.0%}")
                    time.sleep(0.5)
            elif action == "drop":
                names = drop_index(documents=documents)
                self.stdout.write(f"dropped {', '.join(names) or 'nothing'}"
                                  + ("; documents deleted" if documents else ""))
            elif action == "rebuild":
                count = rebuild_from_database()
                self.stdout.write(f"{count} products queued for embedding; the workers rebuild the index")
            else:
                self._info()
        except SearchUnavailable as exc:
            raise CommandError(str(exc)) from exc

    def _info(self) -> None:
        store = get_store()
        live = store.live_name()
        versions = store.versions()
        if not versions:
            self.stdout.write("no index: run `manage.py search_index create`")
        for name in versions:
            info = store.info(name, detailed=True)
            role = f"live (alias {alias()})" if name == live else "building"
            self.stdout.write(f"{name}: {role}")
            self.stdout.write(f"  documents {info['num_docs']} under {info['prefix']}*, "
                              f"{info['percent_indexed']:.0%} indexed, "
                              f"{info['hash_indexing_failures']} indexing failures, "
                              f"vector memory {info['vector_index_sz_mb']:.1f} MB")
            for field, vector in info["vectors"].items():
                self.stdout.write(f"  {field}: {vector['dim']}-d {vector['spec']}")
