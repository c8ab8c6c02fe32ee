"""Recording searches and clicks, and rolling them up.

Recording is one XADD to a Redis stream (nothing waits on the database): a search gets an id
that its results' links carry, and a click names it. Nothing in an event says who the shopper
is: ``visitor`` is a keyed hash of their session (or, for a visitor without one, of their
address and browser and the day), which tells visitors apart and no more. Recording is best
effort: with Redis down, or analytics off (``FINDER_ANALYTICS=0``), the search goes on
unrecorded.

:func:`roll_up`, run by the beat worker every ``FINDER_ANALYTICS_ROLLUP_SECONDS``, moves the
stream's entries into :class:`~analytics.models.Search` and :class:`~analytics.models.Click`
rows, and drops rows older than ``FINDER_ANALYTICS_DAYS``.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpRequest
from django.utils import timezone

from analytics.models import Click, Cursor, RuleHit, Search, Visit
from core.throttling import client_network
from search.filters import Filters, normal_form
from search.query.search_box import SearchPage
from search.store.connection import SearchUnavailable, get_client, search_errors

logger = logging.getLogger(__name__)

#: Entries the roll-up reads at a time, and the stream's length past which Redis trims it
#: (approximately) should the roll-up stop for long.
BATCH = 1000
STREAM_MAX = 1_000_000
SEARCH_ID = re.compile(r"[0-9a-f]{16}")
#: A result's position as a link carries it: plain digits, no deeper than any page goes.
POSITION = re.compile(r"[0-9]{1,4}")


def stream_key() -> str:
    return f"{settings.FINDER_INDEX_PREFIX}:analytics"


@contextmanager
def timed() -> Iterator[list[float]]:
    """How long the block took, in milliseconds (``[ms]`` once it ends)."""
    elapsed: list[float] = []
    started = time.perf_counter()
    yield elapsed
    elapsed.append((time.perf_counter() - started) * 1000)


def record_search(request: HttpRequest, query: str, filters: Filters, found: SearchPage, latency_ms: float) -> str:
    """Record a search (its first page) within the shopper's ``filters``; the id its results'
    links carry, or "" when it was not recorded."""
    search_id = secrets.token_hex(8)
    recorded = _add({"type": "search", "id": search_id, "visitor": _visitor(request), "query": query[:200],
                     "corrected": found.corrected[:200], "filters": json.dumps(filters.pairs(), default=str),
                     "understood": json.dumps(found.understood), "relaxed": int(found.relaxed),
                     "results": found.count, "matched": int(found.found_words),
                     "rules": ",".join(map(str, found.rules)),
                     "latency_ms": round(latency_ms, 3)})
    return search_id if recorded else ""


def record_click(search_id: str, product_id: str, position: str) -> None:
    """Record that a result of search ``search_id`` was opened, at ``position``; a link that
    was tampered with (no such id's shape, no position) is ignored."""
    if not SEARCH_ID.fullmatch(search_id) or not POSITION.fullmatch(position) or int(position) == 0:
        return
    _add({"type": "click", "id": search_id, "product": product_id, "position": int(position)})


def record_visit(search_id: str, product_id: str) -> None:
    """Record that a shopper followed a product's link to the shop, from search ``search_id``
    (or "" when the product page was reached another way; a tampered id counts as none)."""
    _add({"type": "visit", "id": search_id if SEARCH_ID.fullmatch(search_id) else "", "product": product_id})


def _add(fields: dict[str, Any]) -> bool:
    if not settings.FINDER_ANALYTICS:
        return False
    try:
        get_client().xadd(stream_key(), {**fields, "at": time.time()}, maxlen=STREAM_MAX, approximate=True)
    except (redis.RedisError, SearchUnavailable) as exc:
        logger.warning("a search event was not recorded: %s", exc)
        return False
    return True


def _visitor(request: HttpRequest) -> str:
    """A keyed hash that tells one visitor from another and says nothing of who they are."""
    session_key = getattr(request, "session", None) and request.session.session_key
    seed = f"session:{session_key}" if session_key else \
        f"guest:{client_network(request)}:{request.headers.get('User-Agent', '')}:{datetime.date.today()}"
    return hmac.new(settings.SECRET_KEY.encode(), f"analytics:{seed}".encode(), hashlib.sha256).hexdigest()[:16]


def roll_up() -> int:
    """Move what the stream holds into the database, a batch at a time; the entries moved.

    Each batch and the cursor move in one transaction: a roll-up that dies half-way leaves
    its batch for the next, and two at once cannot both write one (the cursor row is locked).
    Entries the database holds are then trimmed from the stream.
    """
    with search_errors():
        moved = _move(get_client())
    cutoff = timezone.now() - datetime.timedelta(days=settings.FINDER_ANALYTICS_DAYS)
    Search.objects.filter(at__lt=cutoff).delete()
    return moved


def _move(client: redis.Redis) -> int:
    moved = 0
    while True:
        with transaction.atomic():
            cursor, _ = Cursor.objects.select_for_update().get_or_create(name=stream_key(),
                                                                        defaults={"last_event": "0-0"})
            entries = client.xrange(stream_key(), min=f"({cursor.last_event}", count=BATCH)
            if not entries:
                break
            cursor.set_aside += _write_or_set_aside(entries)
            cursor.last_event = entries[-1][0].decode()
            cursor.save(update_fields=["last_event", "set_aside"])
        # Every entry up to the cursor is in the database: trim the stream to the one after it.
        milliseconds, sequence = cursor.last_event.split("-")
        client.xtrim(stream_key(), minid=f"{milliseconds}-{int(sequence) + 1}", approximate=False)
        moved += len(entries)
    return moved


def _write_or_set_aside(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> int:
    """Write ``entries``; when the batch fails, each on its own, setting aside (logging and
    skipping) any the database will not take, so that one bad entry never stops the roll-up and
    the stream behind it. How many were set aside."""
    try:
        with transaction.atomic():
            _write(entries)
        return 0
    except (DatabaseError, ValueError, KeyError, TypeError) as exc:
        logger.warning("a batch of search events failed (%s); writing them one at a time", exc)
    set_aside = 0
    for entry in entries:
        try:
            with transaction.atomic():
                _write([entry])
        except (DatabaseError, ValueError, KeyError, TypeError) as exc:
            logger.warning("search event %s set aside: %s", entry[0].decode(), exc)
            set_aside += 1
    return set_aside


def _write(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
    """The entries as rows. Instant search asks as the shopper types: a search that the same
    visitor's next one, within :data:`TYPING_SECONDS`, only carries on typing (or backspacing)
    and that had no click, was a step on the way, and is replaced by it. (The same query again
    is a search again: a shopper who reloads the page asked twice.)"""
    pending: dict[str, Search] = {}
    rules: dict[str, list[int]] = {}
    latest: dict[str, tuple[str, str, datetime.datetime]] = {}  # visitor: (search id, normalised, at)
    clicked: set[str] = set()
    superseded: list[str] = []
    clicks, visits = [], []
    for event, raw in entries:
        fields = {key.decode(): value.decode() for key, value in raw.items()}
        at = datetime.datetime.fromtimestamp(float(fields["at"]), tz=datetime.UTC)
        if fields["type"] in ("click", "visit"):
            (clicks if fields["type"] == "click" else visits).append((event.decode(), fields, at))
            clicked.add(fields["id"])
            continue
        search = Search(
            search_id=fields["id"], at=at, visitor=fields["visitor"], query=fields["query"],
            normalised=normal_form(fields["query"]), corrected=fields["corrected"],
            filters=json.loads(fields["filters"]), understood=json.loads(fields["understood"]),
            relaxed=fields["relaxed"] == "1", results=int(fields["results"]), matched=fields["matched"] == "1",
            latency_ms=float(fields["latency_ms"]))
        previous = latest.get(search.visitor) or _latest_saved(search.visitor)
        if previous and _typed_on(previous, search) and previous[0] not in clicked:
            superseded.append(previous[0])
            pending.pop(previous[0], None)
        pending[search.search_id] = search
        rules[search.search_id] = [int(rule) for rule in fields.get("rules", "").split(",") if rule]
        latest[search.visitor] = (search.search_id, search.normalised, search.at)
    Search.objects.filter(search_id__in=superseded).filter(clicks__isnull=True).delete()
    Search.objects.bulk_create(pending.values(), ignore_conflicts=True)
    steered = {search_id for search_id in pending if rules[search_id]}
    ids = dict(Search.objects.filter(search_id__in={f["id"] for _, f, _ in (*clicks, *visits)} | steered)
               .values_list("search_id", "id"))
    RuleHit.objects.bulk_create([RuleHit(search_id=ids[search_id], rule_id=rule)
                                 for search_id in steered if search_id in ids for rule in rules[search_id]])
    # A click whose search is gone (past retention) is dropped with it; a visit counts without it.
    Click.objects.bulk_create([Click(event=event, search_id=ids[f["id"]], product_id=f["product"],
                                     position=int(f["position"]), at=at)
                               for event, f, at in clicks if f["id"] in ids], ignore_conflicts=True)
    Visit.objects.bulk_create([Visit(event=event, search_id=ids.get(f["id"]), product_id=f["product"][:64], at=at)
                               for event, f, at in visits], ignore_conflicts=True)


#: Searches by one visitor this close together, one carrying on the other's words, are one
#: search being typed.
TYPING_SECONDS = 10


def _latest_saved(visitor: str) -> tuple[str, str, datetime.datetime] | None:
    return Search.objects.filter(visitor=visitor).values_list("search_id", "normalised", "at").first()


def _typed_on(previous: tuple[str, str, datetime.datetime], search: Search) -> bool:
    _, words, at = previous
    return (search.at - at).total_seconds() <= TYPING_SECONDS and words != search.normalised and (
        search.normalised.startswith(words) or words.startswith(search.normalised))
