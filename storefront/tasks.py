"""The storefront's housekeeping, on the beat worker's schedule."""

from __future__ import annotations

from celery import shared_task
from django.contrib.sessions.backends.cached_db import SessionStore

from storefront.authentication import remove_expired_tokens


@shared_task(ignore_result=True)
def remove_expired_api_tokens() -> int:
    return remove_expired_tokens()


@shared_task(ignore_result=True)
def remove_expired_sessions() -> None:
    """Delete the database's expired sessions (Django keeps them until asked: ``clearsessions``)."""
    SessionStore.clear_expired()
