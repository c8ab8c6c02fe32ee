from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from knox.models import AuthToken


class Command(BaseCommand):
    help = ("Create an API token for USERNAME and print it, for 'Authorization: Token <token>'. Only a digest "
            "is stored, so each call makes a new token; each expires after FINDER_TOKEN_DAYS days.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: object, username: str, **options: object) -> None:
        try:
            user = get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        instance, token = AuthToken.objects.create(user=user)
        self.stdout.write(f"expires {instance.expiry:%Y-%m-%d %H:%M} UTC; token {token}")
