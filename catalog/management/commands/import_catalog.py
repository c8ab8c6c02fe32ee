from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog import selectors
from catalog.importer import CatalogError
from catalog.services import ImportReport, import_catalog
from core.errors import Unavailable


class Command(BaseCommand):
    help = ("Import a catalog (a folder or .zip holding styles.csv and images/<id>.jpg, or a Google Merchant "
            "Center feed, tab-separated or XML): upsert its products by id and have them indexed.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--sync", action="store_true",
                            help="the file is the whole catalog: delete the products it does not name")
        parser.add_argument("--wait", action="store_true",
                            help="show progress until every imported product is searchable or failed")
        parser.add_argument("--timeout", type=float, default=3600.0,
                            help="with --wait, give up after this many seconds (default 3600)")

    def handle(self, *args: object, path: Path, wait: bool, timeout: float, sync: bool, **options: object) -> None:
        try:
            report = import_catalog(path, sync=sync)
        except (CatalogError, Unavailable, OSError) as exc:
            raise CommandError(str(exc)) from exc
        if wait:
            self._wait(report, timeout)
        self._summary(report)

    def _wait(self, report: ImportReport, timeout: float) -> None:
        ids = report.product_ids
        deadline = time.monotonic() + timeout
        with tqdm(total=len(ids), desc="indexing", unit="product", file=self.stderr._out) as bar:
            while True:
                counts = selectors.status_counts(ids)
                bar.n = counts["products"] - counts["pending"]
                bar.set_postfix(failed=counts["failed"])
                bar.refresh()
                if not counts["pending"]:
                    return
                if time.monotonic() > deadline:
                    raise CommandError(f"{counts['pending']} products still pending after {timeout:.0f} s: "
                                       "are the Celery workers running (`make run` starts them)?")
                time.sleep(0.5)

    def _summary(self, report: ImportReport) -> None:
        counts = selectors.status_counts(report.product_ids)
        write = self.stdout.write
        write(f"created {report.created}, updated {report.updated}, unchanged {report.unchanged}"
              + (f", removed {report.removed}" if report.removed else ""))
        write(f"searchable {counts['indexed']}, pending {counts['pending']}, failed {counts['failed']}")
        write(f"rejected rows: {len(report.rejected)}")
        for item in report.rejected:
            write(f"  line {item.line}" + (f" (id {item.product_id})" if item.product_id else "") + f": {item.reason}")
        write(f"products without a usable image (searchable by text only): {len(report.image_problems)}")
        for item in report.image_problems:
            write(f"  line {item.line} (id {item.product_id}): {item.reason}")
        fetched = selectors.image_problems(report.product_ids)
        if fetched:
            write(f"image links that could not be used: {len(fetched)}")
            for product_id, problem in fetched:
                write(f"  id {product_id}: {problem}")
        write(f"images converted: {len(report.images_converted)}")
        for item in report.images_converted:
            write(f"  line {item.line} (id {item.product_id}): {item.reason}")
