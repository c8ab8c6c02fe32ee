from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import Product
from catalog.services import delete_products
from core.errors import Unavailable


class Command(BaseCommand):
    help = "Delete every product from the catalog and from the search index."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--yes", action="store_true", help="do it without asking")

    def handle(self, *args: object, yes: bool, **options: object) -> None:
        count = Product.objects.count()
        if not yes and input(f"Delete all {count} products? Type 'yes': ").strip() != "yes":
            raise CommandError("nothing deleted")
        try:
            deleted = delete_products(Product.objects.all())
        except Unavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"deleted {deleted} products")
