"""The errors a user may see, one small vocabulary for every app, and their HTTP status.

Each app raises its own subclass (search: ``SearchUnavailable``, ``NotSearchable``; the
storefront: ``BadPhoto``); the pages and the API map any of them to one answer the same way
(:mod:`storefront.errors`). The message is written for the person who reads it.
"""

from __future__ import annotations


class FinderError(Exception):
    """Something a user asked for cannot be done now; ``str()`` says why, in their words."""

    status = 500


class BadRequest(FinderError):
    """The request itself is at fault (an unreadable photo, a filter out of range)."""

    status = 400


class Conflict(FinderError):
    """The request is fine, but what it names is not in a state to answer it."""

    status = 409


class Unavailable(FinderError):
    """A service behind the request is down or busy for now; trying again later may work."""

    status = 503


class TooLarge(FinderError):
    """The request carries more than its endpoint takes."""

    status = 413
