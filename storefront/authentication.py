"""The API's tokens (django-rest-knox): only a digest is stored, and each expires.

A module of its own, which imports nothing of the API's: DRF imports it while loading its views.
"""

from __future__ import annotations

from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.models import AuthToken


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's API tokens, checked without reading every other token of the same account.

    knox deletes an account's expired tokens on each request it authenticates, one query more
    for every API call (a sixth of one); here only the token presented is checked, and deleted
    once expired, and the rest are swept hourly (:func:`remove_expired_tokens`)."""

    def _cleanup_token(self, auth_token: AuthToken) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


def remove_expired_tokens() -> int:
    """Delete every expired API token; how many there were."""
    return AuthToken.objects.filter(expiry__lt=timezone.now()).delete()[0]
