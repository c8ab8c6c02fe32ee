from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings

from search.embedding.image import IMAGE_DIMS, image_model
from search.evaluation import (
    Precision,
    image_model_report,
    photo_search_precision,
    photo_words_precision,
    recommendation_precision,
    search_precision,
    similarity_precision,
)
from search.kinds import By
from search.query.search_box import Mode
from search.store.connection import SearchUnavailable

DEFAULT_QUERIES = Path(settings.BASE_DIR) / "data" / "shopper-queries.json"
DEFAULT_HARD_QUERIES = Path(settings.BASE_DIR) / "data" / "shopper-queries-hard.json"
DEFAULT_NEED_QUERIES = Path(settings.BASE_DIR) / "data" / "shopper-queries-needs.json"


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
        parser.add_argument("--need-queries", type=Path, default=DEFAULT_NEED_QUERIES,
                            help='the same, for shoppers\' own words, each with a "form" (shade, occasion, need, '
                                 'category, several)')
        parser.add_argument("--image-models", nargs="*", metavar="MODEL",
                            help="also embed the catalog's photos with each image model (all the packaged ones "
                                 "and ResNet-50 if its weights are here, when none is named) and compare them")
        parser.add_argument("--samples", type=int, default=200, help="products sampled for similarity")
        parser.add_argument("--k", type=int, default=12)

    def handle(self, *args: object, queries: Path, hard_queries: Path, need_queries: Path,
               image_models: list[str] | None, samples: int, k: int, **options: object) -> None:
        plain, hard, needs = _read(queries), _read(hard_queries), _read(need_queries)
        try:
            with override_settings(FINDER_ANSWER_CACHE=0):  # this code's answers, not ones kept before it
                results = _measure(plain, hard, needs, samples, k)
        except SearchUnavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"| measure | precision@{k} | cases | skipped (nothing relevant in the catalog) |")
        self.stdout.write("|---|---|---|---|")
        for result in results:
            self.stdout.write(f"| {result.name} | {result.precision:.3f} | {result.evaluated} | {result.skipped} |")
        if image_models is not None:
            self.stdout.write(f"\n| image model | photos | photos/s | precision@{k} | within gender and category |")
            self.stdout.write("|---|---|---|---|---|")
            for model in _image_models(image_models):
                report = image_model_report(model, samples, k)
                self.stdout.write(f"| {report.model} | {report.images} | {report.images_per_s} | "
                                  f"{report.precision:.3f} | {report.precision_within:.3f} |")


def _measure(plain: list[dict[str, object]], hard: list[dict[str, object]], needs: list[dict[str, object]],
             samples: int, k: int) -> list[Precision]:
    """Every measure, in the order the report lists them."""
    results = [similarity_precision(by, samples, k, within=within) for by in (By.IMAGE, By.TEXT)
               for within in (False, True)]
    results.append(photo_search_precision(samples, k))
    results += [search_precision(plain, mode, True, k, "plain") for mode in Mode]
    results.append(search_precision(plain, Mode.FUSED, False, k, "plain"))
    for label, cases in (("hard", hard), ("needs", needs)):
        results.append(search_precision(cases, Mode.FUSED, True, k, label))
        results += [search_precision([case for case in cases if case.get("form") == form], Mode.FUSED, True, k,
                                     f"{label}: {form}") for form in _forms(cases)]
        results.append(search_precision(cases, Mode.FUSED, False, k, label))
    results += recommendation_precision(min(samples, 100), k)
    results.append(photo_words_precision(k=k))
    return results


def _forms(cases: list[dict[str, object]]) -> list[str]:
    """The forms of a set's queries (misspelled, shade...), in the order they first come."""
    return [form for form in dict.fromkeys(str(case.get("form", "")) for case in cases) if form]


def _read(path: Path) -> list[dict[str, object]]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read the queries in {path}: {exc}") from exc


def _image_models(named: list[str]) -> list[str]:
    """The image models to compare: those named, or every packaged one (and ResNet-50 when its
    weights are on this machine)."""
    if named:
        unknown = set(named) - set(IMAGE_DIMS)
        if unknown:
            raise CommandError(f"unknown image models: {', '.join(sorted(unknown))} (known: {', '.join(IMAGE_DIMS)})")
        return named
    return [name for name in IMAGE_DIMS if name != "resnet50" or image_model("auto").name == "resnet50"]
