from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.evaluation import search_precision, similarity_precision
from search.kinds import By
from search.query.box import Mode
from search.store.connection import SearchUnavailable

DEFAULT_QUERIES = Path(settings.BASE_DIR) / "data" / "shopper-queries.json"
DEFAULT_HARD_QUERIES = Path(settings.BASE_DIR) / "data" / "shopper-queries-hard.json"


class Command(BaseCommand):
    help = ("Measure relevance on the catalog that is loaded: precision@k of similar by image and by "
            "text (a result counts when it shares the article type), and of the search box on plain "
            "shopper queries and on hard ones (misspelled, spaced, out of the catalog's vocabulary, "
            "paraphrased; a result counts when it has the attributes the query asks for), with each "
            "part of the search box alone.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES,
                            help='JSON list of {"q": ..., "expect": {field: [values]}}')
        parser.add_argument("--hard-queries", type=Path, default=DEFAULT_HARD_QUERIES,
                            help='the same, for hard queries, each with a "form" (misspelled, paraphrase...)')
        parser.add_argument("--samples", type=int, default=200, help="products sampled for similarity")
        parser.add_argument("--k", type=int, default=12)

    def handle(self, *args: object, queries: Path, hard_queries: Path, samples: int, k: int,
               **options: object) -> None:
        plain, hard = _read(queries), _read(hard_queries)
        forms = sorted({case.get("form", "") for case in hard} - {""})
        try:
            results = [similarity_precision(By.IMAGE, samples, k), similarity_precision(By.TEXT, samples, k)]
            results += [search_precision(plain, mode, True, k, "plain") for mode in Mode]
            results.append(search_precision(plain, Mode.FUSED, False, k, "plain"))
            results.append(search_precision(hard, Mode.FUSED, True, k, "hard"))
            results += [search_precision([case for case in hard if case.get("form") == form], Mode.FUSED, True, k,
                                         f"hard: {form}") for form in forms]
            results.append(search_precision(hard, Mode.FUSED, False, k, "hard"))
        except SearchUnavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"| measure | precision@{k} | cases | skipped (nothing relevant in the catalog) |")
        self.stdout.write("|---|---|---|---|")
        for result in results:
            self.stdout.write(f"| {result.name} | {result.precision:.3f} | {result.evaluated} | {result.skipped} |")


def _read(path: Path) -> list[dict[str, object]]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read the queries in {path}: {exc}") from exc
