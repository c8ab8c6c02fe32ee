"""One mapping from what went wrong to what the shopper sees, for the pages and the API alike.

Every error a user may see is a :class:`core.errors.FinderError` (its status says which
HTTP answer it is) or a filter that does not validate (400). Pages show the message with that
status; the API answers ``{"detail": message}`` with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import FinderError


def answer(exc: Exception) -> tuple[str, int] | None:
    """The message and status for ``exc``, or None when it is not one users are meant to see."""
    if isinstance(exc, FinderError):
        return str(exc), exc.status
    if isinstance(exc, serializers.ValidationError):
        return filter_problem(exc), status.HTTP_400_BAD_REQUEST
    return None


class Problem:
    """What went wrong for a page, as a message and a status (200 while nothing has)."""

    def __init__(self) -> None:
        self.message, self.status = "", 200

    @contextmanager
    def caught(self) -> Iterator[None]:
        try:
            yield
        except (FinderError, serializers.ValidationError) as exc:
            self.message, self.status = answer(exc)  # type: ignore[misc]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The API's: DRF's own (validation errors name each parameter), and every FinderError as
    ``{"detail": message}`` with its status, never a stack trace."""
    if isinstance(exc, FinderError):
        return Response({"detail": str(exc)}, status=exc.status)
    return drf_exception_handler(exc, context)


def filter_problem(error: serializers.ValidationError) -> str:
    """A validation error as one line a shopper can read."""
    detail = error.detail
    if isinstance(detail, dict):
        return "Invalid filter: " + "; ".join(
            f"{'filters' if name == 'non_field_errors' else name}: {_flatten(messages)}"
            for name, messages in detail.items())
    return f"Invalid filter: {_flatten(detail)}"


def _flatten(messages: Any) -> str:
    if isinstance(messages, dict):
        return " ".join(_flatten(m) for m in messages.values())
    if isinstance(messages, list):
        return " ".join(_flatten(m) for m in messages)
    return str(messages)
