"""The API's tokens (django-rest-knox): only a digest is stored, and each expires.

A module of its own, which imports nothing of the API's: DRF imports it while loading its views.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.models import AuthToken


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's API tokens, checked without reading every other token of the same account.

    knox deletes an account's expired tokens on each request it authenticates, one query more
    for every API call; here only the token presented is checked, and deleted
    once expired, and the rest are swept hourly (:func:`remove_expired_tokens`)."""

    def _cleanup_token(self, auth_token: AuthToken) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class RevokeTokensOnPasswordChange:
    """A new password revokes the account's API tokens, as it ends its other sessions.

    Listed among ``AUTH_PASSWORD_VALIDATORS``: Django tells each of them when a password has
    changed (``password_changed``), however it changed (the account page, a reset, the admin).
    It finds nothing wrong with any password."""

    def validate(self, password: str, user: Any = None) -> None:
        return None

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is not None and user.pk is not None:
            AuthToken.objects.filter(user=user).delete()

    def get_help_text(self) -> str:
        return ""


def remove_expired_tokens() -> int:
    """Delete every expired API token; how many there were."""
    return AuthToken.objects.filter(expiry__lt=timezone.now()).delete()[0]
